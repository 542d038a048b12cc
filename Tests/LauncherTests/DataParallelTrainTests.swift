import Foundation
import GlassData
import XCTest

/// `launcher train` under mpirun: bitwise the same parameters at 1, 2 and 3 ranks, a stop by
/// SIGUSR1 resumed on another rank count, and a corrupt snapshot met by one rank only.
final class DataParallelTrainTests: ScratchDirectoryTestCase {
    /// A tiny network with extra scalars and clipping, so that every part of a step is exercised.
    func writeConfig(epochs: Int, batch: Int) throws -> String {
        let json = """
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 12],
                       "extraScalars": ["epot_inherent"]},
             "training": {"epochs": \(epochs), "batchSize": \(batch), "learningRate": 0.01, "gradientClip": 1.0,
                          "schedule": {"kind": "cosine", "warmupSteps": 1, "minFactor": 0.1}}}
            """
        let file = path("config.json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// `launcher train` on `ranks` ranks (mpirun even for 1, as on a cluster).
    func train(ranks: Int, _ arguments: [String], timeout: Double = 300) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run(
            ["mpirun", "-np", "\(ranks)", "--oversubscribe", try LauncherProcess.launcherPath(), "train"] + arguments,
            timeout: timeout)
        XCTAssertFalse(result.timedOut, "train on \(ranks) ranks timed out: \(result.standardError)")
        return result
    }

    func newest(_ run: String) throws -> Checkpoint { try Checkpoint.read(path: try Checkpoint.resolve(run)) }

    func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

    /// 7 snapshots, global batch 3 (steps of 3, 3, 1 snapshots: uneven slices, and a rank with
    /// nothing to do at P = 3 in the last step... and at P = 2), 2 epochs, with validation: the
    /// parameters, Adam moments and validation metrics are bitwise the same at P = 1, 2, 3.
    func testTrainingIsBitwiseIdenticalOnOneTwoAndThreeRanks() throws {
        let data = try SyntheticSnapshots.write(path: path("train.h5"), count: 7, seed: 11, times: [0.5, 2, 12])
        let validation = try SyntheticSnapshots.write(path: path("val.h5"), count: 3, seed: 12, times: [0.5, 12])
        let config = try writeConfig(epochs: 2, batch: 3)
        var checkpoints: [Int: Checkpoint] = [:]
        var metrics: [Int: String] = [:]
        for ranks in [1, 2, 3] {
            let out = path("run-\(ranks)")
            let r = try train(ranks: ranks, ["--data", data, "--validation", validation, "--out", out, "--config", config,
                                             "--seed", "5", "--global-batch", "3"])
            XCTAssertEqual(r.status, 0, r.standardError + r.standardOutput)
            checkpoints[ranks] = try newest(out)
            // The metrics lines without the timing and the rank count.
            let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 2)
            metrics[ranks] = try lines.map { line -> String in
                var object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                XCTAssertEqual(object["ranks"] as? Int, ranks)
                object["seconds"] = nil
                object["ranks"] = nil
                return String(decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
            }.joined(separator: "\n")
            // Only rank 0 writes: one progress line per epoch end, not one per rank.
            XCTAssertEqual(r.standardOutput.components(separatedBy: "epoch 2 validation").count - 1, 1, r.standardOutput)
        }
        let one = checkpoints[1]!
        XCTAssertEqual(one.step, 6)
        for ranks in [2, 3] {
            let c = checkpoints[ranks]!
            XCTAssertEqual(c.step, 6)
            XCTAssertEqual(bits(c.parameters), bits(one.parameters), "parameters differ between P = 1 and P = \(ranks)")
            XCTAssertEqual(bits(c.adamM), bits(one.adamM), "Adam moments differ between P = 1 and P = \(ranks)")
            XCTAssertEqual(bits(c.adamV), bits(one.adamV))
            XCTAssertEqual(c.targetMean.map(\.bitPattern), one.targetMean.map(\.bitPattern), "statistics depend on P")
            XCTAssertEqual(c.targetStd.map(\.bitPattern), one.targetStd.map(\.bitPattern))
            XCTAssertEqual(c.avgNeighbors.bitPattern, one.avgNeighbors.bitPattern)
            XCTAssertEqual(metrics[ranks], metrics[1], "validation metrics depend on P")
        }
        // evaluate under mpirun: one JSON document (rank 0 only), the same at P = 1, 2 and 3.
        var documents: [String] = []
        for ranks in [1, 2, 3] {
            let e = try LauncherProcess.run(["mpirun", "-np", "\(ranks)", "--oversubscribe", try LauncherProcess.launcherPath(),
                                             "evaluate", "--checkpoint", path("run-1"), "--data", validation, "--json"], timeout: 120)
            XCTAssertEqual(e.status, 0, e.standardError)
            let json = try JSONSerialization.jsonObject(with: Data(e.standardOutput.utf8)) as? [String: Any]
            XCTAssertEqual(json?["snapshots"] as? Int, 3, "one document counting every snapshot once: \(e.standardOutput)")
            documents.append(e.standardOutput)
        }
        XCTAssertEqual(documents[1], documents[0], "evaluate depends on the rank count")
        XCTAssertEqual(documents[2], documents[0], "evaluate depends on the rank count")

        // Training moved the parameters (the test compares something that changed).
        XCTAssertNotEqual(bits(one.parameters), bits(try initialParameters(data: data, config: config)))

        // The fast (Float) sum runs and gives a finite result; its bits may depend on P.
        let fast = try train(ranks: 2, ["--data", data, "--out", path("fast"), "--config", config, "--seed", "5",
                                        "--global-batch", "3", "--reduction", "fast"])
        XCTAssertEqual(fast.status, 0, fast.standardError)
        let f = try newest(path("fast"))
        XCTAssertTrue(f.parameters.allSatisfy(\.isFinite))
        let difference = zip(f.parameters, one.parameters).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(difference, 1e-3, "fast and exact sums should agree closely")
    }

    /// The parameters after 0 steps: a run stopped by --max-steps 0.
    func initialParameters(data: String, config: String) throws -> [Float] {
        let out = path("initial")
        let r = try train(ranks: 1, ["--data", data, "--out", out, "--config", config, "--seed", "5", "--max-steps", "0"])
        XCTAssertEqual(r.status, 0, r.standardError)
        return try newest(out).parameters
    }

    /// SIGUSR1 to mpirun during a 2-rank run: a checkpoint at a step boundary, exit status 75 on
    /// every rank; resumed on 1 rank it ends with bitwise the parameters of an uninterrupted run.
    func testSignalStoppedTwoRankRunResumedOnOneRankMatchesAnUninterruptedRun() throws {
        let data = try SyntheticSnapshots.write(path: path("train.h5"), count: 4, seed: 21, times: [0.5, 12])
        // 15 epochs × 2 steps: long enough that the signal lands mid-run.
        let config = try writeConfig(epochs: 15, batch: 2)
        let stopped = path("stopped")
        let job = try BackgroundJob(["mpirun", "-np", "2", try LauncherProcess.launcherPath(), "train", "--data", data,
                                     "--out", stopped, "--config", config, "--seed", "9", "--resume"])
        defer { job.kill() }
        XCTAssertTrue(job.waitForOutput("step 1/30", timeout: 120), job.output + job.errors)
        kill(job.pid, SIGUSR1)
        let status = job.wait(timeout: 60)
        XCTAssertEqual(status, 75, job.output + job.errors)
        XCTAssertTrue(job.output.contains("SIGUSR1: checkpoint at step"), job.output)
        let atStop = try newest(stopped)
        XCTAssertGreaterThanOrEqual(atStop.step, 1)
        XCTAssertLessThan(atStop.step, 30, "the run ended before the signal arrived: the test proves nothing")
        XCTAssertEqual(atStop.step, atStop.epoch * 2 + atStop.batchInEpoch, "the checkpoint is not at a step boundary")

        let resumed = try train(ranks: 1, ["--data", data, "--out", stopped, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("resuming from"), resumed.standardOutput)
        let uninterrupted = path("uninterrupted")
        // --resume with no checkpoint starts a new run (what the Slurm template relies on).
        let full = try train(ranks: 1, ["--data", data, "--out", uninterrupted, "--config", config, "--seed", "9", "--resume"])
        XCTAssertEqual(full.status, 0, full.standardError)
        XCTAssertTrue(full.standardOutput.contains("starting a new run"), full.standardOutput)
        let a = try newest(stopped), b = try newest(uninterrupted)
        XCTAssertEqual(a.step, 30)
        XCTAssertEqual(b.step, 30)
        XCTAssertEqual(bits(a.parameters), bits(b.parameters), "the resumed run differs from the uninterrupted one")
        XCTAssertEqual(bits(a.adamV), bits(b.adamV))
    }

    /// A NaN coordinate in the last snapshot, which at P = 2 only rank 1 reads: the job ends
    /// within 10 s, non-zero, naming rank 1 and the file; no rank process is left.
    func testCorruptSnapshotMetByRankOneOnlyEndsTheTrainingJob() throws {
        let data = try SyntheticSnapshots.write(path: path("train.h5"), count: 6, seed: 31, times: [0.5, 12])
        let particles = try SnapshotFile(path: data).offsets[5]
        do {
            let file = try HDF5File(path: data, mode: .readWrite)
            try file.root.dataset("positions").writeRows([1.0, .nan, 2.0], at: particles + 3)
            try file.flush()
        }
        let config = try writeConfig(epochs: 1, batch: 2)
        let out = path("corrupt-run")
        let r = try train(ranks: 2, ["--data", data, "--out", out, "--config", config], timeout: 60)
        XCTAssertLessThan(r.seconds, 10, "the job took \(r.seconds) s to stop")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.standardError.contains("rank 1: error: \(data)"), r.standardError)
        XCTAssertTrue(r.standardError.contains("snapshot 5"), r.standardError)
        XCTAssertFalse(r.standardError.contains("rank 0: error"), r.standardError)
        XCTAssertEqual(Checkpoint.list(in: out), [], "no checkpoint from a failed run")
        // No rank process is left: none has the run directory on its command line.
        usleep(200_000)
        let left = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).filter { entry in
            guard Int32(entry) != nil, let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains(out)
        }
        XCTAssertEqual(left, [], "processes left after the job ended")
    }
}
