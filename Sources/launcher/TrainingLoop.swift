import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

/// A trained model as a checkpoint holds it: configuration, network, parameters, statistics.
struct ModelBundle {
    let config: RunConfig
    let model: PropensityModel
    let parameters: [Float]
    let normalization: Normalization
    let checkpoint: Checkpoint
    let path: String

    /// Loads `path` (a checkpoint file, or a run directory meaning its newest checkpoint).
    static func load(_ path: String) throws -> ModelBundle {
        let file = try Checkpoint.resolve(path)
        let c = try Checkpoint.read(path: file)
        let config: RunConfig
        do {
            config = try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8))
            try config.validate()
        } catch {
            throw CheckpointError(path: file, problem: "its configuration is unreadable: \(error)")
        }
        let model = PropensityModel(config: config.model, avgNeighbors: c.avgNeighbors)
        guard c.parameters.count == model.layout.count else {
            throw CheckpointError(path: file, problem: "\(c.parameters.count) parameters, its configuration needs \(model.layout.count)")
        }
        let t = config.model.times.count, s = config.model.speciesCount, e = config.model.extraScalars.count
        guard c.targetMean.count == s * t, c.scalarMean.count == e else {
            throw CheckpointError(path: file, problem: "normalisation statistics do not match the configuration")
        }
        let normalization = Normalization(targetMean: c.targetMean, targetStd: c.targetStd,
                                          scalarMean: c.scalarMean, scalarStd: c.scalarStd)
        return ModelBundle(config: config, model: model, parameters: c.parameters, normalization: normalization,
                           checkpoint: c, path: file)
    }

    /// Predictions `[N][T]` in physical units.
    func predict(_ p: PreparedSnapshot) -> [Float] {
        let z = model.forward(parameters: parameters, input: p.input)
        return normalization.physical(predictions: z, species: p.species, times: config.model.times.count)
    }
}

/// Scores of a model on prepared snapshots: metrics in physical units at the shared times, and the
/// standardised loss over the trained species (sums, reduced across ranks).
func score(model: PropensityModel, parameters: [Float], normalization: Normalization, snapshots: [PreparedSnapshot],
           shared: [(model: Int, data: Int)], trainSpecies: [Int], world: Communicator?) throws
    -> (metrics: PropensityMetrics, loss: Double) {
    let t = model.config.times.count, ts = shared.count
    var metrics = PropensityMetrics(species: model.config.speciesCount, times: ts)
    var lossSum = 0.0, lossCount = 0.0
    for p in snapshots {
        guard let targets = p.targets else { continue }
        let z = model.forward(parameters: parameters, input: p.input)
        let physical = normalization.physical(predictions: z, species: p.species, times: t)
        let standardTargets = normalization.standardize(targets: targets, species: p.species, times: t)
        var pred = [Float](repeating: 0, count: p.particleCount * ts), true_ = pred
        for i in 0..<p.particleCount {
            for (q, pair) in shared.enumerated() {
                pred[i * ts + q] = physical[i * t + pair.model]
                true_[i * ts + q] = targets[i * t + pair.model]
                if trainSpecies.contains(Int(p.species[i])) {
                    let d = Double(z[i * t + pair.model]) - Double(standardTargets[i * t + pair.model])
                    lossSum += d * d
                    lossCount += 1
                }
            }
        }
        metrics.add(predictions: pred, targets: true_, species: p.species)
    }
    if let world, world.size > 1 {
        var flat = metrics.flat + [lossSum, lossCount]
        try world.allReduce(&flat, .sum)
        metrics = PropensityMetrics(species: metrics.species, times: ts, flat: Array(flat.dropLast(2)))
        lossSum = flat[flat.count - 2]
        lossCount = flat[flat.count - 1]
    }
    return (metrics, lossCount > 0 ? lossSum / lossCount : .nan)
}

/// A JSON object for the scores, `{"A": {"pearson_pooled": [...], "pearson_mean": [...], "mse": [...]}, ...}`
/// (NaN becomes null).
func speciesScores(_ m: PropensityMetrics, speciesNames: [String]) -> [String: Any] {
    var out: [String: Any] = [:]
    for s in 0..<m.species {
        let name = s < speciesNames.count ? speciesNames[s] : "species\(s)"
        func column(_ f: (Int) -> Double) -> [Any] { (0..<m.times).map { let v = f($0); return v.isFinite ? v as Any : NSNull() } }
        out[name] = [
            "pearson_pooled": column { m.pearsonPooled(species: s, time: $0) },
            "pearson_mean": column { m.pearsonMean(species: s, time: $0) },
            "mse": column { m.mse(species: s, time: $0) },
        ]
    }
    return out
}

/// One line of compact, key-sorted JSON.
func jsonLine(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
}

/// "1h02m03s" / "2m05s" / "7s".
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h" + String(format: "%02dm%02ds", (s % 3600) / 60, s % 60) }
    if s >= 60 { return "\(s / 60)m" + String(format: "%02ds", s % 60) }
    return "\(s)s"
}

/// The training run: data, model, optimiser, and the one loop over epochs and batches.
struct Trainer {
    let world: Communicator
    let trainPath: String
    let validationPath: String?
    let outDirectory: String
    var config: RunConfig
    let resume: Bool
    let commandLine: [String]
    /// Stop after this many optimiser steps in this invocation (tests of resume); nil = no limit.
    let maxSteps: Int?
    /// --epochs, which may also extend a resumed run.
    let epochsOverride: Int?

    func log(_ line: String) { if world.isRoot { printNow(line) } }

    mutating func run() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        let existing = Checkpoint.list(in: outDirectory)
        var start: Checkpoint? = nil
        if resume, let last = existing.last {
            let c = try Checkpoint.read(path: last)
            let saved = try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8))
            guard saved.model == config.model || config.model == ModelConfig() else {
                throw ValidationFailure("--resume: the model configuration differs from the one in \(last)")
            }
            config = saved
            if let epochsOverride { config.training.epochs = epochsOverride }  // may extend a run
            start = c
            log("resuming from \(last): step \(c.step), epoch \(c.epoch + 1), batch \(c.batchInEpoch)")
        } else if !existing.isEmpty {
            throw ValidationFailure("\(outDirectory) already holds checkpoints of a run: pass --resume, or choose another --out")
        }
        try config.validate()
        let mc = config.model, tc = config.training
        let t = mc.times.count, extra = mc.extraScalars.count

        // Data: every snapshot's graph, inputs and targets, kept in memory.
        let preparer = SnapshotPreparer(config: mc)
        let trainFile = try preparer.open(trainPath, needTargets: true, needAllTimes: true)
        let speciesNames = trainFile.attributes.speciesNames
        let loadStart = Date()
        var train = try (0..<trainFile.snapshotCount).map { try preparer.prepare(trainFile, snapshot: $0) }
        var statistics = TrainingStatistics(config: mc)
        for p in train { statistics.add(p, times: t, extra: extra) }
        var validation: [PreparedSnapshot] = []
        var validationShared: [(model: Int, data: Int)] = []
        if let validationPath {
            let vf = try preparer.open(validationPath, needTargets: true, needAllTimes: false)
            validationShared = preparer.sharedTimes(vf)
            validation = try (0..<vf.snapshotCount).map { try preparer.prepare(vf, snapshot: $0) }
        }

        // Statistics: from the training set, or exactly those of the run being resumed.
        var avgNeighbors = statistics.avgNeighbors
        var normalization = statistics.normalization
        if let c = start {
            avgNeighbors = c.avgNeighbors
            normalization = Normalization(targetMean: c.targetMean, targetStd: c.targetStd,
                                          scalarMean: c.scalarMean, scalarStd: c.scalarStd)
        }
        train = train.map { preparer.standardize($0, normalization) }
        validation = validation.map { preparer.standardize($0, normalization) }
        let standardTargets = train.map { normalization.standardize(targets: $0.targets!, species: $0.species, times: t) }
        let termCounts = train.map { PropensityLoss.termCount(species: $0.species, trainSpecies: tc.trainSpecies, times: t) }
        log("data: \(train.count) training snapshots (\(Int(statistics.nodes)) particles, \(String(format: "%.2f", avgNeighbors)) "
            + "neighbours on average) from \(trainPath)"
            + (validationPath.map { ", \(validation.count) validation snapshots from \($0)" } ?? "")
            + String(format: "; prepared in %.1f s", Date().timeIntervalSince(loadStart)))

        // Model and optimiser.
        let model = PropensityModel(config: mc, avgNeighbors: avgNeighbors)
        var rng = RandomSource(seed: tc.seed)
        var parameters = model.layout.initialParameters(using: &rng)
        var adam = Adam(parameterCount: parameters.count, config: tc)
        var epoch = 0, batchInEpoch = 0
        if let c = start {
            guard c.parameters.count == parameters.count else {
                throw ValidationFailure("the checkpoint has \(c.parameters.count) parameters, the model \(parameters.count)")
            }
            parameters = c.parameters
            adam.m = c.adamM
            adam.v = c.adamV
            adam.step = c.step
            epoch = c.epoch
            batchInEpoch = c.batchInEpoch
            if c.rngState.count == 5 {
                rng.state = (c.rngState[0], c.rngState[1], c.rngState[2], c.rngState[3])
                rng.spareNormal = c.rngState[4] == UInt64.max ? nil : Double(bitPattern: c.rngState[4])
            }
        }
        try world.broadcast(&parameters)
        log("model: \(parameters.count) parameters, \(mc.layers) layers, \(mc.channels) channels, lmax \(mc.lmax); "
            + "times \(mc.times); trained on species \(tc.trainSpecies.map { $0 < speciesNames.count ? speciesNames[$0] : "\($0)" })")
        if world.isRoot {
            try Data(config.json().utf8).write(to: URL(fileURLWithPath: outDirectory + "/config.json"))
        }

        let batchSize = tc.batchSize
        let batchesPerEpoch = (train.count + batchSize - 1) / batchSize
        let totalSteps = tc.epochs * batchesPerEpoch
        var gradient = [Float](repeating: 0, count: parameters.count)
        var snapshotGradient = gradient
        var stepsThisRun = 0
        let runStart = Date()
        var lastReport = Date.distantPast

        func saveCheckpoint() throws {
            guard world.isRoot else { return }
            let spare = rng.spareNormal.map { $0.bitPattern } ?? UInt64.max
            let metadata = jsonLine(["train": trainPath, "validation": validationPath ?? NSNull(),
                                     "command": commandLine, "species_names": speciesNames])
            let c = Checkpoint(parameters: parameters, adamM: adam.m, adamV: adam.v, step: adam.step, epoch: epoch,
                               batchInEpoch: batchInEpoch, rngState: [rng.state.0, rng.state.1, rng.state.2, rng.state.3, spare],
                               configJSON: config.json(), metadataJSON: metadata, avgNeighbors: avgNeighbors,
                               targetMean: normalization.targetMean, targetStd: normalization.targetStd,
                               scalarMean: normalization.scalarMean, scalarStd: normalization.scalarStd)
            try c.write(to: outDirectory + "/" + Checkpoint.fileName(step: adam.step))
            Checkpoint.prune(directory: outDirectory, keep: tc.keepCheckpoints)
        }

        // The loop: epochs, batches, snapshots.
        while epoch < tc.epochs {
            let order = epochOrder(seed: tc.seed, epoch: epoch, count: train.count)
            let epochStart = Date()
            var epochLoss = 0.0, epochSteps = 0
            while batchInEpoch < batchesPerEpoch {
                if let maxSteps, stepsThisRun >= maxSteps {
                    try saveCheckpoint()
                    log("stopped after \(stepsThisRun) steps (--max-steps); checkpoint written")
                    return
                }
                let batch = order[(batchInEpoch * batchSize)..<min((batchInEpoch + 1) * batchSize, train.count)]
                // The loss is normalised by the count of terms in the whole batch, on every rank.
                let globalCount = batch.reduce(0) { $0 + termCounts[$1] }
                var lossSum = 0.0
                for i in gradient.indices { gradient[i] = 0 }
                if globalCount > 0 {
                    for s in rankSlice(batch, rank: world.rank, size: world.size) {
                        let p = train[s]
                        let predictions = model.forward(parameters: parameters, input: p.input)
                        var gPred = [Float](repeating: 0, count: predictions.count)
                        lossSum += PropensityLoss.evaluate(predictions: predictions, targets: standardTargets[s],
                                                           species: p.species, trainSpecies: tc.trainSpecies, times: t,
                                                           globalCount: globalCount, gradient: &gPred)
                        // Per-snapshot gradient, then added in batch order.
                        for i in snapshotGradient.indices { snapshotGradient[i] = 0 }
                        model.backward(parameters: parameters, input: p.input, gradPredictions: gPred, gradient: &snapshotGradient)
                        for i in gradient.indices { gradient[i] += snapshotGradient[i] }
                    }
                }
                if world.size > 1 {
                    try world.allReduce(&gradient, .sum)
                    lossSum = try world.allReduce(lossSum, .sum)
                }
                guard lossSum.isFinite else {
                    throw ValidationFailure("non-finite loss at step \(adam.step + 1) (epoch \(epoch + 1), batch \(batchInEpoch + 1)); "
                                            + "the last good checkpoint is kept")
                }
                let report = adam.update(parameters: &parameters, gradient: &gradient, totalSteps: totalSteps)
                batchInEpoch += 1
                stepsThisRun += 1
                epochLoss += lossSum
                epochSteps += 1

                if Date().timeIntervalSince(lastReport) > 2 || batchInEpoch == batchesPerEpoch {
                    lastReport = Date()
                    let elapsed = Date().timeIntervalSince(runStart)
                    let rate = Double(stepsThisRun * batchSize) / max(elapsed, 1e-9)
                    let remaining = Double(totalSteps - adam.step) * Double(batchSize) / max(rate, 1e-9)
                    log("epoch \(epoch + 1)/\(tc.epochs) step \(adam.step)/\(totalSteps) "
                        + String(format: "loss %.4f  lr %.2e  |g| %.3g  %.2f snapshots/s  ETA %@",
                                 lossSum, report.learningRate, report.gradientNorm, rate, duration(remaining)))
                }
            }

            // End of the epoch: validation, one metrics line, checkpoint.
            epoch += 1
            batchInEpoch = 0
            var line: [String: Any] = [
                "epoch": epoch, "step": adam.step,
                "train_loss": epochSteps > 0 ? epochLoss / Double(epochSteps) : NSNull(),
                "learning_rate": config.training.learningRate * config.training.schedule.factor(step: max(adam.step - 1, 0), totalSteps: totalSteps),
                "seconds": Date().timeIntervalSince(epochStart),
            ]
            if !validation.isEmpty {
                let (metrics, loss) = try score(model: model, parameters: parameters, normalization: normalization,
                                                snapshots: validation, shared: validationShared,
                                                trainSpecies: tc.trainSpecies, world: world)
                line["validation"] = ["loss": loss.isFinite ? loss : NSNull(), "snapshots": metrics.snapshots,
                                      "times": validationShared.map { mc.times[$0.model] },
                                      "species": speciesScores(metrics, speciesNames: speciesNames)] as [String: Any]
                let summary = validationShared.enumerated().map { q, pair in
                    String(format: "t=%g ρ=%.3f", mc.times[pair.model], metrics.pearsonPooled(species: tc.trainSpecies[0], time: q))
                }.joined(separator: "  ")
                log("epoch \(epoch) validation: loss \(String(format: "%.4f", loss))  \(summary)")
            }
            if world.isRoot {
                let path = outDirectory + "/metrics.jsonl"
                if !fm.fileExists(atPath: path) { fm.createFile(atPath: path, contents: nil) }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data((jsonLine(line) + "\n").utf8))
                try handle.close()
            }
            if epoch % tc.checkpointEvery == 0 || epoch == tc.epochs { try saveCheckpoint() }
        }
        log("done: \(adam.step) steps, \(duration(Date().timeIntervalSince(runStart))); checkpoints in \(outDirectory)")
    }
}
