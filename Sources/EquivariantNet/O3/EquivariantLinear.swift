import Foundation

/// e3nn's `o3.Linear(irreps_in, irreps_out)` for parity-free irreps with one block per l: for each l,
/// channels are mixed by a weight matrix scaled by 1/√(fan_in) (no bias), the same matrix for all m:
///
///     y[n, l, m, v] = Σ_u x[n, l, m, u] · W_l[u, v] / √(C_in(l))
///
/// An output l with no input l (or C_in(l) = 0) is zero, as in e3nn. Input and output counts per l
/// may differ (e.g. C → C + 3C scalars for the self-interaction).
///
/// Weights live in a flat buffer owned by the caller: W_l is `[C_in(l)][C_out(l)]` row-major at
/// `weightOffsets[l]`, blocks in increasing l (e3nn's `weight` vector in the same order).
/// Features use `Irreps`' layout (channels fastest); each (l, m) is one `sgemm` over all N nodes.
public struct EquivariantLinear: Sendable {
    public let input: Irreps
    public let output: Irreps
    /// Offset of W_l in the weight buffer (meaningful where `hasPath(l)`).
    public let weightOffsets: [Int]
    public let parameterCount: Int

    public init(input: Irreps, output: Irreps) {
        self.input = input
        self.output = output
        var offsets: [Int] = []
        var total = 0
        for l in 0...output.lmax {
            offsets.append(total)
            total += input.mul(l) * output.mul(l)
        }
        self.weightOffsets = offsets
        self.parameterCount = total
    }

    public func hasPath(_ l: Int) -> Bool { input.mul(l) > 0 && output.mul(l) > 0 }

    public func initialWeights(using rng: inout RandomSource) -> [Float] { rng.normalFloats(parameterCount) }

    /// y `[rows][output.dimension]` = Linear(x `[rows][input.dimension]`) for the rows of `blocks`:
    /// per block, one `sgemm` per (l, m); the blocks spread over threads.
    public func forward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>,
                        output y: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        blocks.forEach { _, r in
            let (xr, yr) = (x + r.lowerBound * dIn, y + r.lowerBound * dOut)
            for l in 0...output.lmax where output.mul(l) > 0 {
                let (cIn, cOut) = (input.mul(l), output.mul(l))
                for m in 0..<(2 * l + 1) {
                    let yBlock = yr + output.offset(l) + m * cOut
                    if cIn == 0 {
                        for n in 0..<r.count { (yBlock + n * dOut).update(repeating: 0, count: cOut) }
                        continue
                    }
                    BLAS.sgemm(m: r.count, n: cOut, k: cIn, alpha: 1 / Float(cIn).squareRoot(),
                               a: xr + input.offset(l) + m * cIn, lda: dIn,
                               b: weights + weightOffsets[l], ldb: cOut,
                               c: yBlock, ldc: dOut)
                }
            }
        }
    }

    /// Forward on one thread (tests, small inputs).
    public func forward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>, count: Int,
                        output y: UnsafeMutablePointer<Float>) {
        forward(weights: weights, input: x, output: y,
                blocks: RowBlocks(rows: count, size: RowBlocks.nodeBlockSize, threads: 1))
    }

    /// Backward: **writes** ∂L/∂x into `gradInput` if given (zero where no path) and
    /// **accumulates** ∂L/∂W into `gradWeights`: summed per block, then block by block in
    /// increasing order (bitwise independent of the thread count).
    public func backward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>,
                         gradOutput gy: UnsafePointer<Float>, gradInput gx: UnsafeMutablePointer<Float>?,
                         gradWeights gw: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        let params = parameterCount
        var partials = [Float](repeating: 0, count: blocks.count * params)
        partials.withUnsafeMutableBufferPointer { pb in
            let partial = pb.baseAddress!
            blocks.forEach { b, r in
                let (xr, gyr) = (x + r.lowerBound * dIn, gy + r.lowerBound * dOut)
                let gxr = gx.map { $0 + r.lowerBound * dIn }
                if let gxr { gxr.update(repeating: 0, count: r.count * dIn) }
                for l in 0...input.lmax where hasPath(l) {
                    let (cIn, cOut) = (input.mul(l), output.mul(l))
                    let alpha = 1 / Float(cIn).squareRoot()
                    for m in 0..<(2 * l + 1) {
                        let xBlock = xr + input.offset(l) + m * cIn
                        let gyBlock = gyr + output.offset(l) + m * cOut
                        // ∂L/∂W_l (this block) += Σ_n x[n,l,m,:]ᵀ gy[n,l,m,:] / √C_in
                        BLAS.sgemm(transA: true, m: cIn, n: cOut, k: r.count, alpha: alpha,
                                   a: xBlock, lda: dIn, b: gyBlock, ldb: dOut, beta: m == 0 ? 0 : 1,
                                   c: partial + b * params + weightOffsets[l], ldc: cOut)
                        // ∂L/∂x[n,l,m,:] = gy[n,l,m,:] W_lᵀ / √C_in
                        if let gxr {
                            BLAS.sgemm(transB: true, m: r.count, n: cIn, k: cOut, alpha: alpha,
                                       a: gyBlock, lda: dOut, b: weights + weightOffsets[l], ldb: cOut,
                                       c: gxr + input.offset(l) + m * cIn, ldc: dIn)
                        }
                    }
                }
            }
            blocks.addPartials(partial, width: params, into: gw)
        }
    }

    /// Backward on one thread (tests, small inputs).
    public func backward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>, count: Int,
                         gradOutput gy: UnsafePointer<Float>, gradInput gx: UnsafeMutablePointer<Float>?,
                         gradWeights gw: UnsafeMutablePointer<Float>) {
        backward(weights: weights, input: x, gradOutput: gy, gradInput: gx, gradWeights: gw,
                 blocks: RowBlocks(rows: count, size: RowBlocks.nodeBlockSize, threads: 1))
    }
}
