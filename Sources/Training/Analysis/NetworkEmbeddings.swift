import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors

/// The invariants of every layer of a trained network on every particle of a snapshot file
/// (`LayerInvariants`), concatenated over the snapshots in file order; shared by `embed` and
/// `probe`.
public struct NetworkEmbeddings {
    public let file: SnapshotSet
    /// Per layer k = 0…K, all particles of the file.
    public var layers: [LayerInvariants]
    public var species: [Int32] = []
    /// Snapshot index of each particle.
    public var snapshotOfParticle: [Int] = []
    /// The file's propensity `[Ntot][T_file]`, if it has one.
    public var propensity: [Float]?

    public init(bundle: ModelBundle, paths: [String], progress: (String) -> Void) throws {
        let preparer = SnapshotPreparer(config: bundle.config.model)
        file = try preparer.open(paths, needTargets: false, needAllTimes: false)
        let path = file.path
        layers = []
        propensity = file.hasPropensity ? [] : nil
        let start = Date()
        var lastReport = start
        bundle.model.computesEveryFeature = true  // the last layer's l ≥ 1 norms are features too
        for k in 0..<file.snapshotCount {
            let p = preparer.standardize(try preparer.prepare(file, snapshot: k), bundle.normalization)
            _ = bundle.model.forward(parameters: bundle.parameters, input: p.input)
            let snapshotLayers = LayerInvariants.ofLastForward(bundle.model)
            if layers.isEmpty {
                layers = snapshotLayers
            } else {
                for q in layers.indices {
                    layers[q].scalars += snapshotLayers[q].scalars
                    layers[q].norms += snapshotLayers[q].norms
                }
            }
            species += p.species
            snapshotOfParticle += Array(repeating: k, count: p.particleCount)
            if propensity != nil { propensity! += try file.readSnapshot(k).propensity! }
            if Date().timeIntervalSince(lastReport) > 5 || k == file.snapshotCount - 1 {
                lastReport = Date()
                progress("\(path): \(k + 1)/\(file.snapshotCount) snapshots (\(duration(lastReport.timeIntervalSince(start))))")
            }
        }
    }
}
