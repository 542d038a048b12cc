import ArgumentParser
import DistributedTraining
import Foundation
import Training

/// `launcher selftest --data-parallel` and its `--dp-*` options (`DataParallelSelfTest`).
struct DataParallelOptions: ParsableArguments {
    @Flag(name: .customLong("data-parallel"), help: ArgumentHelp(
        "Check sharding, the reproducible gradient sum and stop signals across the ranks (a mock training run)."))
    var enabled = false

    @Option(name: .customLong("dp-snapshots"), help: "Mock training snapshots.")
    var snapshots = 37

    @Option(name: .customLong("dp-global-batch"), help: "Snapshots per step over all ranks.")
    var globalBatch = 8

    @Option(name: .customLong("dp-parameters"), help: "Floats per gradient.")
    var parameters = 1001

    @Option(name: .customLong("dp-steps"), help: "Optimizer steps in all (over as many epochs as needed).")
    var steps = 12

    @Option(name: .customLong("dp-seed"), help: "Seed of the shuffle and of the mock gradients.")
    var seed: UInt64 = 2026

    @Flag(name: .customLong("dp-fast"), help: "Use the floating-point (fast) reduction instead of the exact one.")
    var fast = false

    @Option(name: .customLong("dp-nan-snapshot"), help: ArgumentHelp(
        "Give snapshot K a NaN gradient the first time it is trained on: every rank must stop at that step.",
        valueName: "K"))
    var nanSnapshot: Int?

    func validate() throws {
        guard snapshots >= 1, globalBatch >= 1, parameters >= 1, steps >= 0 else {
            throw ValidationError("--dp-snapshots, --dp-global-batch and --dp-parameters must be >= 1, --dp-steps >= 0")
        }
    }

    /// The mock run these options describe.
    func selfTest(on world: Communicator) -> DataParallelSelfTest {
        DataParallelSelfTest(world: world, snapshots: snapshots, globalBatch: globalBatch, parameters: parameters,
                             steps: steps, seed: seed, fast: fast, nanSnapshot: nanSnapshot, output: { printNow($0) })
    }
}

