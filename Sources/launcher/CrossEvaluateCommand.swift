import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation

/// `launcher cross-evaluate`: every model on every dataset, as a train × test table of ρ per time
/// (e.g. trained at T = 0.6 and 0.7, tested at both: does the representation generalise?).
struct CrossEvaluateCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "cross-evaluate",
        abstract: "Score several models on several datasets: a train × test table of Pearson ρ per time.",
        discussion: """
            Each pair is scored exactly as `launcher evaluate` scores it (same code, same numbers). \
            For one species (--species, default A), prints one table per time, rows = the models \
            (trained on), columns = the datasets (tested on), each entry "ρ pooled (mean of the \
            per-snapshot ρ)"; "-" where the pair shares no such time.

              launcher cross-evaluate --model T0.60=runs/ka060 --model T0.70=runs/ka070 \\
                  --data T0.60=data/ka-N1000-T0.60-test.h5 --data T0.70=ka-N1000-T0.70-test.h5 --markdown

            --times 2,12 keeps only those times. --markdown prints Markdown tables ready for a \
            README. --json prints one object: \
            {"times": [...], "species": "A", "models": [labels], "datasets": [labels], \
            "pearson_pooled": [[[ρ per time] per dataset] per model], "pearson_mean": same}, null \
            where a pair does not share the time (times: every time scored by some pair, sorted).
            """)

    @Option(name: .customLong("model"), help: "LABEL=CHECKPOINT (a checkpoint file or run directory); repeat for each model.")
    var models: [String] = []

    @Option(name: .customLong("data"), help: "LABEL=FILE (snapshot file with propensity); repeat for each dataset.")
    var datasets: [String] = []

    @Option(name: .long, help: "Species whose ρ is tabulated (a name of the files' species_names).")
    var species = "A"

    @Option(name: .long, help: "Only these times, comma-separated (e.g. 12 for τα at T = 0.6); default: every scored time.")
    var times: String?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Flag(name: .long, help: "Print Markdown tables.")
    var markdown = false

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        guard !models.isEmpty, !datasets.isEmpty else {
            throw ValidationFailure("cross-evaluate needs at least one --model LABEL=CHECKPOINT and one --data LABEL=FILE")
        }
        guard !(json && markdown) else { throw ValidationFailure("choose one of --json and --markdown") }
        threadsOption.configure()
        let modelList = try Self.labelled(models, option: "--model")
        let dataList = try Self.labelled(datasets, option: "--data")
        var table = try CrossTable.compute(models: modelList, datasets: dataList, species: species, world: world)
        if let times {
            let wanted = times.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard wanted.allSatisfy({ $0 != nil }) else { throw ValidationFailure("--times \(times): not a list of numbers") }
            table = try table.restricted(to: wanted.map { $0! })
        }
        guard world.isRoot else { return }
        if json {
            printNow(jsonLine(table.json))
        } else if markdown {
            printNow(table.markdown())
        } else {
            printNow(table.text())
        }
    }

    /// "LABEL=PATH" pairs (a bare PATH is labelled by its file name without extension); labels unique.
    static func labelled(_ items: [String], option: String) throws -> [(label: String, path: String)] {
        var out: [(label: String, path: String)] = []
        for item in items {
            let pair: (label: String, path: String)
            if let eq = item.firstIndex(of: "="), eq != item.startIndex {
                pair = (String(item[..<eq]), String(item[item.index(after: eq)...]))
            } else {
                pair = (URL(fileURLWithPath: item).deletingPathExtension().lastPathComponent, item)
            }
            guard !pair.path.isEmpty else { throw ValidationFailure("\(option) \(item): no path after '='") }
            guard !out.contains(where: { $0.label == pair.label }) else {
                throw ValidationFailure("\(option): the label '\(pair.label)' is given twice")
            }
            out.append(pair)
        }
        return out
    }
}

/// ρ of one species for every (model, dataset, time): the cross-temperature table.
struct CrossTable {
    let species: String
    let models: [String]
    let datasets: [String]
    /// Every time scored by some pair, increasing.
    let times: [Double]
    /// `pooled[model][dataset][time]`, nil where the pair does not share the time.
    let pooled: [[[Double?]]]
    let mean: [[[Double?]]]

    /// Scores every model on every dataset with `evaluate` (collective).
    static func compute(models: [(label: String, path: String)], datasets: [(label: String, path: String)],
                        species: String, world: Communicator) throws -> CrossTable {
        var evaluations: [[Evaluation]] = []
        var speciesIndex: [[Int]] = []
        for m in models {
            let bundle = try ModelBundle.load(m.path)
            var row: [Evaluation] = [], indices: [Int] = []
            for d in datasets {
                let e = try evaluate(bundle, on: d.path, world: world)
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
    func restricted(to wanted: [Double]) throws -> CrossTable {
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

    var json: [String: Any] {
        func values(_ g: [[[Double?]]]) -> [[[Any]]] {
            g.map { $0.map { $0.map { v -> Any in (v?.isFinite ?? false) ? v! : NSNull() } } }
        }
        return ["times": times, "species": species, "models": models, "datasets": datasets,
                "pearson_pooled": values(pooled), "pearson_mean": values(mean)]
    }

    /// "0.443 (0.441)", or "-" where the pair has no such time.
    func entry(_ i: Int, _ j: Int, _ q: Int, digits: Int) -> String {
        guard let p = pooled[i][j][q], let m = mean[i][j][q] else { return "-" }
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "nan" }
        return "\(f(p)) (\(f(m)))"
    }

    func text() -> String {
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

    func markdown() -> String {
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
