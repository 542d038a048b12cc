import EquivariantNet

/// One snapshot ready for the network: its graph and inputs, and its targets (physical units)
/// at the model's times that the file has.
public struct PreparedSnapshot {
    /// Index of the snapshot in its file.
    public let index: Int
    public let input: ModelInput
    /// Raw extra scalars `[N][E]` (physical units; standardized into `input` by `standardize`).
    public let rawScalars: [Float]
    /// Raw extra vectors `[N][V][3]` (physical units; scaled into `input` by `standardize`).
    public let rawVectors: [Float]
    /// Propensity `[N][T_model]` at the model's times (NaN where the file lacks a time), or nil
    /// if the file has no propensity.
    public let targets: [Float]?
    public var species: [Int32] { input.species }
    public var particleCount: Int { input.nodeCount }

    public init(index: Int, input: ModelInput, rawScalars: [Float], rawVectors: [Float] = [], targets: [Float]?) {
        self.index = index
        self.input = input
        self.rawScalars = rawScalars
        self.rawVectors = rawVectors
        self.targets = targets
    }
}
