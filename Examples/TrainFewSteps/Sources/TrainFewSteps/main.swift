// Trains the network a few optimizer steps on one rank from a bundled snapshot file, then scores
// the checkpoint on the same file, through the EquiGlass libraries alone (no launcher).
//
//   swift run TrainFewSteps [DATA.h5] [STEPS]     (default: data/ka-N1000-T0.60-test.h5, 2 steps)
import DistributedTraining
import EquivariantNet
import Foundation
import Training

let arguments = CommandLine.arguments
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../..").standardized
let data = arguments.count > 1 ? arguments[1] : root.appendingPathComponent("data/ka-N1000-T0.60-test.h5").path
let steps = arguments.count > 2 ? Int(arguments[2]) ?? 2 : 2
let out = NSTemporaryDirectory() + "equiglass-example-\(ProcessInfo.processInfo.processIdentifier)"
defer { try? FileManager.default.removeItem(atPath: out) }

do {
    // A small network (the defaults are the reference one): fast enough for a demonstration.
    var config = RunConfig()
    config.model.channels = 4
    config.model.layers = 2
    config.model.lmax = 2
    config.model.times = [2, 12]
    config.training.batchSize = 2
    config.training.learningRate = 0.01
    config.training.seed = 1

    let world = try Communicator.shared()
    var trainer = Trainer(world: world, trainPaths: [data], outDirectory: out, config: config, maxSteps: steps)
    try trainer.run()

    let bundle = try ModelBundle.load(out)
    let evaluation = try evaluate(bundle, on: [data], world: world)
    print("after \(bundle.checkpoint.step) steps, on \(evaluation.metrics.snapshots) snapshots of \(data):")
    for (q, t) in evaluation.times.enumerated() {
        print(String(format: "  t = %g: Pearson ρ (species A) %.4f, MSE %.4g", t,
                     evaluation.metrics.pearsonPooled(species: 0, time: q), evaluation.metrics.mse(species: 0, time: q)))
    }
    guard bundle.checkpoint.step == steps, evaluation.metrics.snapshots > 0 else {
        print("TrainFewSteps: expected \(steps) steps and some scored snapshots")
        exit(1)
    }
} catch {
    print("TrainFewSteps: error: \(error)")
    exit(1)
}
