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

    /// y `[count][output.dimension]` = Linear(x `[count][input.dimension]`).
    public func forward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>, count: Int,
                        output y: UnsafeMutablePointer<Float>) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        for l in 0...output.lmax where output.mul(l) > 0 {
            let (cIn, cOut) = (input.mul(l), output.mul(l))
            for m in 0..<(2 * l + 1) {
                let yBlock = y + output.offset(l) + m * cOut
                if cIn == 0 {
                    for n in 0..<count { (yBlock + n * dOut).update(repeating: 0, count: cOut) }
                    continue
                }
                BLAS.sgemm(m: count, n: cOut, k: cIn, alpha: 1 / Float(cIn).squareRoot(),
                           a: x + input.offset(l) + m * cIn, lda: dIn,
                           b: weights + weightOffsets[l], ldb: cOut,
                           c: yBlock, ldc: dOut)
            }
        }
    }

    /// Backward: **writes** ∂L/∂x into `gradInput` if given (zero where no path) and
    /// **accumulates** ∂L/∂W into `gradWeights`.
    public func backward(weights: UnsafePointer<Float>, input x: UnsafePointer<Float>, count: Int,
                         gradOutput gy: UnsafePointer<Float>, gradInput gx: UnsafeMutablePointer<Float>?,
                         gradWeights gw: UnsafeMutablePointer<Float>) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        if let gx { gx.update(repeating: 0, count: count * dIn) }
        for l in 0...input.lmax where hasPath(l) {
            let (cIn, cOut) = (input.mul(l), output.mul(l))
            let alpha = 1 / Float(cIn).squareRoot()
            for m in 0..<(2 * l + 1) {
                let xBlock = x + input.offset(l) + m * cIn
                let gyBlock = gy + output.offset(l) + m * cOut
                // ∂L/∂W_l += Σ_{n} x[n,l,m,:]ᵀ gy[n,l,m,:] / √C_in
                BLAS.sgemm(transA: true, m: cIn, n: cOut, k: count, alpha: alpha,
                           a: xBlock, lda: dIn, b: gyBlock, ldb: dOut, beta: 1,
                           c: gw + weightOffsets[l], ldc: cOut)
                // ∂L/∂x[n,l,m,:] = gy[n,l,m,:] W_lᵀ / √C_in
                if let gx {
                    BLAS.sgemm(transB: true, m: count, n: cIn, k: cOut, alpha: alpha,
                               a: gyBlock, lda: dOut, b: weights + weightOffsets[l], ldb: cOut,
                               c: gx + input.offset(l) + m * cIn, ldc: dIn)
                }
            }
        }
    }
}
