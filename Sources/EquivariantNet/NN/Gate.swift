import Foundation

/// e3nn's `nn.Gate` for our irreps (docs/model.md: the gate): the input carries S + G scalars
/// then C_l channels of each l ≥ 1, where G = Σ_{l≥1} C_l; the output carries S scalars and the
/// same l ≥ 1 channels:
///
///     out scalars   = silu_n(s)                      (first S input scalars)
///     out[l, m, u]  = sigmoid_n(g_{l,u}) · x[l, m, u] (l ≥ 1)
///
/// with silu_n, sigmoid_n the normalized activations. The G gate scalars follow the S scalars in
/// the input, ordered as e3nn's gated irreps: first the C_1 gates of the l = 1 channels, then the
/// C_2 of l = 2, … (e3nn input irreps: `S x0e + G x0e + C_1 x1e + C_2 x2e + …`).
/// No parameters.
public struct Gate: Sendable {
    public let scalars: Int
    /// C_l for l ≥ 1 (`gated[0]` is C_1).
    public let gated: [Int]
    public let input: Irreps
    public let output: Irreps
    public let scalarActivation: NormalizedActivation = .silu
    public let gateActivation: NormalizedActivation = .sigmoid

    /// `output` is the irreps after gating: S = output.channels[0], C_l = output.channels[l].
    public init(output: Irreps) {
        self.output = output
        scalars = output.mul(0)
        gated = Array(output.channels.dropFirst())
        input = Irreps(channels: [scalars + gated.reduce(0, +)] + gated)
    }

    /// out `[count][output.dimension]` = Gate(x `[count][input.dimension]`), one thread.
    public func forward(input x: UnsafePointer<Float>, count: Int, output y: UnsafeMutablePointer<Float>) {
        forward(input: x, rows: 0..<count, output: y)
    }

    /// The same for the rows of `blocks`, the blocks spread over threads (each row on its own: the
    /// result does not depend on the threads).
    public func forward(input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        blocks.forEach { _, r in forward(input: x, rows: r, output: y) }
    }

    func forward(input x: UnsafePointer<Float>, rows: Range<Int>, output y: UnsafeMutablePointer<Float>) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        for n in rows {
            let xn = x + n * dIn, yn = y + n * dOut
            for u in 0..<scalars { yn[u] = scalarActivation.value(xn[u]) }
            var gateIndex = scalars
            for l in 1...max(1, output.lmax) where l <= output.lmax {
                let c = output.mul(l)
                let xb = xn + input.offset(l), yb = yn + output.offset(l)
                for u in 0..<c {
                    let g = gateActivation.value(xn[gateIndex + u])
                    for m in 0..<(2 * l + 1) { yb[m * c + u] = g * xb[m * c + u] }
                }
                gateIndex += c
            }
        }
    }

    /// Backward: **writes** ∂L/∂x `[count][input.dimension]` from ∂L/∂out, one thread.
    public func backward(input x: UnsafePointer<Float>, count: Int, gradOutput gy: UnsafePointer<Float>,
                         gradInput gx: UnsafeMutablePointer<Float>) {
        backward(input: x, rows: 0..<count, gradOutput: gy, gradInput: gx)
    }

    /// The same for the rows of `blocks`, the blocks spread over threads.
    public func backward(input x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>,
                         gradInput gx: UnsafeMutablePointer<Float>, blocks: RowBlocks) {
        blocks.forEach { _, r in backward(input: x, rows: r, gradOutput: gy, gradInput: gx) }
    }

    func backward(input x: UnsafePointer<Float>, rows: Range<Int>, gradOutput gy: UnsafePointer<Float>,
                  gradInput gx: UnsafeMutablePointer<Float>) {
        let (dIn, dOut) = (input.dimension, output.dimension)
        for n in rows {
            let xn = x + n * dIn, gyn = gy + n * dOut, gxn = gx + n * dIn
            for u in 0..<scalars { gxn[u] = gyn[u] * scalarActivation.valueAndDerivative(xn[u]).1 }
            var gateIndex = scalars
            for l in 1...max(1, output.lmax) where l <= output.lmax {
                let c = output.mul(l)
                let xb = xn + input.offset(l), gyb = gyn + output.offset(l), gxb = gxn + input.offset(l)
                for u in 0..<c {
                    let (g, dg) = gateActivation.valueAndDerivative(xn[gateIndex + u])
                    var dot: Float = 0
                    for m in 0..<(2 * l + 1) {
                        dot += gyb[m * c + u] * xb[m * c + u]
                        gxb[m * c + u] = g * gyb[m * c + u]
                    }
                    gxn[gateIndex + u] = dg * dot
                }
                gateIndex += c
            }
        }
    }
}
