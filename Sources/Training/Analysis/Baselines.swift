import Foundation
import GlassData
import StructuralDescriptors

/// The expert-feature baselines of `launcher baselines` for one species: each fitted on the
/// training file's particles (`fit`) and scored by the Pearson ρ on the test file's (`score`),
/// pooled and as the mean of the per-snapshot ρ, per time.
///
/// Keys: "epot_inherent", "epot_inherent_cg", "displacement_inherent" (one descriptor, its sign
/// chosen on the training file), "local_density" (neighbors within R, R and sign best on the
/// training file; "local_density_radius"), "ridge" (every structural descriptor) and
/// "ridge_displacement" (with |r − r_IS| added; "_lambda": the chosen λ), each with a "_mean"
/// variant. A baseline whose input is missing has null entries (the JSON keeps its shape).
public enum Baselines {
    public typealias Rows = (features: FeatureMatrix, targets: [[Double]], groups: [Int])

    public static func scores(fit: Rows, score: Rows, timeCount: Int, speciesNames: [String], structuralColumns: Int,
                              displacement: Bool) throws -> [String: [Double?]] {
        var table: [String: [Double?]] = [:]
        for (column, key) in [("epot_inherent", "epot_inherent"), ("cg_epot_inherent", "epot_inherent_cg"),
                              (DerivedScalar.inherentDisplacement.rawValue, "displacement_inherent")] {
            table.merge(single(column, key: key, fit: fit, score: score, timeCount: timeCount)) { $1 }
        }
        table.merge(localDensity(fit: fit, score: score, timeCount: timeCount, speciesNames: speciesNames)) { $1 }
        let structural = Array(0..<structuralColumns)
        table.merge(try ridge("ridge", columns: structural, fit: fit, score: score, timeCount: timeCount)) { $1 }
        table.merge(try ridge("ridge_displacement", columns: displacement ? structural + [structuralColumns] : [],
                              fit: fit, score: score, timeCount: timeCount)) { $1 }
        return table
    }

    /// Null entries for `key` and its "_mean" variant.
    static func skipped(_ key: String, timeCount: Int) -> [String: [Double?]] {
        let none = [Double?](repeating: nil, count: timeCount)
        return [key: none, key + "_mean": none]
    }

    /// One descriptor alone, its sign chosen on the training file.
    static func single(_ column: String, key: String, fit: Rows, score: Rows, timeCount: Int) -> [String: [Double?]] {
        guard let c = fit.features.names.firstIndex(of: column) else { return skipped(key, timeCount: timeCount) }
        let x = fit.features.column(c), xt = score.features.column(c)
        var pooled: [Double?] = [], mean: [Double?] = []
        for q in 0..<timeCount {
            let sign = pearson(x, fit.targets[q]) < 0 ? -1.0 : 1.0
            let r = pooledAndMeanPearson(xt.map { sign * $0 }, score.targets[q], groups: score.groups)
            pooled.append(r.pooled); mean.append(r.mean)
        }
        return [key: pooled, key + "_mean": mean]
    }

    /// Local density: total neighbors within R, the R and sign best on the training file.
    static func localDensity(fit: Rows, score: Rows, timeCount: Int, speciesNames: [String]) -> [String: [Double?]] {
        let radii = DescriptorSettings().densityRadii
        let density = { (m: FeatureMatrix, r: Double) -> [Double] in
            let columns = speciesNames.map { m.names.firstIndex(of: "n_\($0)(r<\(descriptorRadius(r)))")! }
            return (0..<m.rows).map { i in columns.reduce(0) { $0 + m[i, $1] } }
        }
        var pooled: [Double?] = [], mean: [Double?] = [], chosen: [Double?] = []
        for q in 0..<timeCount {
            var best = (rho: -1.0, radius: radii[0], sign: 1.0)
            for r in radii {
                let rho = pearson(density(fit.features, r), fit.targets[q])
                if rho.isFinite && abs(rho) > best.rho { best = (abs(rho), r, rho < 0 ? -1 : 1) }
            }
            let r = pooledAndMeanPearson(density(score.features, best.radius).map { best.sign * $0 },
                                         score.targets[q], groups: score.groups)
            pooled.append(r.pooled); mean.append(r.mean); chosen.append(best.radius)
        }
        return ["local_density": pooled, "local_density_mean": mean, "local_density_radius": chosen]
    }

    /// A ridge regression on `columns` (none: skipped), λ chosen on the training file.
    static func ridge(_ key: String, columns: [Int], fit: Rows, score: Rows, timeCount: Int) throws -> [String: [Double?]] {
        guard !columns.isEmpty else { return skipped(key, timeCount: timeCount) }
        let ridge = try LinearProbe.scores(
            trainFeatures: fit.features.selecting(columns: columns), trainTargets: fit.targets, trainGroups: fit.groups,
            testFeatures: score.features.selecting(columns: columns), testTargets: score.targets, testGroups: score.groups)
        return [key: ridge.map(\.pooled), key + "_mean": ridge.map(\.meanPerGroup), key + "_lambda": ridge.map(\.lambda)]
    }
}
