import CHDF5
import Foundation
import GlassData
import XCTest

/// The data-parallel machinery across real ranks: `launcher selftest --data-parallel` and
/// `--dataset-statistics` under mpirun with 1, 2 and 3 ranks, stop signals, and a corrupt snapshot
/// met by one rank only.
final class DataParallelTests: XCTestCase {
    // MARK: Reproducibility

    /// The gradient sums, loss sums and final parameters of a mock training run are bitwise the
    /// same on 1, 2 and 3 ranks (with a global batch of 2, one of 3 ranks has no snapshot in each
    /// step), every sum equals the exact serial sum rounded to Float (checked on rank 0), and the
    /// epoch order is the one the documented algorithm gives (recomputed here independently).
    func testExactSumIsBitwiseIdenticalOnOneTwoAndThreeRanks() throws {
        for (snapshots, batch, steps) in [(37, 8, 12), (10, 2, 11)] {
            var outputs: [[String]] = []
            for ranks in 1 ... 3 {
                let result = try runSelfTest(ranks: ranks, [
                    "--data-parallel", "--dp-snapshots", "\(snapshots)", "--dp-global-batch", "\(batch)",
                    "--dp-steps", "\(steps)", "--dp-seed", "2026"])
                XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
                let lines = reproducibleLines(result.standardOutput)
                XCTAssertEqual(lines.filter { $0.hasPrefix("step ") }.count, steps, result.standardOutput)
                XCTAssertTrue(lines.filter { $0.hasPrefix("step ") }.allSatisfy { $0.hasSuffix("serial-check exact") })
                XCTAssertEqual(lines.filter { $0.hasPrefix("data-parallel: parameters-hash ") }.count, 1)
                XCTAssertTrue(result.standardOutput.contains("data-parallel: replica-check parameters same, rank numbers "
                                                             + (ranks == 1 ? "same" : "differ")), result.standardOutput)
                outputs.append(lines)

                let firstOrder = lines.first { $0.hasPrefix("epoch 0 order: ") }
                XCTAssertEqual(firstOrder, "epoch 0 order: "
                    + ReferenceShuffle.order(Array(0 ..< snapshots), seed: 2026, epoch: 0).map(String.init).joined(separator: ","))
            }
            XCTAssertEqual(outputs[1], outputs[0], "2 ranks differ from 1 (\(snapshots) snapshots, batch \(batch))")
            XCTAssertEqual(outputs[2], outputs[0], "3 ranks differ from 1 (\(snapshots) snapshots, batch \(batch))")
        }
    }

    /// The fast (Float) reduction stays within its error bound of the serial sum, but its bits
    /// depend on the rank count: the hash comparison above would catch a non-reproducible sum.
    func testFastSumIsWithinBoundButDependsOnTheRankCount() throws {
        var hashes: [String] = []
        for ranks in [1, 3] {
            let result = try runSelfTest(ranks: ranks, ["--data-parallel", "--dp-fast"])
            XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
            let steps = result.standardOutput.split(separator: "\n").filter { $0.hasPrefix("step ") }
            XCTAssertEqual(steps.count, 12)
            XCTAssertTrue(steps.allSatisfy { $0.contains("serial-check within-bound") }, result.standardOutput)
            hashes.append(reproducibleLines(result.standardOutput).last { $0.contains("parameters-hash") } ?? "missing")
        }
        XCTAssertNotEqual(hashes[0], hashes[1])
    }

    /// A NaN in one snapshot's gradient (here on rank 2 of 3, with a global batch of 2 so that
    /// rank 0 has nothing in the step) stops every rank in that step: non-zero within 10 s, the
    /// message names the snapshot, no rank is left behind, no final parameters.
    func testNonFiniteGradientOnOneRankStopsEveryRank() throws {
        // Epoch 0 of 10 snapshots, seed 7: order 1,6,8,2,... so snapshot 6 is in step 0 at position 1.
        let launcher = try LauncherProcess.launcherPath()
        let result = try LauncherProcess.run(
            ["mpirun", "-np", "3", "--oversubscribe", launcher, "selftest", "--data-parallel", "--dp-snapshots", "10",
             "--dp-global-batch", "2", "--dp-seed", "7", "--dp-nan-snapshot", "6"], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.standardError)")
        XCTAssertLessThan(result.seconds, 10)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(ReferenceShuffle.order(Array(0 ..< 10), seed: 7, epoch: 0).prefix(2), [1, 6])
        // Snapshot 6 is on rank 2 (slices 0..<0, 0..<1, 1..<2); whichever rank aborts first says so.
        XCTAssertTrue(result.standardError.contains("error: non-finite gradient (NaN or infinity) for snapshot 6 on rank 2"),
                      result.standardError)
        XCTAssertFalse(result.standardOutput.contains("step 0 "), result.standardOutput)
        XCTAssertFalse(result.standardOutput.contains("parameters-hash"))
        let pids = rankPIDs(result.standardOutput)
        XCTAssertEqual(pids.count, 3, result.standardOutput)
        for pid in pids { XCTAssertTrue(hasEnded(pid), "rank process \(pid) still runs after mpirun ended") }
    }

    // MARK: Stop signals

    /// SIGUSR1 to mpirun (what train.sbatch does) reaches every rank; they agree on the step,
    /// stop there together and every rank exits 75.
    func testSIGUSR1ToMPIRunStopsEveryRankAtTheSameStepWithStatus75() throws {
        try checkStop(ranks: 2, signal: SIGUSR1, target: .mpirun)
    }

    /// SIGTERM to one rank only (the others never see it) still stops all three at one step.
    func testSIGTERMToOneRankStopsAllRanksTogether() throws {
        try checkStop(ranks: 3, signal: SIGTERM, target: .rank(2))
    }

    private enum SignalTarget { case mpirun, rank(Int) }

    private func checkStop(ranks: Int, signal: Int32, target: SignalTarget) throws {
        let job = try BackgroundJob(["mpirun", "-np", "\(ranks)", "--oversubscribe", try LauncherProcess.launcherPath(),
                                     "selftest", "--data-parallel", "--dp-steps", "100000000"])
        defer { job.kill() }
        XCTAssertTrue(job.waitForOutput("data-parallel: running", timeout: 60), job.output)
        let pids = rankPIDs(job.output)
        XCTAssertEqual(pids.count, ranks, job.output)
        switch target {
        case .mpirun: Glibc.kill(job.pid, signal)
        case .rank(let r): Glibc.kill(pids[r], signal)
        }
        let signalled = Date()
        let status = job.wait(timeout: 30)
        let seconds = Date().timeIntervalSince(signalled)
        XCTAssertLessThan(seconds, 10, "stopping took \(seconds) s")
        XCTAssertEqual(status, 75, job.output + job.errors)
        let name = signal == SIGUSR1 ? "SIGUSR1" : "SIGTERM"
        let stopLine = try XCTUnwrap(job.output.split(separator: "\n").first { $0.contains("\(name) agreed before step ") },
                                     job.output)
        let perRank = stopLine.components(separatedBy: "stop step per rank: ").last!.split(separator: ",")
        XCTAssertEqual(perRank.count, ranks, String(stopLine))
        XCTAssertEqual(Set(perRank).count, 1, "ranks stopped at different steps: \(stopLine)")
        XCTAssertTrue(job.errors.contains("rank 0: stopped by \(name)"), job.errors)
        XCTAssertFalse(job.errors.contains("error:"), job.errors)
        for pid in pids { XCTAssertTrue(hasEnded(pid), "rank process \(pid) still runs") }
    }

    // MARK: Dataset statistics and a corrupt snapshot

    /// Target statistics combined across 1, 2 and 3 ranks (each reading only its share) are
    /// bitwise identical, and equal to this test's serial computation from the data it wrote.
    func testDatasetStatisticsAreIdenticalAtAnyRankCountAndMatchSerial() throws {
        let (path, snapshots) = try writeSnapshotFile(name: "statistics")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var outputs: [[String]] = []
        for ranks in 1 ... 3 {
            let result = try runSelfTest(ranks: ranks, ["--dataset-statistics", path])
            XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
            let lines = result.standardOutput.split(separator: "\n").map(String.init)
                .filter { $0.hasPrefix("statistics ") || $0.hasPrefix("statistics: sums-hash") }
            XCTAssertEqual(lines.count, 2 * Self.times.count + 1, result.standardOutput)
            outputs.append(lines)
        }
        XCTAssertEqual(outputs[1], outputs[0])
        XCTAssertEqual(outputs[2], outputs[0])

        for (s, name) in ["A", "B"].enumerated() {
            for (t, time) in Self.times.enumerated() {
                let values = snapshots.flatMap { snapshot in
                    (0 ..< snapshot.particleCount).filter { snapshot.species[$0] == s }
                        .map { Double(snapshot.propensity![$0 * Self.times.count + t]) }
                }
                let mean = values.reduce(0, +) / Double(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                let line = try XCTUnwrap(outputs[0].first { $0.hasPrefix("statistics \(name) t=\(time) ") })
                let cells = line.split(separator: " ").map(String.init)
                XCTAssertEqual(Int(cells[cells.firstIndex(of: "count")! + 1]), values.count, line)
                XCTAssertEqual(Double(cells[cells.firstIndex(of: "mean")! + 1])!, mean, accuracy: 1e-12, line)
                XCTAssertEqual(Double(cells[cells.firstIndex(of: "std")! + 1])!, std, accuracy: 1e-9, line)
            }
        }
    }

    /// A snapshot with a NaN coordinate among rank 1's share only: rank 1 fails reading it and the
    /// whole job ends within 10 s, non-zero, naming rank 1, the file and the snapshot; rank 0, busy
    /// in the reduction, is killed with it.
    func testCorruptSnapshotReadByRankOneOnlyEndsTheJobQuickly() throws {
        let (path, snapshots) = try writeSnapshotFile(name: "corrupt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 9 snapshots over 2 ranks: rank 0 reads 0..<4, rank 1 reads 4..<9. Damage snapshot 7.
        let offset = snapshots[0 ..< 7].reduce(0) { $0 + $1.particleCount }
        do {
            let file = try HDF5File(path: path, mode: .readWrite)
            try file.root.dataset("positions").writeRows([1.0, .nan, 2.0], at: offset + 3)
            try file.flush()
        }
        let launcher = try LauncherProcess.launcherPath()
        let result = try LauncherProcess.run(["mpirun", "-np", "2", launcher, "selftest", "--dataset-statistics", path], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.standardError)")
        XCTAssertLessThan(result.seconds, 10, "the job took \(result.seconds) s to stop")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains(
            "rank 1: error: \(path): dataset 'positions': non-finite value nan at particle \(offset + 3) (snapshot 7, particle 3 of it)"),
            result.standardError)
        XCTAssertFalse(result.standardError.contains("rank 0: error"), result.standardError)
        XCTAssertFalse(result.standardOutput.contains("sums-hash"))
        let pids = rankPIDs(result.standardOutput)
        XCTAssertEqual(pids.count, 2, result.standardOutput)
        for pid in pids { XCTAssertTrue(hasEnded(pid), "rank process \(pid) still runs after mpirun ended") }

        // The same file on one rank: the same error, from rank 0 (it reads every snapshot).
        let alone = try LauncherProcess.run([launcher, "selftest", "--dataset-statistics", path], timeout: 60)
        XCTAssertNotEqual(alone.status, 0)
        XCTAssertTrue(alone.standardError.contains("rank 0: error: \(path): dataset 'positions': non-finite value nan"),
                      alone.standardError)
    }

    /// Damaged bytes in the compressed HDF5 chunk that only rank 1 reads: rank 1's read fails
    /// (the chunk does not inflate) and the job ends within 10 s naming rank 1 and the file.
    func testDamagedChunkReadByRankOneOnlyEndsTheJobQuickly() throws {
        // 8 snapshots of 1024 particles: rows 0..<4096 (snapshots 0–3, rank 0 of 2) fill chunk 0
        // of 'positions' (4096 rows per chunk), rows 4096..<8192 (snapshots 4–7, rank 1) chunk 1.
        let (path, _) = try writeSnapshotFile(name: "damaged", snapshots: 8, particles: { _ in 1024 })
        defer { try? FileManager.default.removeItem(atPath: path) }
        var address: haddr_t = 0
        var size: hsize_t = 0
        do {
            let file = try HDF5File(path: path)
            let positions = try file.root.dataset("positions")
            var offset = [hsize_t](repeating: 0, count: 2)
            var filterMask: UInt32 = 0
            let space = H5Dget_space(positions.objectID)
            defer { H5Sclose(space) }
            XCTAssertGreaterThanOrEqual(
                H5Dget_chunk_info(positions.objectID, space, 1, &offset, &filterMask, &address, &size), 0)
            XCTAssertEqual(offset, [4096, 0])
        }
        XCTAssertGreaterThan(size, 64)
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(address) + UInt64(size) / 2)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 32))
        try handle.close()

        let launcher = try LauncherProcess.launcherPath()
        let result = try LauncherProcess.run(["mpirun", "-np", "2", launcher, "selftest", "--dataset-statistics", path], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.standardError)")
        XCTAssertLessThan(result.seconds, 10, "the job took \(result.seconds) s to stop")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("rank 1: error: \(path): dataset 'positions': cannot be read"),
                      result.standardError)
        XCTAssertFalse(result.standardError.contains("rank 0: error"), result.standardError)
        let pids = rankPIDs(result.standardOutput)
        XCTAssertEqual(pids.count, 2, result.standardOutput)
        for pid in pids { XCTAssertTrue(hasEnded(pid), "rank process \(pid) still runs after mpirun ended") }
    }

    // MARK: Helpers

    static let times: [Double] = [0.5, 4, 12]

    /// A small Kob–Andersen-like file: 9 snapshots of 30–38 particles, species A/B, propensity at
    /// 3 times, written with GlassData's writer.
    private func writeSnapshotFile(name: String, snapshots count: Int = 9,
                                   particles: (Int) -> Int = { 30 + $0 }) throws -> (String, [Snapshot]) {
        var state: UInt64 = 12345
        func uniform() -> Double {  // a little LCG: enough for test data
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) * 0x1p-53
        }
        let snapshots = (0 ..< count).map { k -> Snapshot in
            let n = particles(k)
            return Snapshot(
                box: [5, 5, 5],
                positions: (0 ..< 3 * n).map { _ in 5 * uniform() },
                species: (0 ..< n).map { _ in uniform() < 0.8 ? 0 : 1 },
                propensity: (0 ..< n * Self.times.count).map { _ in Float(0.3 + 2 * uniform()) })
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("equiglass-dp-\(name)-\(UUID().uuidString).h5").path
        try SnapshotFileWriter.write(
            path: path, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, propensityRuns: 4),
            times: Self.times, snapshots: snapshots)
        return (path, snapshots)
    }

    private func runSelfTest(ranks: Int, _ options: [String]) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run(
            ["mpirun", "-np", "\(ranks)", "--oversubscribe", try LauncherProcess.launcherPath(), "selftest"] + options,
            timeout: 120)
        XCTAssertFalse(result.timedOut, "selftest hung: \(result.standardError)")
        return result
    }

    /// The output lines that must not depend on the rank count (not the list of ranks, nor the
    /// header, which name them).
    private func reproducibleLines(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix("step ") || $0.hasPrefix("epoch ") || $0.hasPrefix("data-parallel: parameters-hash")
        }
    }

    /// The pids of the ranks, from the selftest's list "rank r of n on host (pid N)".
    private func rankPIDs(_ output: String) -> [Int32] {
        output.split(separator: "\n").compactMap { line -> Int32? in
            guard line.hasPrefix("  rank "),
                  let range = line.range(of: #"\(pid [0-9]+\)"#, options: .regularExpression) else { return nil }
            return Int32(line[range].dropFirst(5).dropLast())
        }
    }

    /// Whether process `pid` is gone (or a zombie waiting to be reaped), polling up to 2 s.
    private func hasEnded(_ pid: Int32) -> Bool {
        for _ in 0 ..< 40 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return true }
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
            if state == "Z" || state == "X" { return true }
            usleep(50_000)
        }
        return false
    }
}

/// The documented epoch order (docs/distributed.md), written again from the description:
/// SplitMix64 seeded with mix(seed &+ mix(epoch)), Fisher–Yates from the end, rejection sampling.
enum ReferenceShuffle {
    static func mix(_ word: UInt64) -> UInt64 {
        var z = word
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func order(_ snapshots: [Int], seed: UInt64, epoch: Int) -> [Int] {
        var state = mix(seed &+ mix(UInt64(epoch)))
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return mix(state)
        }
        var order = snapshots
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let bound = UInt64(i + 1)
            var draw = next()
            while draw < (0 &- bound) % bound { draw = next() }
            order.swapAt(i, Int(draw % bound))
        }
        return order
    }
}

/// A child process (mpirun) running in the background, its output in files, so a test can watch
/// it, signal it and wait for it with a time limit.
final class BackgroundJob {
    private let process = Process()
    private let directory: URL
    private let outURL: URL
    private let errURL: URL

    init(_ arguments: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("equiglass-job-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outURL = directory.appendingPathComponent("stdout")
        errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        var environment = LauncherProcess.originalEnvironment()
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    /// `env` execs mpirun in place, so this is mpirun's pid.
    var pid: Int32 { process.processIdentifier }
    var output: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    func waitForOutput(_ text: String, timeout: Double) -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            usleep(50_000)
        }
        return false
    }

    /// The exit status, or nil if the job did not end within `timeout` seconds.
    func wait(timeout: Double) -> Int32? {
        let start = Date()
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout { return nil }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    /// Ends the job if still running (SIGTERM, then SIGKILL), and removes its files.
    func kill() {
        if process.isRunning {
            process.terminate()
            if wait(timeout: 5) == nil { Glibc.kill(pid, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
