import DistributedTraining
import EquivariantNet
import Foundation

/// Scores of a model on a list of snapshots, split over the ranks: metrics in physical units at
/// the shared times, and the standardized loss over the trained species.
///
/// Each rank scores its `EvaluationShard` (every snapshot exactly once over the ranks); the sums
/// of each snapshot (Pearson sums Σx, Σy, Σx², Σy², Σxy, n per (species, time), per-snapshot ρ,
/// squared errors, loss) are one row of a `SnapshotOrderedSum`, so the result is the same bits
/// at any rank count. Collective: every rank calls it. `observe`, if given, sees each snapshot
/// this rank scores with its predictions `[N][T]` in physical units.
public func score(model: PropensityModel, parameters: [Float], normalization: Normalization, snapshots: [Int],
                  read: (Int) throws -> PreparedSnapshot, shared: [(model: Int, data: Int)], trainSpecies: [Int],
                  world: Communicator, observe: ((PreparedSnapshot, [Float]) -> Void)? = nil)
    throws -> (metrics: PropensityMetrics, loss: Double) {
    let ts = shared.count, speciesCount = model.config.speciesCount
    let shard = EvaluationShard(snapshots: snapshots, rank: world.rank, size: world.size)
    let width = PropensityMetrics(species: speciesCount, times: ts).flat.count + 2
    var rows = SnapshotOrderedSum(rowCount: snapshots.count, width: width)
    for (row, k) in zip(shard.positions, shard.snapshots) {
        let p = try read(k)
        guard p.targets != nil else { continue }
        let z = model.forward(parameters: parameters, input: p.input)
        rows.set(row: row, scoreRow(p, z, normalization: normalization, times: model.config.times.count,
                                    shared: shared, trainSpecies: trainSpecies, speciesCount: speciesCount, observe: observe))
    }
    let total = try rows.reduce(over: world)
    let metrics = PropensityMetrics(species: speciesCount, times: ts, flat: Array(total.dropLast(2)))
    let lossSum = total[width - 2], lossCount = total[width - 1]
    return (metrics, lossCount > 0 ? lossSum / lossCount : .nan)
}

/// One snapshot's row of `score`: its metric sums, then [loss sum, loss terms] over the
/// trained species, from its standardized predictions `z`.
func scoreRow(_ p: PreparedSnapshot, _ z: [Float], normalization: Normalization, times t: Int,
              shared: [(model: Int, data: Int)], trainSpecies: [Int], speciesCount: Int,
              observe: ((PreparedSnapshot, [Float]) -> Void)?) -> [Double] {
    let targets = p.targets!, ts = shared.count
    var metrics = PropensityMetrics(species: speciesCount, times: ts)
    var lossSum = 0.0, lossCount = 0.0
    let physical = normalization.physical(predictions: z, species: p.species, times: t)
    observe?(p, physical)
    let standardTargets = normalization.standardize(targets: targets, species: p.species, times: t)
    var pred = [Float](repeating: 0, count: p.particleCount * ts), true_ = pred
    for i in 0..<p.particleCount {
        for (q, pair) in shared.enumerated() {
            pred[i * ts + q] = physical[i * t + pair.model]
            true_[i * ts + q] = targets[i * t + pair.model]
            if trainSpecies.contains(Int(p.species[i])) {
                let d = Double(z[i * t + pair.model]) - Double(standardTargets[i * t + pair.model])
                lossSum += d * d
                lossCount += 1
            }
        }
    }
    metrics.add(predictions: pred, targets: true_, species: p.species)
    return metrics.flat + [lossSum, lossCount]
}

/// A JSON object for the scores, `{"A": {"pearson_pooled": [...], "pearson_mean": [...], "mse": [...]}, ...}`
/// (NaN becomes null).
public func speciesScores(_ m: PropensityMetrics, speciesNames: [String]) -> [String: Any] {
    var out: [String: Any] = [:]
    for s in 0..<m.species {
        let name = s < speciesNames.count ? speciesNames[s] : "species\(s)"
        func column(_ f: (Int) -> Double) -> [Any] { (0..<m.times).map { let v = f($0); return v.isFinite ? v as Any : NSNull() } }
        out[name] = [
            "pearson_pooled": column { m.pearsonPooled(species: s, time: $0) },
            "pearson_mean": column { m.pearsonMean(species: s, time: $0) },
            "mse": column { m.mse(species: s, time: $0) },
        ]
    }
    return out
}
