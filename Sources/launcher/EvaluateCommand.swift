import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

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

    @Option(name: .long, help: "Snapshot file with propensity.")
    var data: String

    @Flag(name: .long, help: "Print one JSON object instead of the table.")
    var json = false

    @Option(name: .long, help: "Threads per rank (default: OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else 1).")
    var threads: Int?

    mutating func run(on world: Communicator) throws {
        configureThreads(threads)
        let bundle = try ModelBundle.load(checkpoint)
        let preparer = SnapshotPreparer(config: bundle.config.model)
        let file = try preparer.open(data, needTargets: true, needAllTimes: false)
        let shared = preparer.sharedTimes(file)
        // Each rank reads and scores its own contiguous share of the snapshots; the sums are
        // reduced in snapshot order (the same table at any rank count), rank 0 prints.
        let snapshots = SnapshotCache(file: file, preparer: preparer, budgetBytes: 0)
        snapshots.normalization = bundle.normalization
        let (metrics, _) = try score(model: bundle.model, parameters: bundle.parameters, normalization: bundle.normalization,
                                     snapshots: Array(0..<file.snapshotCount), read: snapshots.snapshot, shared: shared,
                                     trainSpecies: bundle.config.training.trainSpecies, world: world)
        guard world.isRoot else { return }
        let times = shared.map { bundle.config.model.times[$0.model] }
        let names = file.attributes.speciesNames
        if json {
            printNow(jsonLine(["times": times, "species": speciesScores(metrics, speciesNames: names),
                               "snapshots": metrics.snapshots]))
            return
        }
        printNow("model \(bundle.path) on \(data): \(metrics.snapshots) snapshots")
        if shared.count < bundle.config.model.times.count {
            let missing = bundle.config.model.times.enumerated().filter { t in !shared.contains { $0.model == t.offset } }
            printNow("model times absent from the file (not scored): \(missing.map(\.element))")
        }
        for s in 0..<metrics.species where metrics.count(species: s) > 0 {
            let name = s < names.count ? names[s] : "species \(s)"
            printNow("species \(name) (\(metrics.count(species: s)) particles)")
            printNow("      time   ρ pooled   ρ mean/snapshot        MSE")
            for (q, time) in times.enumerated() {
                printNow(String(format: "%10g %10.4f %17.4f %10.4g", time, metrics.pearsonPooled(species: s, time: q),
                                metrics.pearsonMean(species: s, time: q), metrics.mse(species: s, time: q)))
            }
        }
    }
}
