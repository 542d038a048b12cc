import EquivariantNet
import Foundation
import GlassData

/// A trained model as a checkpoint holds it: configuration, network, parameters, statistics.
public struct ModelBundle {
    public let config: RunConfig
    public let model: PropensityModel
    public let parameters: [Float]
    public let normalization: Normalization
    public let checkpoint: Checkpoint
    public let path: String

    /// Loads `path` (a checkpoint file, or a run directory meaning its newest checkpoint).
    public static func load(_ path: String) throws -> ModelBundle {
        let file = try Checkpoint.resolve(path)
        let c = try Checkpoint.read(path: file)
        let config: RunConfig
        do {
            config = try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8))
            try config.validate()
        } catch {
            throw CheckpointError(path: file, problem: "its configuration is unreadable: \(error)")
        }
        let model = PropensityModel(config: config.model, avgNeighbors: c.avgNeighbors)
        guard c.parameters.count == model.layout.count else {
            throw CheckpointError(path: file, problem: "\(c.parameters.count) parameters, its configuration needs \(model.layout.count)")
        }
        let t = config.model.times.count, s = config.model.speciesCount, e = config.model.extraScalars.count
        guard c.targetMean.count == s * t, c.scalarMean.count == e + config.model.extraVectors.count else {
            throw CheckpointError(path: file, problem: "normalization statistics do not match the configuration")
        }
        return ModelBundle(config: config, model: model, parameters: c.parameters, normalization: c.normalization,
                           checkpoint: c, path: file)
    }

    /// The free JSON a training run records in its checkpoints (data files, command line,
    /// transfer learning), or an empty object.
    public var metadata: [String: Any] { checkpoint.metadata }

    /// Predictions `[N][T]` in physical units.
    public func predict(_ p: PreparedSnapshot) -> [Float] {
        let z = model.forward(parameters: parameters, input: p.input)
        return normalization.physical(predictions: z, species: p.species, times: config.model.times.count)
    }

    /// The preparer of this model's inputs.
    public var preparer: SnapshotPreparer { SnapshotPreparer(config: config.model) }

    /// Every snapshot of the files `paths` (read as one set) with this model's predictions
    /// `[N][T]` (physical units), in order, on this process alone.
    public func predictions(on paths: [String], needTargets: Bool) throws -> (file: SnapshotSet, snapshots: [(PreparedSnapshot, [Float])]) {
        let preparer = self.preparer
        let file = try preparer.open(paths, needTargets: needTargets, needAllTimes: false)
        let snapshots = try (0..<file.snapshotCount).map { k in
            let p = try preparer.prepared(file, snapshot: k, normalization)
            return (p, predict(p))
        }
        return (file, snapshots)
    }
}

extension Checkpoint {
    /// The standardization statistics this checkpoint holds.
    public var normalization: Normalization {
        Normalization(targetMean: targetMean, targetStd: targetStd, scalarMean: scalarMean, scalarStd: scalarStd)
    }

    /// `metadataJSON` as an object (empty when it is not one).
    public var metadata: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(metadataJSON.utf8))) as? [String: Any] ?? [:]
    }
}
