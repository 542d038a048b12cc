import EquivariantNet
import Foundation

/// The start of a transfer-learning run (`launcher train --init-from CHECKPOINT`): a new run
/// whose parameters come from another run's checkpoint (docs/transfer.md).
///
/// What is taken from the checkpoint: the parameters, the model configuration, `avgNeighbors`
/// (the encoder was trained with that normalization of its messages) and the extra scalars'
/// standardization (the encoder's inputs keep their meaning). What is new: the optimizer (fresh
/// moments, step 0), the epochs and the random state, and the targets' standardization, computed
/// on the new training data.
public struct TransferStart {
    public let source: ModelBundle

    public init(path: String) throws {
        source = try ModelBundle.load(path)
    }

    /// The run's model configuration: the checkpoint's (`ModelConfig.adopting`).
    public func modelConfig(requested: ModelConfig) throws -> ModelConfig {
        try requested.adopting(source.config.model, context: "--init-from \(source.path): the model configuration differs from the checkpoint's")
    }

    /// The normalization of the new run: targets from the new training data, extra scalars as
    /// the encoder saw them.
    public func normalization(newTargets statistics: Normalization) -> Normalization {
        Normalization(targetMean: statistics.targetMean, targetStd: statistics.targetStd,
                      scalarMean: source.normalization.scalarMean, scalarStd: source.normalization.scalarStd)
    }
}
