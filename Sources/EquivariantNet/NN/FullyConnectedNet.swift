import Foundation

/// e3nn's `nn.FullyConnectedNet(sizes, act)`: no biases; layer k computes
///
///     z_k = a_k · W_k / √(sizes[k]),   a_{k+1} = act(z_k)   (normalized activation),
///
/// and the last layer has no activation. Weights are N(0, 1) at initialization.
///
/// Parameters live in a flat buffer owned by the caller: layer k's weight is `[sizes[k]][sizes[k+1]]`
/// row-major at `weightOffsets[k]` (the same order as e3nn's `layers[k].weight`, shape (h_in, h_out)).
/// Activations are row-major `[rows][size]`.
///
/// Rows are processed in fixed blocks (`RowBlocks`), one matrix product per layer and block
/// (`SmallMatrixProduct`: the inner dimensions are short), the blocks spread over threads; weight gradients are summed per block and then block by block in a fixed
/// order, so results are bitwise independent of the thread count. The tape keeps only the hidden
/// layers' activations and derivatives (`[rows][hidden]`, small for the radial MLPs); the input
/// stays with the caller and the output can be recomputed from the tape (`recomputeOutput`).
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
    /// Width of all hidden layers together (Σ sizes[1..<last]).
    public var hiddenWidth: Int { sizes.dropFirst().dropLast().reduce(0, +) }

    /// N(0, 1) weights, as e3nn's `torch.randn` initialization (not the same stream).
    public func initialWeights(using rng: inout RandomSource) -> [Float] {
        rng.normalFloats(parameterCount)
    }

    /// What the backward pass needs from the forward one besides the input: for every hidden
    /// layer k = 1…L−1 the activation a_k = act(z_{k−1}) and its derivative act′(z_{k−1}),
    /// stored per row: `values[r · hiddenWidth + hiddenOffset(k) + j]` (the same for
    /// `derivatives`). Reused between calls (reallocated only when the row count changes).
    public struct Tape: Sendable {
        public var values: [Float] = []
        public var derivatives: [Float] = []
        public var rows = 0
        public init() {}
    }

    /// Column of hidden layer k (k = 1…L−1) inside a tape row.
    func hiddenOffset(_ k: Int) -> Int { sizes[1..<k].reduce(0, +) }

    // MARK: forward

    /// output `[rows][outputSize]` = net(input `[rows][inputSize]`) for the rows of `blocks`;
    /// fills `tape` for backward.
    public func forward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                        tape: inout Tape, blocks: RowBlocks) {
        let rows = blocks.rows, width = hiddenWidth
        tape.rows = rows
        if tape.values.count != rows * width {
            tape.values = [Float](repeating: 0, count: rows * width)
            tape.derivatives = [Float](repeating: 0, count: rows * width)
        }
        tape.values.withUnsafeMutableBufferPointer { vb in
            tape.derivatives.withUnsafeMutableBufferPointer { db in
                let (values, derivatives) = (vb.baseAddress, db.baseAddress)
                blocks.forEach { _, r in
                    var a = input + r.lowerBound * inputSize, lda = inputSize
                    for k in 0..<layerCount {
                        let (hIn, hOut) = (sizes[k], sizes[k + 1])
                        let alpha = 1 / Float(hIn).squareRoot()
                        // Short inner dimensions (the radial MLPs' 8 and 16, the decoder's few
                        // tens): the hand-made product, which writes C with no zeroing pass or
                        // packing and does not depend on OpenBLAS's CPU detection.
                        if k == layerCount - 1 {
                            SmallMatrixProduct.multiply(m: r.count, n: hOut, k: hIn, alpha: alpha, a: a, lda: lda,
                                                        b: weights + weightOffsets[k], c: output + r.lowerBound * hOut, ldc: hOut)
                        } else {
                            // z_k into the tape's values, then (act, act′) in place.
                            let column = hiddenOffset(k + 1)
                            let v = values! + r.lowerBound * width + column, d = derivatives! + r.lowerBound * width + column
                            SmallMatrixProduct.multiply(m: r.count, n: hOut, k: hIn, alpha: alpha, a: a, lda: lda,
                                                        b: weights + weightOffsets[k], c: v, ldc: width)
                            for row in 0..<r.count {
                                activation.valuesAndDerivatives(v + row * width, derivatives: d + row * width, count: hOut)
                            }
                            a = UnsafePointer(v)
                            lda = width
                        }
                    }
                }
            }
        }
    }

    /// Forward on one thread without keeping a tape (tests, small nets).
    public func forward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
                        output: UnsafeMutablePointer<Float>) {
        var tape = Tape()
        forward(weights: weights, input: input, output: output, tape: &tape,
                blocks: RowBlocks(rows: rows, size: RowBlocks.edgeBlockSize, threads: 1))
    }

    /// The output again from the tape alone (the last layer's product, a_{L−1} · W_{L−1}): what
    /// `forward` wrote, bitwise, for the same blocks. The radial MLPs' outputs (E × paths·C per
    /// layer, the largest arrays of the network) are recomputed this way in backward instead of
    /// being stored. A one-layer net has no tape: pass its input.
    public func recomputeOutput(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, tape: Tape,
                                output: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        precondition(tape.rows == blocks.rows, "FullyConnectedNet.recomputeOutput: tape of \(tape.rows) rows, not \(blocks.rows)")
        let k = layerCount - 1, width = hiddenWidth
        let (hIn, hOut) = (sizes[k], sizes[k + 1])
        let alpha = 1 / Float(hIn).squareRoot()
        tape.values.withUnsafeBufferPointer { vb in
            let values = vb.baseAddress
            blocks.forEach { _, r in
                let (a, lda) = k == 0 ? (input + r.lowerBound * hIn, hIn)
                                      : (values! + r.lowerBound * width + hiddenOffset(k), width)
                // The same call as forward's last layer: bitwise the same output.
                SmallMatrixProduct.multiply(m: r.count, n: hOut, k: hIn, alpha: alpha, a: a, lda: lda,
                                            b: weights + weightOffsets[k], c: output + r.lowerBound * hOut, ldc: hOut)
            }
        }
    }

    // MARK: backward

    /// Backward of the last `forward` (same weights, input and blocks): given ∂L/∂output,
    /// **accumulates** ∂L/∂W into `gradWeights` (same layout as the weights) and **writes**
    /// ∂L/∂input into `gradInput` if given. `gradOutput` is read in place (not copied).
    public func backward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, tape: Tape,
                         gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeights: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        backward(weights: weights, input: input, tape: tape, gradOutput: .buffer(gradOutput), gradInput: gradInput,
                 gradWeights: gradWeights, blocks: blocks)
    }

    /// Where the backward pass finds ∂L/∂output.
    public enum GradientSource {
        /// `[rows][outputSize]`, read in place.
        case buffer(UnsafePointer<Float>)
        /// Formed block by block just before use: called with the block's rows and a scratch of
        /// rows.count × outputSize numbers to fill (while they are in the cache for the block's
        /// products, instead of a whole-array pass through memory first).
        case perBlock((Range<Int>, UnsafeMutablePointer<Float>) -> Void)
    }

    /// The same backward with ∂L/∂output from `gradOutput` (a buffer, or filled block by block).
    public func backward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, tape: Tape,
                         gradOutput: GradientSource, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeights: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        precondition(tape.rows == blocks.rows, "FullyConnectedNet.backward: tape of \(tape.rows) rows, not \(blocks.rows)")
        let width = hiddenWidth, params = parameterCount
        let widest = sizes.dropFirst().dropLast().max() ?? 0
        // One partial ∂L/∂W per block, summed in block order at the end.
        var partials = [Float](repeating: 0, count: blocks.count * params)
        partials.withUnsafeMutableBufferPointer { pb in
            tape.values.withUnsafeBufferPointer { vb in
                tape.derivatives.withUnsafeBufferPointer { db in
                    let (partial, values, derivatives) = (pb.baseAddress!, vb.baseAddress, db.baseAddress)
                    blocks.forEach { b, r in
                        let n = r.count
                        // ∂L/∂z of the current layer: gradOutput in place, then two scratch buffers in turn.
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 2 * n * widest))
                        defer { scratch.deallocate() }
                        var g: UnsafePointer<Float>, ldg = outputSize
                        var filled: UnsafeMutablePointer<Float>? = nil
                        defer { filled?.deallocate() }
                        switch gradOutput {
                        case .buffer(let buffer):
                            g = buffer + r.lowerBound * outputSize
                        case .perBlock(let fill):
                            filled = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n * outputSize))
                            fill(r, filled!)
                            g = UnsafePointer(filled!)
                        }
                        var next = scratch
                        for k in stride(from: layerCount - 1, through: 0, by: -1) {
                            let (hIn, hOut) = (sizes[k], sizes[k + 1])
                            let alpha = 1 / Float(hIn).squareRoot()
                            let (a, lda) = k == 0 ? (input + r.lowerBound * hIn, hIn)
                                                  : (UnsafePointer(values! + r.lowerBound * width + hiddenOffset(k)), width)
                            // ∂L/∂W_k (this block) = a_kᵀ g / √hIn
                            SmallMatrixProduct.multiply(m: hIn, n: hOut, k: n, alpha: alpha, aTransposed: a, lda: lda,
                                                        b: g, ldb: ldg, c: partial + b * params + weightOffsets[k], ldc: hOut)
                            if k == 0 {
                                // ∂L/∂input = g W_0ᵀ / √hIn
                                if let gradInput {
                                    SmallMatrixProduct.multiply(m: n, n: hIn, k: hOut, alpha: alpha, a: g, lda: ldg,
                                                                bTransposed: weights, c: gradInput + r.lowerBound * hIn, ldc: hIn)
                                }
                                break
                            }
                            // ∂L/∂z_{k−1} = (g W_kᵀ / √hIn) ⊙ act′(z_{k−1})
                            SmallMatrixProduct.multiply(m: n, n: hIn, k: hOut, alpha: alpha, a: g, lda: ldg,
                                                        bTransposed: weights + weightOffsets[k], c: next, ldc: hIn)
                            let d = derivatives! + r.lowerBound * width + hiddenOffset(k)
                            for row in 0..<n {
                                let nr = next + row * hIn, dr = d + row * width
                                for j in 0..<hIn { nr[j] *= dr[j] }
                            }
                            g = UnsafePointer(next)
                            ldg = hIn
                            next = next == scratch ? scratch + n * widest : scratch
                        }
                    }
                    blocks.addPartials(partial, width: params, into: gradWeights)
                }
            }
        }
    }

    /// Backward on one thread of a `forward(weights:input:rows:output:)` (tests, small nets): runs
    /// the forward again for its tape.
    public func backward(weights: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int,
                         gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeights: UnsafeMutablePointer<Float>) {
        let blocks = RowBlocks(rows: rows, size: RowBlocks.edgeBlockSize, threads: 1)
        var tape = Tape()
        var output = [Float](repeating: 0, count: rows * outputSize)
        forward(weights: weights, input: input, output: &output, tape: &tape, blocks: blocks)
        backward(weights: weights, input: input, tape: tape, gradOutput: gradOutput, gradInput: gradInput,
                 gradWeights: gradWeights, blocks: blocks)
    }
}

extension NormalizedActivation {
    /// (value, derivative) at each of `count` numbers, in place: x[j] becomes act(x[j]) and
    /// `derivatives[j]` act′(x[j]). Eight at a time with `exp8` (the scalar `expf` per number
    /// was ≈ 8% of a training step), the rest one by one; a number's result depends only on it and
    /// its column (not on the row blocks or threads).
    @inline(__always)
    func valuesAndDerivatives(_ x: UnsafeMutablePointer<Float>, derivatives d: UnsafeMutablePointer<Float>, count: Int) {
        let c = Float(constant)
        var j = 0
        while j + 8 <= count {
            let x8 = load8(x + j)
            let s = 1 / (1 + exp8(-x8))
            switch self {
            case .silu:
                store8(c * x8 * s, x + j)
                store8(c * s * (1 + x8 * (1 - s)), d + j)
            case .sigmoid:
                store8(c * s, x + j)
                store8(c * s * (1 - s), d + j)
            }
            j += 8
        }
        while j < count {
            (x[j], d[j]) = valueAndDerivative(x[j])
            j += 1
        }
    }
}
