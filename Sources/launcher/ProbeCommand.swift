import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors
import Training

/// `launcher probe`: how much of the propensity each layer of a trained network holds linearly.
struct ProbeCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Per-layer linear probes: ρ on a test file of a ridge fit on a training file's embeddings.",
        discussion: """
            For each layer k = 0 (embedding) … K (after interaction layer k), each time the two \
            files share and species A (and B when the model was trained on it): a ridge regression \
            (StructuralDescriptors.RidgeRegression, λ chosen on the training file's last quarter of \
            snapshots) of the propensity on the layer's rotation-invariant features (its C scalars \
            and the norms of its l ≥ 1 channels, as `launcher embed` writes them), fitted on the \
            training file, scored by the Pearson ρ pooled over the test file's particles. JSON \
            (standard output with --json, the file with --out): {"times": [...], "species": "A", \
            "layers": [0, 1, ..., K], "pearson": [[ρ per time] per layer]}. Under mpirun, rank 0 \
            alone does the work.
            """)

    static let runsCollectively = false

    @Option(name: .long, help: "A checkpoint file, or a run directory (its newest checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "Snapshot file (or folder) with propensity to fit the probes on; repeat for several.")
    var train: [String] = []

    @Option(name: .long, help: "Snapshot file (or folder) with propensity to score them on; repeat for several.")
    var test: [String] = []

    @Flag(name: .long, help: "Print the JSON object instead of the table (progress goes to standard error).")
    var json = false

    @Option(name: .long, help: "Also write the JSON object to this file (e.g. RUN_DIR/probe.json).")
    var out: String?

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        guard world.isRoot else { return }
        threadsOption.configure()
        let quiet = json
        let progress = { (line: String) in
            if quiet { FileHandle.standardError.write(Data(("probe: " + line + "\n").utf8)) } else { printNow("probe: " + line) }
        }
        let bundle = try ModelBundle.load(checkpoint)
        let table = try linearProbes(bundle: bundle, train: train, test: test, progress: progress)
        let (times, names, probed, layerIndices) = (table.times, table.speciesNames, table.probedSpecies, table.layers)
        let (pooled, perSnapshot) = (table.pooled, table.perSnapshot)
        let text = table.jsonText
        if let out { try table.write(to: out) }
        if json {
            printNow(text)
            return
        }
        printNow("probe: \(bundle.path); fitted on \(train.joined(separator: ", ")) (\(table.trainSnapshots) snapshots), scored on \(test.joined(separator: ", ")) (\(table.testSnapshots) snapshots)")
        printNow("ρ pooled (mean of per-snapshot ρ) of a ridge fit on each layer's invariants (layer 0 = embedding)")
        for (q, s) in probed.enumerated() {
            printNow("species \(names[s])")
            printNow("layer " + times.map { padded("t = " + String(format: "%g", $0), 17) }.joined())
            for k in layerIndices {
                printNow(String(format: "%5d ", k) + times.indices.map {
                    String(format: "%8.3f (%6.3f)", pooled[q][k][$0], perSnapshot[q][k][$0])
                }.joined())
            }
        }
        if let out { printNow("wrote \(out)") }
    }
}

/// `text` right-aligned in `width` characters.
private func padded(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

