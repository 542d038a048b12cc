import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors

/// The per-layer linear probes of one model: what `launcher probe` prints and writes, and
/// what `launcher report` draws.
public struct ProbeTable {
    /// The times the two files share (the test file's values).
    public let times: [Double]
    /// The test file's species names.
    public let speciesNames: [String]
    /// Indices into `speciesNames` of the probed species: A, and B when the model was trained on it.
    public let probedSpecies: [Int]
    /// k = 0 (embedding) … K (after interaction layer k).
    public let layers: [Int]
    /// ρ pooled over the test file's particles, `[probed species][layer][time]` (NaN when undefined).
    public let pooled: [[[Double]]]
    /// Mean of the per-snapshot ρ, same layout.
    public let perSnapshot: [[[Double]]]
    public let trainSnapshots: Int
    public let testSnapshots: Int

    /// {"times": [...], "species": "A", "layers": [0, 1, ..., K], "pearson": [[pooled ρ per time] per layer]}
    /// of the first probed species, undefined ρ as null.
    public var json: [String: Any] {
        let clean = { (rows: [[Double]]) -> [[Any]] in rows.map { $0.map { $0.isFinite ? $0 as Any : NSNull() } } }
        return ["times": times, "species": speciesNames[probedSpecies[0]], "layers": layers, "pearson": clean(pooled[0])]
    }

    /// `json` on one line, keys sorted: the text of probe.json (without its final newline).
    public var jsonText: String { jsonLine(json) }

    /// `jsonText` and a newline to `path` (e.g. RUN_DIR/probe.json, which `launcher report` draws).
    public func write(to path: String) throws {
        do { try (jsonText + "\n").write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ValidationFailure("\(path): cannot write the probe results: \(error)")
        }
    }
}

/// For each layer of `bundle`'s network, each time `train` and `test` share and each probed
/// species: a ridge regression of the propensity on the layer's rotation-invariant features,
/// fitted on `train` and scored on `test`. One forward pass per snapshot of each file, on this
/// process alone (no collectives).
public func linearProbes(bundle: ModelBundle, train: [String], test: [String], progress: (String) -> Void) throws -> ProbeTable {
    // Both sets checked before the long forward passes.
    for paths in [train, test] {
        let file = try SnapshotPreparer(config: bundle.config.model).open(paths, needTargets: false, needAllTimes: false)
        guard file.hasPropensity else { throw ValidationFailure("\(file.path): has no propensity; the probes need targets") }
    }
    let fit = try NetworkEmbeddings(bundle: bundle, paths: train, progress: progress)
    let score = try NetworkEmbeddings(bundle: bundle, paths: test, progress: progress)
    let shared = try sharedTimes(train: fit.file, test: score.file)
    let times = shared.map { score.file.times[$0.test] }
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
        let fitTargets = shared.map { pair in fitRows.map { Double(fit.propensity![$0 * fit.file.timeCount + pair.train]) } }
        let scoreTargets = shared.map { pair in scoreRows.map { Double(score.propensity![$0 * score.file.timeCount + pair.test]) } }
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
