import Foundation
import GlassData
import XCTest

/// `launcher train --init-from CHECKPOINT --freeze ...`: a new run from a trained model's
/// parameters, with frozen blocks that do not change at all, on one rank and data-parallel.
final class TransferLearningTests: ScratchDirectoryTestCase {
    /// The tiny network: C = 2, 2 layers, one extra scalar; decoder 2 → 4 → (2 species × 2 times).
    static let decoderParameters = 2 * 4 + 4 * (2 * 2)
    static let embeddingParameters = (2 + 1) * 2

    func writeConfig(channels: Int = 2, epochs: Int = 1, batch: Int = 2) throws -> String {
        let json = """
            {"model": {"channels": \(channels), "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 12],
                       "extraScalars": ["epot_inherent"]},
             "training": {"epochs": \(epochs), "batchSize": \(batch), "learningRate": 0.01}}
            """
        let file = path("config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func launcher(_ arguments: [String], ranks: Int? = nil) throws -> LauncherProcess.Result {
        var command = [try LauncherProcess.launcherPath()] + arguments
        if let ranks { command = ["mpirun", "-np", "\(ranks)", "--oversubscribe"] + command }
        let result = try LauncherProcess.run(command, timeout: 300)
        XCTAssertFalse(result.timedOut, "launcher \(arguments) timed out")
        return result
    }

    func newest(_ run: String) throws -> Checkpoint { try Checkpoint.read(path: try Checkpoint.resolve(run)) }

    func bits(_ x: ArraySlice<Float>) -> [UInt32] { x.map(\.bitPattern) }

    func metadata(_ c: Checkpoint) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(c.metadataJSON.utf8)) as! [String: Any]
    }

    /// A source run (2 steps) on one file: the model a transfer starts from.
    func sourceRun() throws -> (run: String, checkpoint: Checkpoint) {
        let data = try SyntheticSnapshots.write(path: path("source.h5"), count: 4, seed: 21, times: [0.5, 12])
        let run = path("source")
        let r = try launcher(["train", "--data", data, "--out", run, "--config", try writeConfig(), "--seed", "1"])
        XCTAssertEqual(r.status, 0, r.standardError)
        return (run, try newest(run))
    }

    /// Mean of the propensity per (species, time) of a file, from the file alone (the reference
    /// for the recomputed target standardization).
    func targetMeans(_ file: String, times: Int) throws -> [Double] {
        let f = try SnapshotFile(path: file)
        var sum = [Double](repeating: 0, count: 2 * times), n = sum
        for k in 0..<f.snapshotCount {
            let s = try f.readSnapshot(k)
            for i in 0..<s.particleCount {
                for t in 0..<times {
                    sum[Int(s.species[i]) * times + t] += Double(s.propensity![i * times + t])
                    n[Int(s.species[i]) * times + t] += 1
                }
            }
        }
        return zip(sum, n).map { $0 / $1 }
    }

    func testFreezeEncoderTrainsOnlyTheDecoderFromTheSourceParameters() throws {
        let (sourceDirectory, source) = try sourceRun()
        let p = source.parameters.count, encoder = p - Self.decoderParameters
        let target = try SyntheticSnapshots.write(path: path("target.h5"), count: 3, seed: 22, times: [0.5, 12])
        let run = path("transfer")
        // No --config: the model configuration comes from the checkpoint.
        let r = try launcher(["train", "--data", target, "--out", run, "--init-from", sourceDirectory, "--freeze", "encoder",
                              "--epochs", "2", "--learning-rate", "0.01", "--global-batch", "2"])
        XCTAssertEqual(r.status, 0, r.standardError + r.standardOutput)
        let c = try newest(run)
        XCTAssertEqual(c.step, 4, "a new run: 2 epochs × 2 steps counted from 0")
        XCTAssertEqual(c.parameters.count, p)
        XCTAssertEqual(bits(c.parameters[0..<encoder]), bits(source.parameters[0..<encoder]), "the frozen encoder changed")
        XCTAssertNotEqual(bits(c.parameters[encoder...]), bits(source.parameters[encoder...]), "the decoder did not train")
        XCTAssertTrue(c.adamM[0..<encoder].allSatisfy { $0 == 0 } && c.adamV[0..<encoder].allSatisfy { $0 == 0 })
        // Kept from the source: avg_neighbors, the scalars' standardization; new: the targets'.
        XCTAssertEqual(c.avgNeighbors, source.avgNeighbors)
        XCTAssertEqual(c.scalarMean, source.scalarMean)
        XCTAssertEqual(c.scalarStd, source.scalarStd)
        let means = try targetMeans(target, times: 2)
        for (a, b) in zip(c.targetMean, means) { XCTAssertEqual(a, b, accuracy: 1e-6 * abs(b)) }
        XCTAssertNotEqual(c.targetMean, source.targetMean)
        // Recorded: the source checkpoint and the frozen blocks, with exactly the encoder's range.
        let m = try metadata(c)
        XCTAssertEqual(m["init_from"] as? String, try Checkpoint.resolve(sourceDirectory))
        XCTAssertEqual(m["freeze"] as? [String], ["encoder"])
        let ranges = (m["frozen_ranges"] as! [[Int]]).sorted { $0[0] < $1[0] }
        XCTAssertEqual(ranges.first?[0], 0)
        XCTAssertEqual(ranges.last?[1], encoder)
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a[1], b[0], "frozen ranges not contiguous") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/transfer.json"))
        XCTAssertTrue(r.standardOutput.contains("frozen: encoder"), r.standardOutput)
    }

    func testFreezeByBlockNamesAndClearErrors() throws {
        let (sourceDirectory, source) = try sourceRun()
        let target = try SyntheticSnapshots.write(path: path("target.h5"), count: 2, seed: 23, times: [0.5, 12])
        let config = try writeConfig(epochs: 2)
        let run = path("partial")
        let r = try launcher(["train", "--data", target, "--out", run, "--config", config, "--init-from", sourceDirectory,
                              "--freeze", "embedding,layer1"])
        XCTAssertEqual(r.status, 0, r.standardError)
        let c = try newest(run)
        let m = try metadata(c)
        let names = m["frozen_blocks"] as! [String]
        XCTAssertEqual(names.first, "embedding")
        XCTAssertTrue(names.dropFirst().allSatisfy { $0.hasPrefix("layer1.") }, "\(names)")
        XCTAssertGreaterThan(names.count, 3)
        var frozen = [Bool](repeating: false, count: source.parameters.count)
        let ranges = m["frozen_ranges"] as! [[Int]]
        XCTAssertEqual(ranges[0], [0, Self.embeddingParameters])
        for range in ranges { for i in range[0]..<range[1] { frozen[i] = true } }
        var changedFrozen = 0, changedTrained = 0
        for i in frozen.indices where c.parameters[i].bitPattern != source.parameters[i].bitPattern {
            if frozen[i] { changedFrozen += 1 } else { changedTrained += 1 }
        }
        XCTAssertEqual(changedFrozen, 0, "frozen parameters changed")
        XCTAssertGreaterThan(changedTrained, 10, "layer 0 and the decoder did not train")
        // Layer 0 (between the embedding and layer 1) trained.
        XCTAssertNotEqual(bits(c.parameters[Self.embeddingParameters..<ranges[1][0]]),
                          bits(source.parameters[Self.embeddingParameters..<ranges[1][0]]))

        let unknown = try launcher(["train", "--data", target, "--out", path("unknown"), "--init-from", sourceDirectory,
                                    "--freeze", "embedding,layer9"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.standardError.contains("'layer9'") && unknown.standardError.contains("encoder, embedding, layer0, layer1, decoder"),
                      unknown.standardError)
        let everything = try launcher(["train", "--data", target, "--out", path("all"), "--init-from", sourceDirectory,
                                       "--freeze", "encoder,decoder"])
        XCTAssertNotEqual(everything.status, 0)
        XCTAssertTrue(everything.standardError.contains("nothing would train"), everything.standardError)
        let other = try launcher(["train", "--data", target, "--out", path("other"), "--init-from", sourceDirectory,
                                  "--config", try writeConfig(channels: 3)])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.standardError.contains("channels: requested 3, checkpoint 2"), other.standardError)
        let missing = try launcher(["train", "--data", target, "--out", path("missing"), "--init-from", path("nowhere")])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.standardError.contains("nowhere"), missing.standardError)
    }

    /// Data-parallel: with the encoder frozen, 1 and 2 ranks give bitwise the same parameters,
    /// and a run stopped after one step and resumed (same command line, as a requeued job) too.
    func testFrozenTrainingIsBitwiseTheSameOnTwoRanksAndAfterResume() throws {
        let (sourceDirectory, source) = try sourceRun()
        let encoder = source.parameters.count - Self.decoderParameters
        let target = try SyntheticSnapshots.write(path: path("target.h5"), count: 3, seed: 24, times: [0.5, 12])
        let config = try writeConfig(epochs: 2, batch: 3)
        func arguments(_ out: String) -> [String] {
            ["train", "--data", target, "--out", out, "--config", config, "--init-from", sourceDirectory, "--freeze", "encoder",
             "--global-batch", "3"]
        }
        let one = try launcher(arguments(path("one")), ranks: 1)
        XCTAssertEqual(one.status, 0, one.standardError)
        let two = try launcher(arguments(path("two")), ranks: 2)
        XCTAssertEqual(two.status, 0, two.standardError)
        let a = try newest(path("one")), b = try newest(path("two"))
        XCTAssertEqual(a.step, 2)
        XCTAssertEqual(bits(a.parameters[...]), bits(b.parameters[...]), "1 and 2 ranks differ")
        XCTAssertEqual(bits(b.parameters[0..<encoder]), bits(source.parameters[0..<encoder]))
        XCTAssertNotEqual(bits(b.parameters[encoder...]), bits(source.parameters[encoder...]))

        let stopped = try launcher(arguments(path("split")) + ["--max-steps", "1"], ranks: 2)
        XCTAssertEqual(stopped.status, 0, stopped.standardError)
        XCTAssertEqual(try newest(path("split")).step, 1)
        let resumed = try launcher(arguments(path("split")) + ["--resume"], ranks: 2)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(bits(try newest(path("split")).parameters[...]), bits(a.parameters[...]), "resumed run differs")
        // --resume without --freeze keeps the recorded freeze; a different one is an error.
        let again = try launcher(["train", "--data", target, "--out", path("split"), "--resume", "--epochs", "3"])
        XCTAssertEqual(again.status, 0, again.standardError)
        XCTAssertEqual(bits(try newest(path("split")).parameters[0..<encoder]), bits(source.parameters[0..<encoder]))
        let changed = try launcher(["train", "--data", target, "--out", path("split"), "--resume", "--freeze", "layer0"])
        XCTAssertNotEqual(changed.status, 0)
        XCTAssertTrue(changed.standardError.contains("differs from the run's --freeze encoder"), changed.standardError)
    }
}
