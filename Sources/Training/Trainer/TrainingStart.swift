import EquivariantNet
import Foundation
import GlassData

/// Where a training run starts.
public enum StartKind {
    /// A new run: parameters from the seed, statistics from the training data.
    case new
    /// The newest checkpoint in the run directory (`--resume`): everything as it was saved.
    case resume(Checkpoint, path: String)
    /// Another run's checkpoint (`--init-from`): its parameters, a fresh optimizer.
    case transfer(TransferStart)
}

/// The start of a run, as `Trainer.chooseStart` decides it: where from, the run's configuration,
/// and the transfer-learning record (kept in the checkpoints' metadata, so that --resume
/// freezes the same blocks).
public struct TrainingStart {
    public var kind: StartKind
    public var config: RunConfig
    /// The frozen items (`FrozenBlocks`), or nil when nothing is frozen.
    public var freezeItems: [String]?
    /// The checkpoint this run (or the run it resumes) was initialized from.
    public var initFrom: String?

    /// The checkpoint being resumed, if any.
    public var resumed: Checkpoint? {
        if case .resume(let c, _) = kind { return c }
        return nil
    }

    /// The transfer-learning source, if any.
    public var transfer: TransferStart? {
        if case .transfer(let t) = kind { return t }
        return nil
    }
}

extension Trainer {
    /// Chooses the start: with --resume and a checkpoint in the run directory, that run;
    /// else with --init-from, a transfer from that checkpoint; else a new run. A run directory
    /// holding checkpoints without --resume is an error. Creates the run directory (rank 0).
    public func chooseStart() throws -> TrainingStart {
        if world.isRoot { try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true) }
        try world.barrier()
        let existing = Checkpoint.list(in: outDirectory)
        let freezeItems = freeze.map(FrozenBlocks.items(of:))
        var start = TrainingStart(kind: .new, config: config, freezeItems: freezeItems, initFrom: nil)
        if resume, let last = existing.last {
            start = try resumeStart(last, freezeItems: freezeItems)
        } else if let initFrom, existing.isEmpty {
            let source = try TransferStart(path: initFrom)
            start.config.model = try source.modelConfig(requested: config.model)
            start.kind = .transfer(source)
            start.initFrom = source.source.path
            if resume { log("--resume: no checkpoint in \(outDirectory), starting a new run from \(source.source.path)") }
        } else if resume {
            log("--resume: no checkpoint in \(outDirectory), starting a new run")
        } else if !existing.isEmpty {
            throw ValidationFailure("\(outDirectory) already holds checkpoints of a run: pass --resume, or choose another --out")
        }
        try start.config.validate()
        return start
    }

    /// The start of a resumed run from checkpoint `path`: its configuration (the model asked
    /// for must be none given or the same; --epochs may extend the run) and its freeze (a
    /// different --freeze is an error).
    func resumeStart(_ path: String, freezeItems: [String]?) throws -> TrainingStart {
        let c = try Checkpoint.read(path: path)
        var saved = try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8))
        _ = try config.model.adopting(saved.model, context: "--resume: the model configuration differs from the one in \(path)")
        if let epochsOverride { saved.training.epochs = epochsOverride }  // may extend a run
        let metadata = c.metadata
        let savedFreeze = metadata["freeze"] as? [String]
        if let freezeItems, freezeItems != (savedFreeze ?? []) {
            throw ValidationFailure("--resume: --freeze \(freezeItems.joined(separator: ",")) differs from the run's "
                                    + (savedFreeze.map { "--freeze \($0.joined(separator: ","))" } ?? "(no freeze)")
                                    + " recorded in \(path)")
        }
        log("resuming from \(path): step \(c.step), epoch \(c.epoch + 1), batch \(c.batchInEpoch)")
        return TrainingStart(kind: .resume(c, path: path), config: saved, freezeItems: savedFreeze,
                             initFrom: metadata["init_from"] as? String)
    }
}
