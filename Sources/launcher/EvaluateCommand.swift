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

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        threadsOption.configure()
        let bundle = try ModelBundle.load(checkpoint)
        let evaluation = try evaluate(bundle, on: data, world: world)
        guard world.isRoot else { return }
        if json {
            printNow(jsonLine(evaluation.json))
            return
        }
        let metrics = evaluation.metrics, names = evaluation.speciesNames
        printNow("model \(bundle.path) on \(data): \(metrics.snapshots) snapshots")
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

/// A model's scores on one snapshot file: what `launcher evaluate` prints, and what
/// `cross-evaluate` and `report` tabulate and plot.
struct Evaluation {
    /// The times the model and the file share (the model's values), in the model's order.
    let times: [Double]
    /// Metrics per species and shared time (index q of `times`).
    let metrics: PropensityMetrics
    /// The file's species names, in index order.
    let speciesNames: [String]
    /// Model times the file lacks (not scored).
    let missingTimes: [Double]

    /// `evaluate --json`: {"times": [...], "species": {"A": {"pearson_pooled": [...], ...}}, "snapshots": n}.
    var json: [String: Any] {
        ["times": times, "species": speciesScores(metrics, speciesNames: speciesNames), "snapshots": metrics.snapshots]
    }

    /// The index of species `name` among the file's species, or an error listing them.
    func speciesIndex(_ name: String, file: String) throws -> Int {
        guard let s = speciesNames.firstIndex(of: name) else {
            throw ValidationFailure("\(file): no species named '\(name)' (it has \(speciesNames.joined(separator: ", ")))")
        }
        return s
    }
}

/// Scores `bundle` on the snapshot file `data` at the times both share (matched by value; no
/// shared time is an error). Collective: each rank reads and scores its own contiguous share of
/// the snapshots; the sums are reduced in snapshot order, so the result is the same at any rank
/// count, on every rank. `observe` sees each snapshot this rank scores, with its predictions.
func evaluate(_ bundle: ModelBundle, on data: String, world: Communicator,
              observe: ((PreparedSnapshot, [Float]) -> Void)? = nil) throws -> Evaluation {
    let preparer = SnapshotPreparer(config: bundle.config.model)
    let file = try preparer.open(data, needTargets: true, needAllTimes: false)
    let shared = preparer.sharedTimes(file)
    let snapshots = SnapshotCache(file: file, preparer: preparer, budgetBytes: 0)
    snapshots.normalization = bundle.normalization
    let (metrics, _) = try score(model: bundle.model, parameters: bundle.parameters, normalization: bundle.normalization,
                                 snapshots: Array(0..<file.snapshotCount), read: snapshots.snapshot, shared: shared,
                                 trainSpecies: bundle.config.training.trainSpecies, world: world, observe: observe)
    let times = bundle.config.model.times
    let missing = times.enumerated().filter { t in !shared.contains { $0.model == t.offset } }.map(\.element)
    return Evaluation(times: shared.map { times[$0.model] }, metrics: metrics, speciesNames: file.attributes.speciesNames,
                      missingTimes: missing)
}
