extension PropensityModel {
    /// The embedding (docs/model.md: the embedding): each particle's one-hot species and its
    /// standardized extra scalars → the first features h_0, C scalars (an `EquivariantLinear` on
    /// scalars, e3nn's o3.Linear).
    struct Embedding {
        let linear: EquivariantLinear
        /// Where its weights start in the flat parameter buffer.
        let offset: Int
        let speciesCount: Int, extraCount: Int

        init(config: ModelConfig, layout: ParameterLayout) {
            linear = EquivariantLinear(input: Irreps(channels: [config.embeddingInputs]), output: Irreps(channels: [config.channels]))
            offset = layout.embedding.offset
            speciesCount = config.speciesCount
            extraCount = config.extraScalars.count
        }

        /// Inputs per particle: the species' one-hot, then the extra scalars.
        var inputWidth: Int { speciesCount + extraCount }

        /// `input` ← `[N][species + extra]` (one-hot species, then `scalars` `[N][extra]`), and
        /// `output` ← h_0 `[N][C]`, for the rows of `blocks`.
        func forward(parameters: UnsafePointer<Float>, species: [Int32], scalars: [Float], input: inout [Float],
                     output: inout [Float], blocks: RowBlocks) {
            let n = blocks.rows
            FlatBuffers.fit(&input, n * inputWidth)
            oneHot(species: species, scalars: scalars, into: &input, count: n)
            FlatBuffers.fit(&output, n * linear.output.dimension)
            linear.forward(weights: parameters + offset, input: input, output: &output, blocks: blocks)
        }

        func oneHot(species: [Int32], scalars: [Float], into x: UnsafeMutablePointer<Float>, count n: Int) {
            let width = inputWidth
            for i in 0..<n {
                let s = Int(species[i])
                precondition(s >= 0 && s < speciesCount, "PropensityModel: species \(s) of particle \(i) out of range")
                let row = x + i * width
                row.update(repeating: 0, count: width)
                row[s] = 1
                for j in 0..<extraCount { row[speciesCount + j] = scalars[i * extraCount + j] }
            }
        }

        /// Backward of `forward` (its `input`): given ∂L/∂h_0 `[N][C]`, ACCUMULATES ∂L/∂weights into
        /// `gradient` (the flat layout); the input has no gradient.
        func backward(parameters: UnsafePointer<Float>, input: [Float], gradOutput: [Float],
                      gradient: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
            linear.backward(weights: parameters + offset, input: input, gradOutput: gradOutput, gradInput: nil,
                            gradWeights: gradient + offset, blocks: blocks)
        }
    }
}
