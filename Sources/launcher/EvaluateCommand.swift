import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training

/// `launcher evaluate`: scores a trained model on a snapshot file.
struct EvaluateCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained model on a snapshot file: Pearson ρ and MSE per species and time.",
        discussion: """
            The model's time grid is matched to the file's by value; the times both have are \
            scored (no shared time is an error). ρ is reported pooled over all particles and as \
            the mean over snapshots of the per-snapshot ρ. With --json, one object on standard \
            output: {"times": [...], "species": {"A": {"pearson_pooled": [...], \
            "pearson_mean": [...], "mse": [...]}, ...}, "snapshots": n}.
            """)

    @Option(name: .long, help: "A checkpoint file, or a run directory (its newest checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "Snapshot file (or folder) with propensity; repeat for several, scored as one set.")
    var data: [String] = []

    @Flag(name: .long, help: "Print one JSON object instead of the table.")
    var json = false

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        threadsOption.configure()
        guard !data.isEmpty else { throw ValidationError("evaluate needs --data FILE") }
        let bundle = try ModelBundle.load(checkpoint)
        let evaluation = try evaluate(bundle, on: data, world: world)
        guard world.isRoot else { return }
        if json {
            printNow(jsonLine(evaluation.json))
            return
        }
        let metrics = evaluation.metrics, names = evaluation.speciesNames
        printNow("model \(bundle.path) on \(data.joined(separator: ", ")): \(metrics.snapshots) snapshots")
        if !evaluation.missingTimes.isEmpty {
            printNow("model times absent from the file (not scored): \(evaluation.missingTimes)")
        }
        for s in 0..<metrics.species where metrics.count(species: s) > 0 {
            let name = s < names.count ? names[s] : "species \(s)"
            // A species outside `trainSpecies` is read by heads that never saw a target.
            let untrained = bundle.config.training.trainSpecies.contains(s) ? "" : "; not in the loss: untrained heads"
            printNow("species \(name) (\(metrics.count(species: s)) particles\(untrained))")
            printNow("      time   ρ pooled   ρ mean/snapshot        MSE")
            for (q, time) in evaluation.times.enumerated() {
                printNow(String(format: "%10g %10.4f %17.4f %10.4g", time, metrics.pearsonPooled(species: s, time: q),
                                metrics.pearsonMean(species: s, time: q), metrics.mse(species: s, time: q)))
            }
        }
    }
}

