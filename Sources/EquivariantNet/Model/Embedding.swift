extension PropensityModel {
    /// The embedding (docs/model.md: the embedding): each particle's one-hot species and its
    /// standardized extra scalars → C scalars, and its extra vectors (if any) → C vectors; the
    /// first features h_0 (an `EquivariantLinear`, e3nn's o3.Linear, l = 0 → 0 and 1 → 1).
    struct Embedding {
        let linear: EquivariantLinear
        /// Where its weights start in the flat parameter buffer (the l = 1 block follows).
        let offset: Int
        let speciesCount: Int, extraCount: Int, vectorCount: Int

        init(config: ModelConfig, layout: ParameterLayout) {
            speciesCount = config.speciesCount
            extraCount = config.extraScalars.count
            vectorCount = config.extraVectors.count
            let input = vectorCount == 0 ? [config.embeddingInputs] : [config.embeddingInputs, vectorCount]
            let output = vectorCount == 0 ? [config.channels] : [config.channels, config.channels]
            linear = EquivariantLinear(input: Irreps(channels: input), output: Irreps(channels: output))
            offset = layout.embedding.offset
        }

        /// Inputs per particle: the species' one-hot, the extra scalars, 3 numbers per vector.
        var inputWidth: Int { speciesCount + extraCount + 3 * vectorCount }

        /// `input` ← `[N][inputWidth]` (one-hot species, `scalars` `[N][extra]`, `vectors`
        /// `[N][vectors][3]`), and `output` ← h_0, for the rows of `blocks`.
        func forward(parameters: UnsafePointer<Float>, species: [Int32], scalars: [Float], vectors: [Float],
                     input: inout [Float], output: inout [Float], blocks: RowBlocks) {
            let n = blocks.rows
            FlatBuffers.fit(&input, n * inputWidth)
            inputRows(species: species, scalars: scalars, vectors: vectors, into: &input, count: n)
            FlatBuffers.fit(&output, n * linear.output.dimension)
            linear.forward(weights: parameters + offset, input: input, output: &output, blocks: blocks)
        }

        func inputRows(species: [Int32], scalars: [Float], vectors: [Float], into x: UnsafeMutablePointer<Float>,
                       count n: Int) {
            let width = inputWidth, scalarWidth = speciesCount + extraCount
            for i in 0..<n {
                let s = Int(species[i])
                precondition(s >= 0 && s < speciesCount, "PropensityModel: species \(s) of particle \(i) out of range")
                let row = x + i * width
                row.update(repeating: 0, count: width)
                row[s] = 1
                for j in 0..<extraCount { row[speciesCount + j] = scalars[i * extraCount + j] }
                // Irreps layout of the l = 1 block: component m, then vector v (channels fastest).
                for v in 0..<vectorCount {
                    for m in 0..<3 { row[scalarWidth + m * vectorCount + v] = vectors[(i * vectorCount + v) * 3 + m] }
                }
            }
        }

        /// Backward of `forward` (its `input`): given ∂L/∂h_0, ACCUMULATES ∂L/∂weights into
        /// `gradient` (the flat layout); the input has no gradient.
        func backward(parameters: UnsafePointer<Float>, input: [Float], gradOutput: [Float],
                      gradient: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
            linear.backward(weights: parameters + offset, input: input, gradOutput: gradOutput, gradInput: nil,
                            gradWeights: gradient + offset, blocks: blocks)
        }
    }
}
