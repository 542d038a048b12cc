extension PropensityModel {
    /// The decoder (docs/model.md: the decoder): the last layer's C scalars → one output per
    /// species and time (an MLP, e3nn's FullyConnectedNet, column s·T + t); particle i's
    /// predictions are the T outputs of its own species.
    struct Decoder {
        let net: FullyConnectedNet
        /// Where its weights start in the flat parameter buffer.
        let offset: Int
        /// C, the width of a row of features (`[N][featureWidth]`, scalars first), and T.
        let channels: Int, featureWidth: Int, times: Int

        init(config: ModelConfig, layout: ParameterLayout, featureWidth: Int) {
            net = FullyConnectedNet(sizes: layout.decoderSizes, activation: .silu)
            offset = layout.decoderOffset
            channels = config.channels
            self.featureWidth = featureWidth
            times = config.times.count
        }

        /// Predictions `[N][T]` from the features h_K `[N][featureWidth]`: `input` ← their scalars
        /// `[N][C]`, `output` ← the net's `[N][species·T]`, `tape` for backward.
        func forward(parameters: UnsafePointer<Float>, features: [Float], species: [Int32], input: inout [Float],
                     tape: inout FullyConnectedNet.Tape, output: inout [Float], blocks: RowBlocks) -> [Float] {
            let n = blocks.rows, width = net.outputSize
            FlatBuffers.fit(&input, n * channels)
            FlatBuffers.fit(&output, n * width)
            FlatBuffers.copyRows(features, width: featureWidth, into: &input, width: channels, rows: n)
            net.forward(weights: parameters + offset, input: input, output: &output, tape: &tape, blocks: blocks)
            var predictions = [Float](repeating: 0, count: n * times)
            for i in 0..<n {
                let s = Int(species[i])
                for q in 0..<times { predictions[i * times + q] = output[i * width + s * times + q] }
            }
            return predictions
        }

        /// Backward of `forward` (its `input` and `tape`): given ∂L/∂predictions `[N][T]`,
        /// ACCUMULATES ∂L/∂weights into `gradient` (the flat layout) and writes ∂L/∂scalars `[N][C]`
        /// into `gradInput`; `gradOutput` is work space (∂L/∂output).
        func backward(parameters: UnsafePointer<Float>, species: [Int32], gradPredictions: [Float], input: [Float],
                      tape: FullyConnectedNet.Tape, gradOutput: inout [Float], gradInput: inout [Float],
                      gradient: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
            let n = blocks.rows
            FlatBuffers.fit(&gradOutput, n * net.outputSize)
            FlatBuffers.fit(&gradInput, n * channels)
            scatter(gradPredictions, species: species, into: &gradOutput, count: n)
            net.backward(weights: parameters + offset, input: input, tape: tape, gradOutput: gradOutput, gradInput: &gradInput,
                         gradWeights: gradient + offset, blocks: blocks)
        }

        /// ∂L/∂output: each particle's T gradients in its species' columns, zero elsewhere.
        func scatter(_ gradPredictions: [Float], species: [Int32], into g: UnsafeMutablePointer<Float>, count n: Int) {
            let width = net.outputSize
            for i in 0..<n {
                let s = Int(species[i]), row = g + i * width
                row.update(repeating: 0, count: width)
                for q in 0..<times { row[s * times + q] = gradPredictions[i * times + q] }
            }
        }
    }
}
