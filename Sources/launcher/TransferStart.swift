import EquivariantNet
import Foundation

/// The start of a transfer-learning run (`launcher train --init-from CHECKPOINT`): a new run
/// whose parameters come from another run's checkpoint (docs/transfer.md).
///
/// What is taken from the checkpoint: the parameters, the model configuration, `avgNeighbors`
/// (the encoder was trained with that normalisation of its messages) and the extra scalars'
/// standardisation (the encoder's inputs keep their meaning). What is new: the optimiser (fresh
/// moments, step 0), the epochs and the random state, and the targets' standardisation, computed
/// on the new training data.
struct TransferStart {
    let source: ModelBundle

    init(path: String) throws {
        source = try ModelBundle.load(path)
    }

    /// The run's model configuration: the checkpoint's. A configuration given on the command
    /// line (anything but the defaults) must equal it; otherwise an error names every field
    /// that differs.
    func modelConfig(requested: ModelConfig) throws -> ModelConfig {
        let saved = source.config.model
        if requested == ModelConfig() || requested == saved { return saved }
        let differences = Self.differences(requested, saved)
        throw ValidationFailure("--init-from \(source.path): the model configuration differs from the checkpoint's in "
                                + differences.joined(separator: "; ")
                                + " (omit the model section, or make it equal the checkpoint's)")
    }

    /// "key: requested X, checkpoint Y" for every configuration key whose values differ.
    static func differences(_ requested: ModelConfig, _ saved: ModelConfig) -> [String] {
        func dictionary(_ c: ModelConfig) -> [String: Any] {
            let data = try! JSONEncoder().encode(c)
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        }
        func text(_ v: Any?) -> String {
            guard let v else { return "none" }
            if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(v)"
        }
        let a = dictionary(requested), b = dictionary(saved)
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            let x = text(a[key]), y = text(b[key])
            return x == y ? nil : "\(key): requested \(x), checkpoint \(y)"
        }
    }

    /// The normalisation of the new run: targets from the new training data, extra scalars as
    /// the encoder saw them.
    func normalization(newTargets statistics: Normalization) -> Normalization {
        Normalization(targetMean: statistics.targetMean, targetStd: statistics.targetStd,
                      scalarMean: source.normalization.scalarMean, scalarStd: source.normalization.scalarStd)
    }
}
