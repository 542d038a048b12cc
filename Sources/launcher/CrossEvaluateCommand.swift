import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import Training

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

