import Foundation
import XCTest

/// The launcher run as users run it: alone, and under `mpirun` with 2 and 3 ranks.
///
/// The selftest compares every collective with a serial computation on every rank; these tests
/// check its exit status and, independently, recompute here the values it reports.
final class LauncherTests: XCTestCase {
    func testVersionWithoutMPIRunIsRankZeroOfOne() throws {
        let result = try LauncherProcess.run([try LauncherProcess.launcherPath(), "version"])
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("rank 0 of 1 on ") }, result.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("MPI library: ") && $0.count > 13 }, result.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("EquiGlass launcher ") }, result.standardOutput)
    }

    func testSelfTestOnTwoRanks() throws {
        try checkSelfTest(ranks: 2, mpirunOptions: [])
    }

    func testSelfTestOnThreeRanks() throws {
        try checkSelfTest(ranks: 3, mpirunOptions: ["--oversubscribe"])
    }

    func testOneFailingRankStopsTheWholeJobQuickly() throws {
        let launcher = try LauncherProcess.launcherPath()
        let result = try LauncherProcess.run(
            ["mpirun", "-np", "2", launcher, "selftest", "--fail-on-rank", "1"], timeout: 60)
        XCTAssertFalse(result.timedOut, "the job hung: \(result.standardError)")
        XCTAssertLessThan(result.seconds, 10, "the job took \(result.seconds) s to stop")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("rank 1: error: injected failure on rank 1 (--fail-on-rank 1)"),
                      result.standardError)

        // Both ranks started (rank 0 listed them) and neither process is left running.
        let pids = result.standardOutput.split(separator: "\n").compactMap { line -> Int32? in
            guard let range = line.range(of: #"\(pid [0-9]+\)"#, options: .regularExpression) else { return nil }
            return Int32(line[range].dropFirst(5).dropLast())
        }
        XCTAssertEqual(pids.count, 2, result.standardOutput)
        for pid in pids {
            XCTAssertFalse(isRunning(pid), "rank process \(pid) still runs after mpirun ended")
        }
        // The failure came after the barrier, before any check ran.
        XCTAssertFalse(result.standardOutput.contains("checks passed"))
    }

    func testSelfTestRejectsAFailingRankOutsideTheWorld() throws {
        let result = try LauncherProcess.run(
            [try LauncherProcess.launcherPath(), "selftest", "--fail-on-rank", "4"], timeout: 30)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("rank 0: error: --fail-on-rank 4, but the world has only 1 ranks"),
                      result.standardError)
    }

    // MARK: -

    /// Whether process `pid` still runs. mpirun may exit before reaping its ranks, which then
    /// linger as zombies (state Z: exited, not yet reaped by init) for a moment.
    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
        return state != "Z" && state != "X"
    }

    private func checkSelfTest(ranks: Int, mpirunOptions: [String]) throws {
        let launcher = try LauncherProcess.launcherPath()
        let result = try LauncherProcess.run(
            ["mpirun", "-np", "\(ranks)"] + mpirunOptions + [launcher, "selftest"], timeout: 60)
        XCTAssertFalse(result.timedOut, "selftest hung: \(result.standardError)")
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("selftest: \(ranks) ranks\n"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("selftest: all 21 checks passed on \(ranks) ranks"),
                      result.standardOutput)

        // Table rows: check, elements, observed, expected, bad-ranks, result.
        var rows: [String: [String]] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if cells.count == 6, cells[0].contains(".") { rows[cells[0]] = cells }
        }
        XCTAssertEqual(rows.count, 21, result.standardOutput)
        for (check, cells) in rows {
            XCTAssertEqual(cells[4], "0", check)
            XCTAssertEqual(cells[5], "ok", check)
            // The barrier row reports a time against a bound; every other row two equal values.
            if check != "barrier.waits-for-rank-0" { XCTAssertEqual(cells[2], cells[3], check) }
        }
        let waited = rows["barrier.waits-for-rank-0"]?[2] ?? "missing"
        XCTAssertGreaterThanOrEqual(Double(waited.dropLast()) ?? 0, 0.1, waited)

        // The reported values against this test's own serial computation.
        let ranksRange = 0..<ranks
        func observed(_ check: String) -> String { rows[check]?[2] ?? "missing \(check)" }

        var sum = 0.0, maximum = 0.0, minimum = 0.0
        for i in 0..<100_003 {
            let values = ranksRange.map { Double((31 * ($0 + 2) + 17 * i) % 1009) * 0.125 - 60 }
            sum += values.reduce(0, +)
            maximum += values.max()!
            minimum += values.min()!
        }
        XCTAssertEqual(Double(observed("allreduce.sum.Double")), sum)
        XCTAssertEqual(Double(observed("allreduce.max.Double")), maximum)
        XCTAssertEqual(Double(observed("allreduce.min.Double")), minimum)

        var floatSum = 0.0
        for i in 0..<10_007 {
            floatSum += ranksRange.map { Double((7 * ($0 + 1) + 13 * i) % 101) * 0.25 - 12.5 }.reduce(0, +)
        }
        XCTAssertEqual(Double(observed("allreduce.sum.Float")), floatSum)

        var intMax: Int64 = 0
        for i in 0..<10_007 {
            intMax &+= ranksRange.map {
                (i % 2 == 0 ? 1 : -1) * (Int64($0 + 1) << 40) + 3 * Int64(i) - 1_000_003 * Int64($0)
            }.max()!
        }
        XCTAssertEqual(Int64(observed("allreduce.max.Int64")), intMax)

        XCTAssertEqual(Double(observed("allreduce.sum.scalar-Double")), Double(ranks * ranks) / 2)
        XCTAssertEqual(observed("broadcast.String.from-last"), "Kob–Andersen-80:20-from-rank-\(ranks - 1)")
        XCTAssertEqual(observed("broadcast.scalar-Double.from-last"), "\(Double(ranks - 1) + 0.5)")
        XCTAssertEqual(rows["broadcast.bytes.from-last"]?[1], "\(300 + ranks - 1)")
        XCTAssertEqual(observed("gather.Double.to-0"),
                       ranksRange.map { "\(Double($0) * 1.5 + 0.25)" }.joined(separator: ","))
        XCTAssertEqual(observed("gather.String.to-0"),
                       ranksRange.map { "rank\($0):" + String(repeating: "ab", count: $0) }.joined(separator: ","))
    }
}
