import Foundation

/// Real spherical harmonics Y^l(r̂), l = 0…lmax (any lmax; the model uses 3), in e3nn's basis
/// and "component" normalization: |Y^l(r̂)|² = 2l+1, Y^0 = 1, Y^1 = √3 (x, y, z)/r — the values of
/// e3nn's `spherical_harmonics(range(lmax+1), r, normalize=True, normalization="component")`.
///
/// Layout: one vector's harmonics are `(lmax+1)²` numbers, Y^l_m at index `l² + m` (m = 0…2l);
/// a batch of E vectors is `[E][(lmax+1)²]`.
///
/// Computed, not typed in: the harmonic polynomials obey
///     P^l = c_l · C(l−1, 1, l) · (P^{l−1} ⊗ u),   P^0 = 1,
/// (the l-part of P^{l−1} ⊗ u is equivariant, so proportional to Y^l on the sphere); c_l fixes
/// |Y^l|² = 2l+1 and the sign Y^l_{m=l}(ŷ) > 0 (y is e3nn's polar axis), which reproduces e3nn's
/// generated polynomials (tested against e3nn to l = 6). The gradient follows the same recursion.
///
/// The input vector need not be unit: it is normalized inside, and the backward pass returns the
/// gradient with respect to the raw vector. The zero vector gives Y^0 = 1, Y^{l>0} = 0, gradient 0
/// (as e3nn's `normalize`, which forwards zeros).
public struct SphericalHarmonics: Sendable {
    public let lmax: Int
    /// Recursion tables: `steps[l-1]` holds c_l · C(l−1, 1, l), sparse.
    let steps: [[CGEntry]]

    public var dimension: Int { (lmax + 1) * (lmax + 1) }

    public init(lmax: Int) {
        precondition(lmax >= 0)
        self.lmax = lmax
        var steps: [[CGEntry]] = []
        // Fix c_l at the polar axis ŷ, where only the middle component is nonzero.
        var p: [Double] = [1]
        let yHat = [0.0, 1.0, 0.0]
        if lmax > 0 {
            for l in 1...lmax {
                let cg = ClebschGordan(l - 1, 1, l).entries
                var next = [Double](repeating: 0, count: 2 * l + 1)
                for e in cg { next[e.m3] += e.value * p[e.m1] * yHat[e.m2] }
                let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let c = Double(2 * l + 1).squareRoot() / norm * (next[l] > 0 ? 1 : -1)
                steps.append(cg.map { CGEntry(m1: $0.m1, m2: $0.m2, m3: $0.m3, value: c * $0.value) })
                p = next.map { $0 * c }
            }
        }
        self.steps = steps
    }

    /// Y(v) for one vector, into `y[0..<dimension]`; if `gradient` is given, also
    /// ∂Y_k/∂v_a into `gradient[3k + a]` (`[dimension][3]`).
    public func evaluate(_ v: (Double, Double, Double), into y: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Double>? = nil) {
        let r = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
        let dim = dimension
        y.update(repeating: 0, count: dim)
        y[0] = 1
        gradient?.update(repeating: 0, count: 3 * dim)
        guard r > 0 else { return }
        let u = [v.0 / r, v.1 / r, v.2 / r]
        // Polynomial values and their gradients in u (not yet projected on the sphere).
        for l in 1..<(lmax + 1) {
            let prev = (l - 1) * (l - 1), cur = l * l
            for e in steps[l - 1] {
                y[cur + e.m3] += e.value * y[prev + e.m1] * u[e.m2]
                if let g = gradient {
                    for a in 0..<3 { g[3 * (cur + e.m3) + a] += e.value * g[3 * (prev + e.m1) + a] * u[e.m2] }
                    g[3 * (cur + e.m3) + e.m2] += e.value * y[prev + e.m1]
                }
            }
        }
        // Chain rule through u = v/|v|: ∂Y/∂v = (I − u uᵀ) ∇P(u) / r, and u·∇P^l = l P^l
        // (P^l is homogeneous of degree l).
        if let g = gradient {
            for l in 1..<(lmax + 1) {
                for k in (l * l)..<((l + 1) * (l + 1)) {
                    let radial = Double(l) * y[k]
                    for a in 0..<3 { g[3 * k + a] = (g[3 * k + a] - u[a] * radial) / r }
                }
            }
        }
    }

    /// Forward over a batch: `vectors` `[E][3]` → `output` `[E][dimension]` (Float; each vector is
    /// computed in Double).
    public func forward(vectors: UnsafePointer<Float>, count: Int, output: UnsafeMutablePointer<Float>) {
        let dim = dimension
        var y = [Double](repeating: 0, count: dim)
        y.withUnsafeMutableBufferPointer { yb in
            for e in 0..<count {
                evaluate((Double(vectors[3 * e]), Double(vectors[3 * e + 1]), Double(vectors[3 * e + 2])), into: yb.baseAddress!)
                for k in 0..<dim { output[e * dim + k] = Float(yb[k]) }
            }
        }
    }

    /// Backward over a batch: given ∂L/∂Y `[E][dimension]`, writes ∂L/∂vectors `[E][3]`
    /// (overwritten, not accumulated).
    public func backward(vectors: UnsafePointer<Float>, count: Int, gradOutput: UnsafePointer<Float>,
                         gradVectors: UnsafeMutablePointer<Float>) {
        let dim = dimension
        var y = [Double](repeating: 0, count: dim), g = [Double](repeating: 0, count: 3 * dim)
        y.withUnsafeMutableBufferPointer { yb in
            g.withUnsafeMutableBufferPointer { gb in
                for e in 0..<count {
                    evaluate((Double(vectors[3 * e]), Double(vectors[3 * e + 1]), Double(vectors[3 * e + 2])),
                             into: yb.baseAddress!, gradient: gb.baseAddress!)
                    var acc = (0.0, 0.0, 0.0)
                    for k in 0..<dim {
                        let go = Double(gradOutput[e * dim + k])
                        acc.0 += go * gb[3 * k]; acc.1 += go * gb[3 * k + 1]; acc.2 += go * gb[3 * k + 2]
                    }
                    gradVectors[3 * e] = Float(acc.0); gradVectors[3 * e + 1] = Float(acc.1); gradVectors[3 * e + 2] = Float(acc.2)
                }
            }
        }
    }
}
