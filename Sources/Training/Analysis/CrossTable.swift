import DistributedTraining
import EquivariantNet
import Foundation

/// ρ of one species for every (model, dataset, time): the cross-temperature table.
public struct CrossTable {
    public let species: String
    public let models: [String]
    public let datasets: [String]
    /// Every time scored by some pair, increasing.
    public let times: [Double]
    /// `pooled[model][dataset][time]`, nil where the pair does not share the time.
    public let pooled: [[[Double?]]]
    public let mean: [[[Double?]]]

    /// Scores every model on every dataset with `evaluate` (collective).
    public static func compute(models: [(label: String, path: String)], datasets: [(label: String, path: String)],
                        species: String, world: Communicator) throws -> CrossTable {
        var evaluations: [[Evaluation]] = []
        var speciesIndex: [[Int]] = []
        for m in models {
            let bundle = try ModelBundle.load(m.path)
            var row: [Evaluation] = [], indices: [Int] = []
            for d in datasets {
                let e = try evaluate(bundle, on: [d.path], world: world)
                indices.append(try e.speciesIndex(species, file: d.path))
                row.append(e)
            }
            evaluations.append(row)
            speciesIndex.append(indices)
        }
        let times = Array(Set(evaluations.flatMap { $0.flatMap(\.times) })).sorted()
        func grid(_ f: (PropensityMetrics, Int, Int) -> Double) -> [[[Double?]]] {
            evaluations.indices.map { i in
                evaluations[i].indices.map { j in
                    let e = evaluations[i][j]
                    return times.map { t in e.times.firstIndex(of: t).map { f(e.metrics, speciesIndex[i][j], $0) } }
                }
            }
        }
        return CrossTable(species: species, models: models.map(\.label), datasets: datasets.map(\.label), times: times,
                          pooled: grid { $0.pearsonPooled(species: $1, time: $2) },
                          mean: grid { $0.pearsonMean(species: $1, time: $2) })
    }

    /// The table at `wanted` times only (each must be a scored time).
    public func restricted(to wanted: [Double]) throws -> CrossTable {
        let columns = try wanted.map { t -> Int in
            guard let q = times.firstIndex(of: t) else {
                throw ValidationFailure("--times: \(String(format: "%g", t)) is not a scored time (scored: \(times.map { String(format: "%g", $0) }.joined(separator: ", ")))")
            }
            return q
        }
        func pick(_ g: [[[Double?]]]) -> [[[Double?]]] { g.map { $0.map { row in columns.map { row[$0] } } } }
        return CrossTable(species: species, models: models, datasets: datasets, times: columns.map { times[$0] },
                          pooled: pick(pooled), mean: pick(mean))
    }

    public var json: [String: Any] {
        func values(_ g: [[[Double?]]]) -> [[[Any]]] {
            g.map { $0.map { $0.map { v -> Any in (v?.isFinite ?? false) ? v! : NSNull() } } }
        }
        return ["times": times, "species": species, "models": models, "datasets": datasets,
                "pearson_pooled": values(pooled), "pearson_mean": values(mean)]
    }

    /// "0.443 (0.441)", or "-" where the pair has no such time.
    public func entry(_ i: Int, _ j: Int, _ q: Int, digits: Int) -> String {
        guard let p = pooled[i][j][q], let m = mean[i][j][q] else { return "-" }
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "nan" }
        return "\(f(p)) (\(f(m)))"
    }

    public func text() -> String {
        var lines: [String] = []
        let width = max(14, (models + datasets).map(\.count).max()! + 2)
        func pad(_ s: String) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
        for (q, t) in times.enumerated() {
            lines.append("species \(species), t = \(String(format: "%g", t)): Pearson ρ pooled (mean of the per-snapshot ρ); "
                         + "rows: trained on, columns: tested on")
            lines.append(pad("train \\ test") + datasets.map { pad($0) }.joined())
            for (i, m) in models.enumerated() {
                lines.append(pad(m) + datasets.indices.map { pad(entry(i, $0, q, digits: 4)) }.joined())
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }

    public func markdown() -> String {
        var lines: [String] = []
        for (q, t) in times.enumerated() {
            lines.append("**Species \(species), t = \(String(format: "%g", t))**: Pearson ρ pooled (mean of the per-snapshot ρ); "
                         + "rows: trained on, columns: tested on")
            lines.append("")
            lines.append("| train \\ test | " + datasets.joined(separator: " | ") + " |")
            lines.append("|---|" + String(repeating: "---|", count: datasets.count))
            for (i, m) in models.enumerated() {
                lines.append("| \(m) | " + datasets.indices.map { entry(i, $0, q, digits: 3) }.joined(separator: " | ") + " |")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}
