import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

/// Everything a training run changes as it goes, and all that a checkpoint saves of it: the
/// parameters (the same on every rank), Adam's moments and step, the random source, the
/// position in the schedule; with the network and the frozen blocks.
public struct TrainingState {
    public let model: PropensityModel
    public var parameters: [Float]
    public var adam: Adam
    public var rng: RandomSource
    /// The epoch in progress (0-based) and the next batch of it.
    public var epoch = 0
    public var batchInEpoch = 0
    public let frozen: FrozenBlocks?
    /// The transfer-learning source recorded in the metadata, if any.
    public let initFrom: String?

    /// Backward stops below the lowest stage with a trained parameter (a frozen encoder: the
    /// decoder only).
    public var firstTrained: Int { frozen?.trainable.firstIndex(of: true) ?? 0 }

    /// `rng`'s whole state as a checkpoint stores it: the four words, then the spare normal's
    /// bits (all ones for none).
    public var rngState: [UInt64] {
        let spare = rng.spareNormal.map { $0.bitPattern } ?? UInt64.max
        return [rng.state.0, rng.state.1, rng.state.2, rng.state.3, spare]
    }

    /// Continues exactly where checkpoint `c` stopped.
    mutating func restore(_ c: Checkpoint) throws {
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
}

extension Trainer {
    /// The network, the parameters (initialized from the seed, or from the checkpoint of the
    /// start), Adam (masked by the frozen blocks) and the random source; the parameters are
    /// rank 0's on every rank.
    public func initialState(_ start: TrainingStart, _ data: TrainingData) throws -> TrainingState {
        let mc = start.config.model, tc = start.config.training
        let model = PropensityModel(config: mc, avgNeighbors: data.avgNeighbors)
        var rng = RandomSource(seed: tc.seed)
        let parameters = model.layout.initialParameters(using: &rng)
        var adam = Adam(parameterCount: parameters.count, config: tc)
        var frozen: FrozenBlocks? = nil
        if let items = start.freezeItems {
            frozen = try FrozenBlocks.resolve(items: items, layout: model.layout)
            adam.trainable = frozen!.trainable
        }
        var state = TrainingState(model: model, parameters: parameters, adam: adam, rng: rng, frozen: frozen,
                                  initFrom: start.initFrom)
        if let c = start.resumed { try state.restore(c) }
        if let transfer = start.transfer {
            state.parameters = transfer.source.parameters  // a new run: fresh optimizer, step 0
            log("initialized from \(transfer.source.path) (step \(transfer.source.checkpoint.step)); "
                + "targets standardized on the new training data")
        }
        if let f = frozen {
            log("frozen: \(f.items.joined(separator: ",")) (\(f.blocks.count) blocks, \(f.frozenCount) of "
                + "\(parameters.count) parameters); training the other \(parameters.count - f.frozenCount)")
        }
        try world.broadcast(&state.parameters, from: 0)
        log(modelLine(start.config, parameterCount: parameters.count, speciesNames: data.speciesNames))
        return state
    }

    func modelLine(_ config: RunConfig, parameterCount: Int, speciesNames: [String]) -> String {
        let mc = config.model, tc = config.training
        return "model: \(parameterCount) parameters, \(mc.layers) layers, \(mc.channels) channels, lmax \(mc.lmax); "
            + "times \(mc.times); trained on species \(tc.trainSpecies.map { $0 < speciesNames.count ? speciesNames[$0] : "\($0)" }); "
            + "global batch \(tc.batchSize) over \(world.size) rank\(world.size == 1 ? "" : "s"), \(reduction.rawValue) gradient sum"
    }

    /// Rank 0: the run's config.json, and transfer.json when the run is a transfer or freezes;
    /// metrics.jsonl keeps the epochs the state has done (a run stopped after an epoch's line
    /// and before its checkpoint writes that line again when it resumes).
    func writeRunFiles(_ state: TrainingState) throws {
        guard world.isRoot else { return }
        try trimMetrics(toEpoch: state.epoch)
        try Data(config.json().utf8).write(to: URL(fileURLWithPath: outDirectory + "/config.json"))
        if state.initFrom != nil || state.frozen != nil {  // also in every checkpoint's metadata
            var fields = state.frozen?.metadata ?? [:]
            fields["init_from"] = state.initFrom ?? NSNull()
            try Data((jsonLine(fields) + "\n").utf8).write(to: URL(fileURLWithPath: outDirectory + "/transfer.json"))
        }
    }

    /// The checkpoint of `state`: parameters, moments, position, random state, configuration,
    /// statistics, and the metadata (data files, command line, ranks, transfer learning).
    public func checkpoint(_ state: TrainingState, data: TrainingData) -> Checkpoint {
        var fields: [String: Any] = ["train": trainPaths.joined(separator: ", "), "train_files": trainPaths,
                                     "validation": validationPaths.isEmpty ? NSNull() : validationPaths.joined(separator: ", "),
                                     "validation_files": validationPaths, "train_snapshots": data.train.file.snapshotCount,
                                     "command": commandLine, "species_names": data.speciesNames, "ranks": world.size]
        if let initFrom = state.initFrom { fields["init_from"] = initFrom }
        if let frozen = state.frozen { fields.merge(frozen.metadata) { $1 } }
        let n = data.normalization
        return Checkpoint(parameters: state.parameters, adamM: state.adam.m, adamV: state.adam.v, step: state.adam.step,
                          epoch: state.epoch, batchInEpoch: state.batchInEpoch, rngState: state.rngState,
                          configJSON: config.json(), metadataJSON: jsonLine(fields), avgNeighbors: data.avgNeighbors,
                          targetMean: n.targetMean, targetStd: n.targetStd, scalarMean: n.scalarMean, scalarStd: n.scalarStd)
    }

    /// Rank 0 writes the checkpoint of `state` to the run directory and prunes the old ones.
    func save(_ state: TrainingState, data: TrainingData) throws {
        guard world.isRoot else { return }
        try checkpoint(state, data: data).write(to: outDirectory + "/" + Checkpoint.fileName(step: state.adam.step))
        Checkpoint.prune(directory: outDirectory, keep: config.training.keepCheckpoints)
    }
}
