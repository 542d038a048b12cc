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

/// Scores of a model on a list of snapshots, split over the ranks: metrics in physical units at
/// the shared times, and the standardised loss over the trained species.
///
/// Each rank scores its `EvaluationShard` (every snapshot exactly once over the ranks); the sums
/// of each snapshot (Pearson sums Σx, Σy, Σx², Σy², Σxy, n per (species, time), per-snapshot ρ,
/// squared errors, loss) are one row of a `SnapshotOrderedSum`, so the result is the same bits
/// at any rank count. Collective: every rank calls it. `observe`, if given, sees each snapshot
/// this rank scores with its predictions `[N][T]` in physical units.
func score(model: PropensityModel, parameters: [Float], normalization: Normalization, snapshots: [Int],
           read: (Int) throws -> PreparedSnapshot, shared: [(model: Int, data: Int)], trainSpecies: [Int],
           world: Communicator, observe: ((PreparedSnapshot, [Float]) -> Void)? = nil)
    throws -> (metrics: PropensityMetrics, loss: Double) {
    let t = model.config.times.count, ts = shared.count, speciesCount = model.config.speciesCount
    let shard = EvaluationShard(snapshots: snapshots, rank: world.rank, size: world.size)
    let width = PropensityMetrics(species: speciesCount, times: ts).flat.count + 2
    var rows = SnapshotOrderedSum(rowCount: snapshots.count, width: width)
    for (row, k) in zip(shard.positions, shard.snapshots) {
        let p = try read(k)
        guard let targets = p.targets else { continue }
        var metrics = PropensityMetrics(species: speciesCount, times: ts)
        var lossSum = 0.0, lossCount = 0.0
        let z = model.forward(parameters: parameters, input: p.input)
        let physical = normalization.physical(predictions: z, species: p.species, times: t)
        observe?(p, physical)
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
        rows.set(row: row, metrics.flat + [lossSum, lossCount])
    }
    let total = try rows.reduce(over: world)
    let metrics = PropensityMetrics(species: speciesCount, times: ts, flat: Array(total.dropLast(2)))
    let lossSum = total[width - 2], lossCount = total[width - 1]
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
///
/// Data-parallel over the ranks of `world` (docs/distributed.md), bitwise the same at any rank
/// count for a given global batch: each step's global batch comes from `TrainingSchedule`, each
/// rank computes the gradient of each of its snapshots on its own and adds it to the
/// `GradientReducer`; loss sums and statistics go through `SnapshotOrderedSum`. MPI stays at the
/// edges: reading, statistics, the two reductions of a step, the stop decision. Rank 0 alone
/// writes the log, metrics.jsonl and the checkpoints.
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
    /// How the gradients are summed over the ranks (exact by default).
    let reduction: GradientReductionMode
    /// Transfer learning: a checkpoint (or run directory) whose parameters start this new run.
    var initFrom: String? = nil
    /// Transfer learning: the blocks kept fixed ("encoder" or block-name prefixes), see `FrozenBlocks`.
    var freeze: String? = nil

    func log(_ line: String) { if world.isRoot { printNow(line) } }

    mutating func run() throws {
        let fm = FileManager.default
        if world.isRoot { try fm.createDirectory(atPath: outDirectory, withIntermediateDirectories: true) }
        try world.barrier()
        let existing = Checkpoint.list(in: outDirectory)
        var start: Checkpoint? = nil
        // Transfer learning: the source run, and the frozen items (recorded in the checkpoints'
        // metadata, so that --resume freezes the same blocks).
        var transfer: TransferStart? = nil
        var initFromRecord: String? = nil
        var freezeItems: [String]? = freeze.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if resume, let last = existing.last {
            let c = try Checkpoint.read(path: last)
            let saved = try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8))
            guard saved.model == config.model || config.model == ModelConfig() else {
                throw ValidationFailure("--resume: the model configuration differs from the one in \(last)")
            }
            config = saved
            if let epochsOverride { config.training.epochs = epochsOverride }  // may extend a run
            start = c
            let metadata = (try? JSONSerialization.jsonObject(with: Data(c.metadataJSON.utf8))) as? [String: Any] ?? [:]
            let savedFreeze = metadata["freeze"] as? [String]
            if let freezeItems, freezeItems != (savedFreeze ?? []) {
                throw ValidationFailure("--resume: --freeze \(freezeItems.joined(separator: ",")) differs from the run's "
                                        + (savedFreeze.map { "--freeze \($0.joined(separator: ","))" } ?? "(no freeze)")
                                        + " recorded in \(last)")
            }
            freezeItems = savedFreeze
            initFromRecord = metadata["init_from"] as? String
            log("resuming from \(last): step \(c.step), epoch \(c.epoch + 1), batch \(c.batchInEpoch)")
        } else if let initFrom, existing.isEmpty {
            let source = try TransferStart(path: initFrom)
            config.model = try source.modelConfig(requested: config.model)
            transfer = source
            initFromRecord = source.source.path
            if resume { log("--resume: no checkpoint in \(outDirectory), starting a new run from \(source.source.path)") }
        } else if resume {
            log("--resume: no checkpoint in \(outDirectory), starting a new run")
        } else if !existing.isEmpty {
            throw ValidationFailure("\(outDirectory) already holds checkpoints of a run: pass --resume, or choose another --out")
        }
        try config.validate()
        let mc = config.model, tc = config.training
        let t = mc.times.count

        // Data: each rank reads only its own snapshots (statistics shard, batch slices, validation
        // shard), each once, kept in memory up to the cache's budget.
        let preparer = SnapshotPreparer(config: mc)
        let train = SnapshotCache(file: try preparer.open(trainPath, needTargets: true, needAllTimes: true), preparer: preparer)
        let speciesNames = train.file.attributes.speciesNames
        let trainingSnapshots = Array(0..<train.file.snapshotCount)
        let schedule = try TrainingSchedule(snapshots: trainingSnapshots, globalBatchSize: tc.batchSize, seed: tc.seed)
        var validation: SnapshotCache? = nil
        var validationShared: [(model: Int, data: Int)] = []
        if let validationPath {
            let file = try preparer.open(validationPath, needTargets: true, needAllTimes: false)
            validationShared = preparer.sharedTimes(file)
            validation = SnapshotCache(file: file, preparer: preparer)
        }

        // Statistics of the whole training set, summed snapshot by snapshot in file order.
        let loadStart = Date()
        let statisticsShard = EvaluationShard(snapshots: trainingSnapshots, rank: world.rank, size: world.size)
        var rows = SnapshotOrderedSum(rowCount: trainingSnapshots.count, width: StatisticsRow.width(mc))
        for (row, k) in zip(statisticsShard.positions, statisticsShard.snapshots) {
            rows.set(row: row, StatisticsRow.values(try train.snapshot(k), mc))
        }
        let statistics = StatisticsRow.statistics(try rows.reduce(over: world), mc)
        // From the training set, or exactly those of the run being resumed.
        var avgNeighbors = statistics.avgNeighbors
        var normalization = statistics.normalization
        if let c = start {
            avgNeighbors = c.avgNeighbors
            normalization = Normalization(targetMean: c.targetMean, targetStd: c.targetStd,
                                          scalarMean: c.scalarMean, scalarStd: c.scalarStd)
        } else if let transfer {
            avgNeighbors = transfer.source.checkpoint.avgNeighbors
            normalization = transfer.normalization(newTargets: statistics.normalization)
        }
        train.normalization = normalization
        validation?.normalization = normalization
        log("data: \(trainingSnapshots.count) training snapshots (\(Int(statistics.nodes)) particles, "
            + "\(String(format: "%.2f", avgNeighbors)) neighbours on average) from \(trainPath)"
            + (validation.map { ", \($0.file.snapshotCount) validation snapshots from \(validationPath!)" } ?? "")
            + String(format: "; statistics in %.1f s on %d rank%@", Date().timeIntervalSince(loadStart), world.size,
                     world.size == 1 ? "" : "s"))

        // Model and optimiser: parameters from rank 0 (or the checkpoint), the same on every rank.
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
        if let transfer, start == nil {
            parameters = transfer.source.parameters  // a new run: fresh optimiser, step 0
            log("initialised from \(transfer.source.path) (step \(transfer.source.checkpoint.step)); "
                + "targets standardised on the new training data")
        }
        var frozen: FrozenBlocks? = nil
        if let freezeItems {
            let f = try FrozenBlocks.resolve(items: freezeItems, layout: model.layout)
            adam.trainable = f.trainable
            frozen = f
            log("frozen: \(f.items.joined(separator: ",")) (\(f.blocks.count) blocks, \(f.frozenCount) of "
                + "\(parameters.count) parameters); training the other \(parameters.count - f.frozenCount)")
        }
        try world.broadcast(&parameters, from: 0)
        // Backward stops below the lowest stage with a trained parameter (a frozen encoder: the decoder only).
        let firstTrained = frozen?.trainable.firstIndex(of: true) ?? 0
        log("model: \(parameters.count) parameters, \(mc.layers) layers, \(mc.channels) channels, lmax \(mc.lmax); "
            + "times \(mc.times); trained on species \(tc.trainSpecies.map { $0 < speciesNames.count ? speciesNames[$0] : "\($0)" }); "
            + "global batch \(tc.batchSize) over \(world.size) rank\(world.size == 1 ? "" : "s"), \(reduction.rawValue) gradient sum")
        if world.isRoot {
            try Data(config.json().utf8).write(to: URL(fileURLWithPath: outDirectory + "/config.json"))
            if initFromRecord != nil || frozen != nil {  // also in every checkpoint's metadata
                var fields = frozen?.metadata ?? [:]
                fields["init_from"] = initFromRecord ?? NSNull()
                try Data((jsonLine(fields) + "\n").utf8).write(to: URL(fileURLWithPath: outDirectory + "/transfer.json"))
            }
        }

        let totalSteps = tc.epochs * schedule.stepsPerEpoch
        let reducer = GradientReducer(parameterCount: parameters.count, mode: reduction)
        var gradient = [Float](repeating: 0, count: parameters.count)
        var snapshotGradient = gradient
        var stepsThisRun = 0
        var communicationSeconds = 0.0
        let runStart = Date()
        var lastReport = Date.distantPast

        func saveCheckpoint() throws {
            guard world.isRoot else { return }
            let spare = rng.spareNormal.map { $0.bitPattern } ?? UInt64.max
            var fields: [String: Any] = ["train": trainPath, "validation": validationPath ?? NSNull(),
                                         "command": commandLine, "species_names": speciesNames, "ranks": world.size]
            if let initFromRecord { fields["init_from"] = initFromRecord }
            if let frozen { fields.merge(frozen.metadata) { $1 } }
            let metadata = jsonLine(fields)
            let c = Checkpoint(parameters: parameters, adamM: adam.m, adamV: adam.v, step: adam.step, epoch: epoch,
                               batchInEpoch: batchInEpoch, rngState: [rng.state.0, rng.state.1, rng.state.2, rng.state.3, spare],
                               configJSON: config.json(), metadataJSON: metadata, avgNeighbors: avgNeighbors,
                               targetMean: normalization.targetMean, targetStd: normalization.targetStd,
                               scalarMean: normalization.scalarMean, scalarStd: normalization.scalarStd)
            try c.write(to: outDirectory + "/" + Checkpoint.fileName(step: adam.step))
            Checkpoint.prune(directory: outDirectory, keep: tc.keepCheckpoints)
        }

        // The loop: epochs, steps, this rank's snapshots of each step.
        while epoch < tc.epochs {
            let plan = schedule.epoch(epoch)
            let epochStart = Date()
            var epochLoss = 0.0, epochSteps = 0
            while batchInEpoch < plan.stepCount {
                // Step boundary: a stop signal on any rank stops every rank here, after a checkpoint.
                if let signal = try world.agreedStopSignal() {
                    try saveCheckpoint()
                    log("\(StopSignal.name(signal)): checkpoint at step \(adam.step) (epoch \(epoch + 1), batch \(batchInEpoch)) "
                        + "in \(outDirectory); exit \(ExitStatus.checkpointedResubmit) to be resubmitted with --resume")
                    throw StoppedForResubmission(signal: signal, detail: "checkpoint at step \(adam.step) in \(outDirectory)")
                }
                if let maxSteps, stepsThisRun >= maxSteps {
                    try saveCheckpoint()
                    log("stopped after \(stepsThisRun) steps (--max-steps); checkpoint written")
                    return
                }
                let local = plan.localBatch(step: batchInEpoch, rank: world.rank, size: world.size)
                reducer.reset()
                // Per snapshot: [loss sum, loss terms], in batch order.
                var losses = SnapshotOrderedSum(rowCount: local.globalCount, width: 2)
                for (row, k) in zip(local.positions, local.snapshots) {
                    let p = try train.snapshot(k)
                    let targets = normalization.standardize(targets: p.targets!, species: p.species, times: t)
                    let predictions = model.forward(parameters: parameters, input: p.input)
                    var gPred = [Float](repeating: 0, count: predictions.count)
                    // The gradient of this snapshot's loss SUM, alone: bitwise the same on any rank.
                    let loss = PropensityLoss.evaluate(predictions: predictions, targets: targets, species: p.species,
                                                       trainSpecies: tc.trainSpecies, times: t, globalCount: 1,
                                                       gradient: &gPred)
                    for i in snapshotGradient.indices { snapshotGradient[i] = 0 }
                    model.backward(parameters: parameters, input: p.input, gradPredictions: gPred, gradient: &snapshotGradient,
                                   firstTrained: firstTrained)
                    if let frozen {  // frozen blocks: no gradient (and none all-reduced)
                        for b in frozen.blocks { for i in b.range { snapshotGradient[i] = 0 } }
                    }
                    reducer.add(snapshotGradient, snapshot: k)
                    let terms = PropensityLoss.termCount(species: p.species, trainSpecies: tc.trainSpecies, times: t)
                    losses.set(row: row, [loss, Double(terms)])
                }
                // Throws NonFiniteGradient on every rank alike; the step is then not applied.
                communicationSeconds += try reducer.reduce(over: world, into: &gradient).communicationSeconds
                let totals = try losses.reduce(over: world)
                let terms = totals[1]
                let stepLoss = terms > 0 ? totals[0] / terms : 0
                guard stepLoss.isFinite else {  // the same total on every rank: all ranks stop here
                    throw ValidationFailure("non-finite loss at step \(adam.step + 1) (epoch \(epoch + 1), batch \(batchInEpoch + 1)); "
                                            + "the last good checkpoint is kept")
                }
                // The mean over the global batch's terms.
                if terms > 0 { for i in gradient.indices { gradient[i] = Float(Double(gradient[i]) / terms) } }
                let report = adam.update(parameters: &parameters, gradient: &gradient, totalSteps: totalSteps)
                batchInEpoch += 1
                stepsThisRun += 1
                epochLoss += stepLoss
                epochSteps += 1

                if world.isRoot && (Date().timeIntervalSince(lastReport) > 2 || batchInEpoch == plan.stepCount) {
                    lastReport = Date()
                    let elapsed = Date().timeIntervalSince(runStart)
                    let rate = Double(stepsThisRun * tc.batchSize) / max(elapsed, 1e-9)
                    let remaining = Double(totalSteps - adam.step) * Double(tc.batchSize) / max(rate, 1e-9)
                    log("epoch \(epoch + 1)/\(tc.epochs) step \(adam.step)/\(totalSteps) "
                        + String(format: "loss %.4f  lr %.2e  |g| %.3g  %.2f snapshots/s  all-reduce %.1f ms/step  ETA %@",
                                 stepLoss, report.learningRate, report.gradientNorm, rate,
                                 1000 * communicationSeconds / Double(stepsThisRun), duration(remaining)))
                }
            }

            // End of the epoch: validation over every rank, one metrics line, checkpoint.
            epoch += 1
            batchInEpoch = 0
            var line: [String: Any] = [
                "epoch": epoch, "step": adam.step, "ranks": world.size,
                "train_loss": epochSteps > 0 ? epochLoss / Double(epochSteps) : NSNull(),
                "learning_rate": config.training.learningRate * config.training.schedule.factor(step: max(adam.step - 1, 0), totalSteps: totalSteps),
                "seconds": Date().timeIntervalSince(epochStart),
            ]
            if let validation {
                let (metrics, loss) = try score(model: model, parameters: parameters, normalization: normalization,
                                                snapshots: Array(0..<validation.file.snapshotCount), read: validation.snapshot,
                                                shared: validationShared, trainSpecies: tc.trainSpecies, world: world)
                line["validation"] = ["loss": loss.isFinite ? loss : NSNull(), "snapshots": metrics.snapshots,
                                      "times": validationShared.map { mc.times[$0.model] },
                                      "species": speciesScores(metrics, speciesNames: speciesNames)] as [String: Any]
                let summary = validationShared.enumerated().map { q, pair in
                    String(format: "t=%g ρ=%.3f", mc.times[pair.model], metrics.pearsonPooled(species: tc.trainSpecies[0], time: q))
                }.joined(separator: "  ")
                log("epoch \(epoch) validation: loss \(String(format: "%.4f", loss))  \(summary)")
            }
            if world.isRoot {
                let path = outDirectory + "/metrics.jsonl", url = URL(fileURLWithPath: path)
                do {
                    if !fm.fileExists(atPath: path) { try Data().write(to: url) }
                    let handle = try FileHandle(forWritingTo: url)
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data((jsonLine(line) + "\n").utf8))
                    try handle.close()
                } catch {
                    throw ValidationFailure("cannot append to \(path) (the run's metrics): \(error.localizedDescription)")
                }
            }
            if epoch % tc.checkpointEvery == 0 || epoch == tc.epochs { try saveCheckpoint() }
        }
        log("done: \(adam.step) steps, \(duration(Date().timeIntervalSince(runStart))); checkpoints in \(outDirectory)")
    }
}
