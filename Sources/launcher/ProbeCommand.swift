import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors

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

    @Option(name: .long, help: "Snapshot file with propensity to fit the probes on.")
    var train: String

    @Option(name: .long, help: "Snapshot file with propensity to score them on.")
    var test: String

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
        printNow("probe: \(bundle.path); fitted on \(train) (\(table.trainSnapshots) snapshots), scored on \(test) (\(table.testSnapshots) snapshots)")
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

/// The per-layer linear probes of one model: what `launcher probe` prints and writes, and
/// what `launcher report` draws.
struct ProbeTable {
    /// The times the two files share (the test file's values).
    let times: [Double]
    /// The test file's species names.
    let speciesNames: [String]
    /// Indices into `speciesNames` of the probed species: A, and B when the model was trained on it.
    let probedSpecies: [Int]
    /// k = 0 (embedding) … K (after interaction layer k).
    let layers: [Int]
    /// ρ pooled over the test file's particles, `[probed species][layer][time]` (NaN when undefined).
    let pooled: [[[Double]]]
    /// Mean of the per-snapshot ρ, same layout.
    let perSnapshot: [[[Double]]]
    let trainSnapshots: Int
    let testSnapshots: Int

    /// {"times": [...], "species": "A", "layers": [0, 1, ..., K], "pearson": [[pooled ρ per time] per layer]}
    /// of the first probed species, undefined ρ as null.
    var json: [String: Any] {
        let clean = { (rows: [[Double]]) -> [[Any]] in rows.map { $0.map { $0.isFinite ? $0 as Any : NSNull() } } }
        return ["times": times, "species": speciesNames[probedSpecies[0]], "layers": layers, "pearson": clean(pooled[0])]
    }

    /// `json` on one line, keys sorted: the text of probe.json (without its final newline).
    var jsonText: String { jsonLine(json) }

    /// `jsonText` and a newline to `path` (e.g. RUN_DIR/probe.json, which `launcher report` draws).
    func write(to path: String) throws {
        do { try (jsonText + "\n").write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ValidationFailure("\(path): cannot write the probe results: \(error)")
        }
    }
}

/// For each layer of `bundle`'s network, each time `train` and `test` share and each probed
/// species: a ridge regression of the propensity on the layer's rotation-invariant features,
/// fitted on `train` and scored on `test`. One forward pass per snapshot of each file, on this
/// process alone (no collectives).
func linearProbes(bundle: ModelBundle, train: String, test: String, progress: (String) -> Void) throws -> ProbeTable {
    // Both files checked before the long forward passes.
    for path in [train, test] {
        let file = try SnapshotPreparer(config: bundle.config.model).open(path, needTargets: false, needAllTimes: false)
        guard file.hasPropensity else { throw ValidationFailure("\(path): has no propensity; the probes need targets") }
    }
    let fit = try NetworkEmbeddings(bundle: bundle, path: train, progress: progress)
    let score = try NetworkEmbeddings(bundle: bundle, path: test, progress: progress)
    guard fit.file.attributes.speciesNames == score.file.attributes.speciesNames else {
        throw ValidationFailure("\(test): species \(score.file.attributes.speciesNames) differ from \(train)'s \(fit.file.attributes.speciesNames)")
    }
    let shared = matchTimes(model: score.file.times, data: fit.file.times)
    guard !shared.isEmpty else {
        throw ValidationFailure("\(test) and \(train) share no time: \(score.file.times) and \(fit.file.times)")
    }
    let times = shared.map { score.file.times[$0.model] }
    let names = score.file.attributes.speciesNames
    let probed = [0] + (bundle.config.training.trainSpecies.contains(1) && names.count > 1 ? [1] : [])
    let layerIndices = Array(fit.layers.indices)

    // pearson[species][layer][time], pooled and mean per snapshot.
    var pooled: [[[Double]]] = [], perSnapshot: [[[Double]]] = []
    for s in probed {
        let fitRows = fit.species.indices.filter { Int(fit.species[$0]) == s }
        let scoreRows = score.species.indices.filter { Int(score.species[$0]) == s }
        guard !fitRows.isEmpty, !scoreRows.isEmpty else {
            throw ValidationFailure("species \(names[s]) has no particles in \(fitRows.isEmpty ? train : test)")
        }
        let fitTargets = shared.map { pair in fitRows.map { Double(fit.propensity![$0 * fit.file.timeCount + pair.data]) } }
        let scoreTargets = shared.map { pair in scoreRows.map { Double(score.propensity![$0 * score.file.timeCount + pair.model]) } }
        var layersPooled: [[Double]] = [], layersMean: [[Double]] = []
        for k in layerIndices {
            let scores = try LinearProbe.scores(
                trainFeatures: fit.layers[k].features(layer: k).selecting(rows: fitRows), trainTargets: fitTargets,
                trainGroups: fitRows.map { fit.snapshotOfParticle[$0] },
                testFeatures: score.layers[k].features(layer: k).selecting(rows: scoreRows), testTargets: scoreTargets,
                testGroups: scoreRows.map { score.snapshotOfParticle[$0] })
            layersPooled.append(scores.map(\.pooled))
            layersMean.append(scores.map(\.meanPerGroup))
            progress("species \(names[s]), layer \(k): probed")
        }
        pooled.append(layersPooled)
        perSnapshot.append(layersMean)
    }
    return ProbeTable(times: times, speciesNames: names, probedSpecies: probed, layers: layerIndices,
                  pooled: pooled, perSnapshot: perSnapshot,
                  trainSnapshots: fit.file.snapshotCount, testSnapshots: score.file.snapshotCount)
}
