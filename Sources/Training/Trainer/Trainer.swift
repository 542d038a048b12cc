import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

/// The training run: data, model, optimizer, and the one loop over epochs and batches.
///
/// Data-parallel over the ranks of `world` (docs/distributed.md), bitwise the same at any rank
/// count for a given global batch: each step's global batch comes from `TrainingSchedule`, each
/// rank computes the gradient of each of its snapshots on its own and adds it to the
/// `GradientReducer`; loss sums and statistics go through `SnapshotOrderedSum`. MPI stays at the
/// edges: reading, statistics, the two reductions of a step, the stop decision. Rank 0 alone
/// writes the log, metrics.jsonl and the checkpoints.
///
/// `run()` is the loop; each of its steps is a method of its own (TrainingStart.swift,
/// TrainingData.swift, TrainingState.swift, OptimizerStep.swift, EpochEnd.swift):
///
///     choose the start (new, resume, transfer)  → chooseStart()
///     prepare data and statistics                → prepareData(_:)
///     model, parameters, optimizer               → initialState(_:_:)
///     per epoch, per step: stop signals, one optimizer step (forward/backward per local
///     snapshot, all-reduce, Adam)                → stopRequested(_:), step(_:plan:data:)
///     end of epoch: validation, metrics line, checkpoint → endEpoch(_:_:data:)
public struct Trainer {
    public let world: Communicator
    /// The training files (a folder stands for its `.h5` files), read as one set in this order.
    public let trainPaths: [String]
    /// Train on the first this many snapshots of the set only (learning curves); nil = all.
    public var trainSnapshots: Int? = nil
    /// The validation files scored after every epoch; none when empty.
    public let validationPaths: [String]
    public let outDirectory: String
    public var config: RunConfig
    public let resume: Bool
    public let commandLine: [String]
    /// Stop after this many optimizer steps in this invocation (tests of resume); nil = no limit.
    public let maxSteps: Int?
    /// --epochs, which may also extend a resumed run.
    public let epochsOverride: Int?
    /// How the gradients are summed over the ranks (exact by default).
    public let reduction: GradientReductionMode
    /// Transfer learning: a checkpoint (or run directory) whose parameters start this new run.
    public var initFrom: String?
    /// Transfer learning: the blocks kept fixed ("encoder" or block-name prefixes), see `FrozenBlocks`.
    public var freeze: String?
    /// Where rank 0's log lines go (standard output by default).
    public var output: (String) -> Void = { printNow($0) }

    public init(world: Communicator, trainPaths: [String], validationPaths: [String] = [], outDirectory: String,
                config: RunConfig, resume: Bool = false, commandLine: [String] = [], maxSteps: Int? = nil,
                epochsOverride: Int? = nil, reduction: GradientReductionMode = .exact, initFrom: String? = nil,
                freeze: String? = nil) {
        self.world = world
        self.trainPaths = trainPaths
        self.validationPaths = validationPaths
        self.outDirectory = outDirectory
        self.config = config
        self.resume = resume
        self.commandLine = commandLine
        self.maxSteps = maxSteps
        self.epochsOverride = epochsOverride
        self.reduction = reduction
        self.initFrom = initFrom
        self.freeze = freeze
    }

    func log(_ line: String) { if world.isRoot { output(line) } }

    /// The whole run: returns when it is done or after `maxSteps`; throws
    /// `StoppedForResubmission` after a stop signal (a checkpoint written).
    public mutating func run() throws {
        let start = try chooseStart()
        config = start.config
        let data = try prepareData(start)
        var state = try initialState(start, data)
        try writeRunFiles(state)
        var progress = TrainingProgress()
        while state.epoch < config.training.epochs {
            let plan = data.schedule.epoch(state.epoch)
            var epoch = EpochTotals()
            while state.batchInEpoch < plan.stepCount {
                if try stopRequested(state, data: data, stepsThisRun: progress.steps) { return }
                let result = try step(&state, plan: plan, data: data)
                progress.add(result)
                epoch.add(loss: result.loss)
                report(state, &progress, result, lastOfEpoch: state.batchInEpoch == plan.stepCount, data: data)
            }
            try endEpoch(&state, epoch, data: data)
        }
        log("done: \(state.adam.step) steps, \(duration(Date().timeIntervalSince(progress.start))); checkpoints in \(outDirectory)")
    }

    /// Step boundary: a stop signal on any rank stops every rank here, after a checkpoint
    /// (throws `StoppedForResubmission`); `maxSteps` reached: a checkpoint, and true.
    func stopRequested(_ state: TrainingState, data: TrainingData, stepsThisRun: Int) throws -> Bool {
        if let signal = try world.agreedStopSignal() {
            try save(state, data: data)
            log("\(StopSignal.name(signal)): checkpoint at step \(state.adam.step) (epoch \(state.epoch + 1), "
                + "batch \(state.batchInEpoch)) in \(outDirectory); exit \(ExitStatus.checkpointedResubmit) to be resubmitted with --resume")
            throw StoppedForResubmission(signal: signal, detail: "checkpoint at step \(state.adam.step) in \(outDirectory)")
        }
        if let maxSteps, stepsThisRun >= maxSteps {
            try save(state, data: data)
            log("stopped after \(stepsThisRun) steps (--max-steps); checkpoint written")
            return true
        }
        return false
    }
}

/// Steps, communication time and wall time of this invocation, for the progress lines.
struct TrainingProgress {
    var steps = 0
    var communicationSeconds = 0.0
    let start = Date()
    var lastReport = Date.distantPast

    mutating func add(_ step: StepResult) {
        steps += 1
        communicationSeconds += step.communicationSeconds
    }
}

/// The training loss of one epoch: the mean of its steps' losses.
public struct EpochTotals {
    public var lossSum = 0.0
    public var steps = 0
    public let start = Date()

    public init() {}

    public mutating func add(loss: Double) {
        lossSum += loss
        steps += 1
    }

    public var meanLoss: Double? { steps > 0 ? lossSum / Double(steps) : nil }
}
