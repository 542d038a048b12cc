import Foundation
import GlassData
import XCTest

/// `launcher train / evaluate / predict` end to end, on small synthetic KA-like files.
final class TrainCommandTests: ScratchDirectoryTestCase {
    /// Jittered-lattice snapshots (`SyntheticSnapshots.write`) in the test's directory.
    func writeSnapshots(_ name: String, count: Int, seed: UInt64, times: [Double], particles: Int = 80,
                        inherent: Bool = false) throws -> String {
        try SyntheticSnapshots.write(path: path(name), count: count, seed: seed, times: times, particles: particles,
                                     inherent: inherent)
    }

    /// A tiny network (every kind of block present) so that the tests run in seconds in debug.
    func writeConfig(epochs: Int = 2, batch: Int = 2, extra: Bool = false) throws -> String {
        let json = """
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 12] \
            \(extra ? ", \"extraScalars\": [\"epot_inherent\"]" : "")},
             "training": {"epochs": \(epochs), "batchSize": \(batch), "learningRate": 0.01, "gradientClip": 1.0,
                          "schedule": {"kind": "cosine", "warmupSteps": 1, "minFactor": 0.1}}}
            """
        let file = path("config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func launcher(_ arguments: [String], timeout: Double = 300) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run([try LauncherProcess.launcherPath()] + arguments, timeout: timeout)
        XCTAssertFalse(result.timedOut, "launcher \(arguments) timed out")
        return result
    }

    func newestCheckpoint(_ run: String) throws -> Checkpoint {
        try Checkpoint.read(path: try Checkpoint.resolve(run))
    }

    // MARK: train and resume

    func testTrainWritesMetricsAndCheckpointsAndResumeIsBitwiseExact() throws {
        let train = try writeSnapshots("train.h5", count: 5, seed: 1, times: [0.1, 0.5, 2, 12])
        let validation = try writeSnapshots("val.h5", count: 2, seed: 2, times: [0.5, 12])
        let config = try writeConfig(epochs: 2, batch: 2, extra: true)

        // Uninterrupted: 2 epochs × 3 batches (the last one holds 1 snapshot) = 6 steps.
        let full = path("full")
        let a = try launcher(["train", "--data", train, "--validation", validation, "--out", full, "--config", config, "--seed", "3"])
        XCTAssertEqual(a.status, 0, a.standardError + a.standardOutput)
        XCTAssertTrue(a.standardOutput.contains("ETA"), a.standardOutput)
        let lines = try String(contentsOfFile: full + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let last = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        XCTAssertEqual(last["epoch"] as? Int, 2)
        XCTAssertEqual(last["step"] as? Int, 6)
        let v = last["validation"] as! [String: Any]
        XCTAssertEqual(v["times"] as? [Double], [0.5, 12])
        let speciesA = (v["species"] as! [String: Any])["A"] as! [String: Any]
        XCTAssertEqual((speciesA["pearson_pooled"] as! [Any]).count, 2)
        let uninterrupted = try newestCheckpoint(full)
        XCTAssertEqual(uninterrupted.step, 6)

        // Interrupted after 2 steps (mid-epoch), then resumed to the end.
        let split = path("split")
        let b = try launcher(["train", "--data", train, "--validation", validation, "--out", split, "--config", config,
                              "--seed", "3", "--max-steps", "2"])
        XCTAssertEqual(b.status, 0, b.standardError)
        XCTAssertEqual(try newestCheckpoint(split).step, 2)
        XCTAssertEqual(try newestCheckpoint(split).batchInEpoch, 2)
        let again = try launcher(["train", "--data", train, "--out", split, "--config", config, "--seed", "3"])
        XCTAssertNotEqual(again.status, 0, "a second run into a directory with checkpoints needs --resume")
        XCTAssertTrue(again.standardError.contains("--resume"), again.standardError)
        let c = try launcher(["train", "--data", train, "--validation", validation, "--out", split, "--resume"])
        XCTAssertEqual(c.status, 0, c.standardError)
        let resumed = try newestCheckpoint(split)
        XCTAssertEqual(resumed.step, 6)
        XCTAssertEqual(resumed.parameters.map(\.bitPattern), uninterrupted.parameters.map(\.bitPattern),
                       "resumed run differs from the uninterrupted one")
        XCTAssertEqual(resumed.adamV.map(\.bitPattern), uninterrupted.adamV.map(\.bitPattern))
        XCTAssertNotEqual(resumed.parameters, try Checkpoint.read(path: Checkpoint.list(in: split).first!).parameters)
    }

    /// Inherent-structure positions and extra scalars from the command line; a file lacking
    /// what the configuration asks for is a clear error.
    /// Every command that runs the network takes `--threads` (one option group), and the thread
    /// count does not change what it computes.
    func testThreadsOptionInEveryNetworkCommandAndResultsIndependentOfIt() throws {
        for command in ["train", "evaluate", "predict", "cross-evaluate", "embed", "probe", "report"] {
            let help = try launcher([command, "--help"])
            XCTAssertEqual(help.status, 0, help.standardError)
            XCTAssertTrue(help.standardOutput.contains("--threads") && help.standardOutput.contains("OMP_NUM_THREADS"),
                          "\(command) --help: \(help.standardOutput)")
        }
        let train = try writeSnapshots("train.h5", count: 3, seed: 6, times: [0.5, 12])
        let run = path("run")
        let t = try launcher(["train", "--data", train, "--out", run, "--config", try writeConfig(epochs: 1, batch: 3)])
        XCTAssertEqual(t.status, 0, t.standardError)
        let one = try launcher(["evaluate", "--checkpoint", run, "--data", train, "--json", "--threads", "1"])
        let three = try launcher(["evaluate", "--checkpoint", run, "--data", train, "--json", "--threads", "3"])
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardOutput.contains("pearson_pooled"), one.standardOutput)
        XCTAssertEqual(three.standardOutput, one.standardOutput)
    }

    /// A metrics file that cannot be written stops the run with an error naming it.
    func testAnUnwritableMetricsFileIsAnErrorNamingIt() throws {
        let train = try writeSnapshots("train.h5", count: 2, seed: 4, times: [0.5, 12])
        let run = path("run")
        try FileManager.default.createDirectory(atPath: run + "/metrics.jsonl", withIntermediateDirectories: true)
        let r = try launcher(["train", "--data", train, "--out", run, "--config", try writeConfig(epochs: 1, batch: 2)])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.standardError.contains("cannot append to \(run)/metrics.jsonl"), r.standardError)
    }

    func testInherentPositionsAndExtraScalarsFromTheCommandLine() throws {
        let withInherent = try writeSnapshots("inherent.h5", count: 2, seed: 8, times: [0.5, 12], inherent: true)
        let thermalOnly = try writeSnapshots("thermal.h5", count: 2, seed: 9, times: [0.5, 12])
        let config = try writeConfig(epochs: 1, batch: 2)
        let ok = try launcher(["train", "--data", withInherent, "--out", path("ok"), "--config", config,
                               "--positions", "inherent", "--extra-scalars", "epot_inherent"])
        XCTAssertEqual(ok.status, 0, ok.standardError)
        let saved = try newestCheckpoint(path("ok"))
        XCTAssertTrue(saved.configJSON.contains("\"inherent\""), saved.configJSON)
        XCTAssertEqual(saved.scalarMean.count, 1)
        let bad = try launcher(["train", "--data", thermalOnly, "--out", path("bad"), "--config", config, "--positions", "inherent"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.standardError.contains("positions_inherent"), bad.standardError)
        let typo = try launcher(["train", "--data", withInherent, "--out", path("typo"), "--config", config,
                                 "--extra-scalars", "epot"])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.standardError.contains("scalars/epot"), typo.standardError)

        // The computed |r − r_IS|: its training statistics are those of the files' own positions
        // (here inherent = thermal + U(−0.005, 0.005) per coordinate), and it needs positions_inherent.
        let displaced = try launcher(["train", "--data", withInherent, "--out", path("displaced"), "--config", config,
                                      "--extra-scalars", "epot_inherent,displacement_inherent"])
        XCTAssertEqual(displaced.status, 0, displaced.standardError)
        let file = try SnapshotFile(path: withInherent, checkAllValues: false)
        var values: [Double] = []
        for k in 0..<file.snapshotCount { values += DerivedScalar.inherentDisplacement.values(try file.readSnapshot(k))! }
        let mean = values.reduce(0, +) / Double(values.count)
        let stored = try newestCheckpoint(path("displaced"))
        XCTAssertEqual(stored.scalarMean.count, 2)
        XCTAssertEqual(stored.scalarMean[1], mean, accuracy: 1e-5 * mean)  // summed from Float values
        XCTAssertGreaterThan(mean, 0.001)
        XCTAssertLessThan(mean, 0.0087)  // at most √3 · 0.005
        let noInherent = try launcher(["train", "--data", thermalOnly, "--out", path("noInherent"), "--config", config,
                                       "--extra-scalars", "displacement_inherent"])
        XCTAssertNotEqual(noInherent.status, 0)
        XCTAssertTrue(noInherent.standardError.contains(thermalOnly) && noInherent.standardError.contains("displacement_inherent")
                      && noInherent.standardError.contains("positions_inherent"), noInherent.standardError)
    }

    // MARK: evaluate and predict

    func testEvaluateMatchesTimesByValueAndPredictAgreesWithIt() throws {
        let train = try writeSnapshots("train.h5", count: 3, seed: 4, times: [0.5, 12])
        let config = try writeConfig(epochs: 1, batch: 3)
        let run = path("run")
        let t = try launcher(["train", "--data", train, "--out", run, "--config", config])
        XCTAssertEqual(t.status, 0, t.standardError)

        // Another grid: only t = 12 is shared.
        let other = try writeSnapshots("other.h5", count: 2, seed: 5, times: [1, 12, 40])
        let e = try launcher(["evaluate", "--checkpoint", run, "--data", other, "--json"])
        XCTAssertEqual(e.status, 0, e.standardError)
        let json = try JSONSerialization.jsonObject(with: Data(e.standardOutput.utf8)) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["times", "species", "snapshots"])
        XCTAssertEqual(json["times"] as? [Double], [12])
        XCTAssertEqual(json["snapshots"] as? Int, 2)
        let species = json["species"] as! [String: [String: [Any]]]
        XCTAssertEqual(Set(species.keys), ["A", "B"])
        XCTAssertEqual(Set(species["A"]!.keys), ["pearson_pooled", "pearson_mean", "mse"])
        let mseA = (species["A"]!["mse"]![0] as! NSNumber).doubleValue

        // No shared time: an error naming both grids.
        let disjoint = try writeSnapshots("disjoint.h5", count: 1, seed: 6, times: [1, 2])
        let bad = try launcher(["evaluate", "--checkpoint", run, "--data", disjoint])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.standardError.contains("shares no time"), bad.standardError)

        // predict: physical units, per particle; its MSE against the file's targets at t = 12
        // reproduces evaluate's.
        let out = path("pred.h5")
        let p = try launcher(["predict", "--checkpoint", run, "--data", other, "--out", out])
        XCTAssertEqual(p.status, 0, p.standardError)
        let h5 = try HDF5File(path: out)
        let predictions = try h5.root.dataset("predictions").read(as: Float.self)
        XCTAssertEqual(try h5.root.dataset("times").read(as: Double.self), [0.5, 12])
        let file = try SnapshotFile(path: other)
        var sum = 0.0, n = 0.0
        for k in 0..<file.snapshotCount {
            let s = try file.readSnapshot(k)
            for i in 0..<s.particleCount where s.species[i] == 0 {
                let row = file.offsets[k] + i
                let d = Double(predictions[row * 2 + 1]) - Double(s.propensity![i * 3 + 1])
                sum += d * d
                n += 1
            }
        }
        XCTAssertEqual(sum / n, mseA, accuracy: 1e-6 * max(1, mseA))
    }

    // MARK: crash safety

    /// SIGKILL while the second checkpoint is being written (the write is paused half-way by a
    /// test hook): the first checkpoint still loads, and the run resumes from it.
    func testSIGKILLDuringACheckpointWriteLeavesThePreviousCheckpointLoadable() throws {
        let train = try writeSnapshots("train.h5", count: 1, seed: 7, times: [0.5, 12])
        let config = try writeConfig(epochs: 3, batch: 1)
        let run = path("run")
        var environment = LauncherProcess.originalEnvironment()
        environment["EQUIGLASS_TEST_CHECKPOINT_PAUSE"] = "3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try LauncherProcess.launcherPath())
        process.arguments = ["train", "--data", train, "--out", run, "--config", config]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // Wait for the first checkpoint, then for the temporary file of the second.
        let start = Date()
        func waitFor(_ condition: () -> Bool) -> Bool {
            while !condition() {
                if Date().timeIntervalSince(start) > 120 || !process.isRunning { return false }
                usleep(20_000)
            }
            return true
        }
        XCTAssertTrue(waitFor { Checkpoint.list(in: run).count == 1 }, "no first checkpoint")
        let temporary = { (try? FileManager.default.contentsOfDirectory(atPath: run))?.contains { $0.contains(".tmp-") } ?? false }
        XCTAssertTrue(waitFor(temporary), "the second checkpoint write never started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        XCTAssertEqual(Checkpoint.list(in: run).count, 1, "the interrupted checkpoint must not appear under its final name")
        let survivor = try newestCheckpoint(run)
        XCTAssertEqual(survivor.step, 1)
        let r = try launcher(["train", "--data", train, "--out", run, "--resume"])
        XCTAssertEqual(r.status, 0, r.standardError)
        XCTAssertEqual(try newestCheckpoint(run).step, 3)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "the killed write's temporary file is cleaned up by the next run")
    }
}
