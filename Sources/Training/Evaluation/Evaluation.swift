import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

/// A model's scores on one snapshot file: what `launcher evaluate` prints, and what
/// `cross-evaluate` and `report` tabulate and plot.
public struct Evaluation {
    /// The times the model and the file share (the model's values), in the model's order.
    public let times: [Double]
    /// Metrics per species and shared time (index q of `times`).
    public let metrics: PropensityMetrics
    /// The file's species names, in index order.
    public let speciesNames: [String]
    /// Model times the file lacks (not scored).
    public let missingTimes: [Double]

    /// `evaluate --json`: {"times": [...], "species": {"A": {"pearson_pooled": [...], ...}}, "snapshots": n}.
    public var json: [String: Any] {
        ["times": times, "species": speciesScores(metrics, speciesNames: speciesNames), "snapshots": metrics.snapshots]
    }

    /// The index of species `name` among the file's species, or an error listing them.
    public func speciesIndex(_ name: String, file: String) throws -> Int {
        guard let s = speciesNames.firstIndex(of: name) else {
            throw ValidationFailure("\(file): no species named '\(name)' (it has \(speciesNames.joined(separator: ", ")))")
        }
        return s
    }
}

/// Scores `bundle` on the snapshot files `data` (read as one set) at the times both share (matched by value; no
/// shared time is an error). Collective: each rank reads and scores its own contiguous share of
/// the snapshots; the sums are reduced in snapshot order, so the result is the same at any rank
/// count, on every rank. `observe` sees each snapshot this rank scores, with its predictions.
public func evaluate(_ bundle: ModelBundle, on data: [String], world: Communicator,
                     observe: ((PreparedSnapshot, [Float]) -> Void)? = nil) throws -> Evaluation {
    let preparer = bundle.preparer
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
