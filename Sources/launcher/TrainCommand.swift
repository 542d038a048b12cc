import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import Training

/// `launcher train`: trains the network on a snapshot file.
struct TrainCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the equivariant network on a snapshot file.",
        discussion: """
            Every hyper-parameter lives in the run configuration, a JSON file with two optional \
            sections; missing keys take the defaults below (those of docs/model.md), \
            unknown keys are an error. Command-line options override the file.

              {"model": {"channels": 8, "lmax": 3, "layers": 8, "cutoff": 2.0,
                         "radialBasis": 8, "envelopePower": 6, "radialHidden": [16, 16],
                         "decoderHidden": [32, 32], "times": [0.1, 0.5, 2, 5, 12, 30],
                         "speciesCount": 2, "extraScalars": [], "residual": false,
                         "positions": "thermal"},
               "training": {"epochs": 6, "batchSize": 1, "learningRate": 0.001,
                            "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                            "gradientClip": null, "trainSpecies": [0], "seed": 0,
                            "schedule": {"kind": "constant", "warmupSteps": 0,
                                         "minFactor": 0, "decay": 0.5, "stepsPerDecay": 1000},
                            "checkpointEvery": 1, "keepCheckpoints": 3}}

            times: the propensity times the network predicts, matched to the file's by value \
            (the training file must have them all). positions: "thermal" or "inherent" \
            (positions_inherent). extraScalars: names of scalars/<name> datasets, standardized, \
            e.g. ["epot_inherent"], or the computed "displacement_inherent" (|r − r_IS| of each \
            particle, from positions and positions_inherent). trainSpecies: species indices entering the loss (0 = A). \
            schedule.kind: constant, cosine (to minFactor) or exponential (decay per \
            stepsPerDecay steps), after a linear warm-up.

            Writes to DIR: config.json, metrics.jsonl (one JSON line per epoch: training loss, \
            validation loss and Pearson correlations per species and time), and checkpoints \
            checkpoint-<step>.h5 (the last few are kept). --resume continues the newest \
            checkpoint exactly: the same parameters as an uninterrupted run, at any number of ranks \
            (and starts a new run when DIR holds no checkpoint).

            Transfer learning (docs/transfer.md): --init-from CHECKPOINT starts a new run (fresh \
            optimizer, step 0) from a trained model's parameters; the model configuration is the \
            checkpoint's (a different one given here is an error naming the fields), and so are \
            avg_neighbors and the extra scalars' standardization; the targets are standardized on \
            the new training data. --freeze encoder trains only the decoder; --freeze \
            embedding,layer0 (block-name prefixes) freezes those blocks. Frozen parameters do not \
            change at all. Both are recorded in DIR/transfer.json and the checkpoints' metadata; \
            --resume keeps the freeze.

            Under MPI (mpirun -np P / srun -n P) the global batch is shared over the ranks and the \
            run is bitwise the same for any P (docs/distributed.md). SIGUSR1 or SIGTERM: a \
            checkpoint at the next step boundary, then exit status 75 (resubmit with --resume).
            """)

    @Option(name: .long, help: "Training snapshot file (HDF5, with propensity), or a folder of them; repeat for several, read as one set in order.")
    var data: [String] = []

    @Option(name: .long, help: "Held-out snapshot file (or folder) scored after every epoch; repeat for several.")
    var validation: [String] = []

    @Option(name: .long, help: "Train on the first N snapshots of the training set only (learning curves).")
    var trainSnapshots: Int?

    @Option(name: .long, help: "Run directory for checkpoints and metrics.")
    var out: String

    @Option(name: .long, help: "Run configuration (JSON).")
    var config: String?

    @Option(name: .long, help: "Number of epochs (overrides the configuration).")
    var epochs: Int?

    @Option(name: .long, help: "Random seed (overrides the configuration).")
    var seed: UInt64?

    @Option(name: .long, help: "Snapshots per optimizer step, over all ranks (overrides the configuration).")
    var globalBatch: Int?

    @Option(name: .long, help: "Learning rate (overrides the configuration).")
    var learningRate: Double?

    @Option(name: .long, help: "Positions the network reads: thermal or inherent (overrides the configuration).")
    var positions: Positions?

    @Option(name: .long, help: "Comma-separated extra input scalars, e.g. epot_inherent (overrides the configuration).")
    var extraScalars: String?

    @Option(name: .long, help: "Gradient sum over the ranks: exact (fixed point, bitwise the same at any rank count) or fast (Float).")
    var reduction: GradientReductionMode = .exact

    @OptionGroup var threadsOption: ThreadsOption

    @Flag(name: .long, help: "Continue from the newest checkpoint in --out (a new run if there is none).")
    var resume = false

    @Option(name: .long, help: "Transfer learning: start a new run from this checkpoint (or run directory: its newest checkpoint).")
    var initFrom: String?

    @Option(name: .long, help: "Transfer learning: keep these parameter blocks fixed: 'encoder' (all but the decoder) or block-name prefixes, e.g. embedding,layer0,layer1.")
    var freeze: String?

    @Option(name: .long, help: ArgumentHelp("Stop after this many steps, writing a checkpoint (for tests).", visibility: .hidden))
    var maxSteps: Int?

    /// SIGUSR1/SIGTERM: checkpoint at the next step boundary, exit 75 (docs/distributed.md).
    var handlesStopSignals: Bool { true }

    mutating func run(on world: Communicator) throws {
        threadsOption.configure()
        var run = RunConfig()
        if let config { run = try RunConfig.load(path: config) }
        if let epochs { run.training.epochs = epochs }
        if let seed { run.training.seed = seed }
        if let globalBatch { run.training.batchSize = globalBatch }
        if let learningRate { run.training.learningRate = learningRate }
        if let positions { run.model.positions = positions }
        if let extraScalars { run.model.extraScalars = extraScalars.split(separator: ",").map(String.init) }
        try run.validate()
        guard !data.isEmpty else { throw ValidationError("train needs --data FILE (or a folder; repeat for several)") }
        var trainer = Trainer(world: world, trainPaths: data, validationPaths: validation, outDirectory: out, config: run,
                              resume: resume, commandLine: CommandLine.arguments, maxSteps: maxSteps,
                              epochsOverride: epochs, reduction: reduction, initFrom: initFrom, freeze: freeze)
        trainer.trainSnapshots = trainSnapshots
        try trainer.run()
    }
}

extension Positions: ExpressibleByArgument {}
extension GradientReductionMode: ExpressibleByArgument {}
