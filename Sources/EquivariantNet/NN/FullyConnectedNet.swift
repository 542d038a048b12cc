import Foundation

/// e3nn's `nn.FullyConnectedNet(sizes, act)`: no biases; layer k computes
///
///     z_k = a_k · W_k / √(sizes[k]),   a_{k+1} = act(z_k)   (normalised activation),
///
/// and the last layer has no activation. Weights are N(0, 1) at initialisation.
///
/// Parameters live in a flat buffer owned by the caller: layer k's weight is `[sizes[k]][sizes[k+1]]`
/// row-major at `weightOffsets[k]` (the same order as e3nn's `layers[k].weight`, shape (h_in, h_out)).
/// Activations are row-major `[rows][size]`; every layer is one `sgemm` over all rows.
public struct FullyConnectedNet: Sendable {
    public let sizes: [Int]
    public let activation: NormalizedActivation
    public let weightOffsets: [Int]

    public init(sizes: [Int], activation: NormalizedActivation) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 }, "FullyConnectedNet: bad sizes \(sizes)")
        self.sizes = sizes
        self.activation = activation
        var offsets = [0]
        for k in 0..<(sizes.count - 1) { offsets.append(offsets.last! + sizes[k] * sizes[k + 1]) }
        self.weightOffsets = offsets
    }

    public var layerCount: Int { sizes.count - 1 }
    public var parameterCount: Int { weightOffsets.last! }
    public var inputSize: Int { sizes.first! }
    public var outputSize: Int { sizes.last! }

    /// N(0, 1) weights, as e3nn's `torch.randn` initialisation (not the same stream).
    public func initialWeights(using rng: inout RandomSource) -> [Float] {
        rng.normalFloats(parameterCount)
    }

    /// What the backward pass needs from the forward one: the input of every layer and the
    /// pre-activation of every hidden layer.
    public struct Tape: Sendable {
        public var layerInputs: [[Float]] = []
        public var preActivations: [[Float]] = []
        public var rows = 0
        public init() {}
    }

    /// output `[rows][outputSize]` = net(input `[rows][inputSize]`); fills `tape` for backward.
    public func forward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
                        output: UnsafeMutablePointer<Float>, tape: inout Tape) {
        tape.rows = rows
        tape.layerInputs = [Array(UnsafeBufferPointer(start: input, count: rows * inputSize))]
        tape.preActivations = []
        for k in 0..<layerCount {
            let (hIn, hOut) = (sizes[k], sizes[k + 1])
            let alpha = 1 / Float(hIn).squareRoot()
            if k == layerCount - 1 {
                tape.layerInputs[k].withUnsafeBufferPointer { a in
                    BLAS.sgemm(m: rows, n: hOut, k: hIn, alpha: alpha, a: a.baseAddress!,
                               b: weights + weightOffsets[k], c: output)
                }
            } else {
                var z = [Float](repeating: 0, count: rows * hOut)
                tape.layerInputs[k].withUnsafeBufferPointer { a in
                    z.withUnsafeMutableBufferPointer { zb in
                        BLAS.sgemm(m: rows, n: hOut, k: hIn, alpha: alpha, a: a.baseAddress!,
                                   b: weights + weightOffsets[k], c: zb.baseAddress!)
                    }
                }
                tape.layerInputs.append(z.map { activation.value($0) })
                tape.preActivations.append(z)
            }
        }
    }

    /// Forward without keeping a tape.
    public func forward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
                        output: UnsafeMutablePointer<Float>) {
        var tape = Tape()
        forward(weights: weights, input: input, rows: rows, output: output, tape: &tape)
    }

    /// Backward: given ∂L/∂output, **accumulates** ∂L/∂W into `gradWeights` (same layout as the
    /// weights) and **writes** ∂L/∂input into `gradInput` if given.
    public func backward(weights: UnsafePointer<Float>, tape: Tape, gradOutput: UnsafePointer<Float>,
                         gradInput: UnsafeMutablePointer<Float>?, gradWeights: UnsafeMutablePointer<Float>) {
        let rows = tape.rows
        var g = Array(UnsafeBufferPointer(start: gradOutput, count: rows * outputSize))  // ∂L/∂z_k
        for k in stride(from: layerCount - 1, through: 0, by: -1) {
            let (hIn, hOut) = (sizes[k], sizes[k + 1])
            let alpha = 1 / Float(hIn).squareRoot()
            // ∂L/∂W_k += a_kᵀ g / √hIn
            tape.layerInputs[k].withUnsafeBufferPointer { a in
                g.withUnsafeBufferPointer { gb in
                    BLAS.sgemm(transA: true, m: hIn, n: hOut, k: rows, alpha: alpha, a: a.baseAddress!,
                               b: gb.baseAddress!, beta: 1, c: gradWeights + weightOffsets[k])
                }
            }
            if k == 0 && gradInput == nil { break }
            // ∂L/∂a_k = g W_kᵀ / √hIn
            var ga = [Float](repeating: 0, count: rows * hIn)
            g.withUnsafeBufferPointer { gb in
                ga.withUnsafeMutableBufferPointer { gab in
                    BLAS.sgemm(transB: true, m: rows, n: hIn, k: hOut, alpha: alpha, a: gb.baseAddress!,
                               b: weights + weightOffsets[k], c: gab.baseAddress!)
                }
            }
            if k == 0 {
                gradInput!.update(from: ga, count: rows * hIn)
            } else {
                let z = tape.preActivations[k - 1]
                for i in 0..<ga.count { ga[i] *= activation.valueAndDerivative(z[i]).1 }
                g = ga
            }
        }
    }
}
