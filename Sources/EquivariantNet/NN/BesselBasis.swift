import Foundation

/// Radial embedding of an edge length r: `count` Bessel functions times a smooth envelope,
///
///     f_n(r) = √(2/r_c) · sin(nπ r / r_c) / r · u(r / r_c),   n = 1…count,
///     u(x)  = 1 − (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) − p(p+1)/2 x^(p+2)
///
/// (e3nn's `soft_one_hot_linspace(..., basis="bessel")` times NequIP's polynomial cutoff), and 0
/// for r ≥ r_c. Layout: `[E][count]`.
public struct BesselBasis: Sendable {
    public let cutoff: Double
    public let count: Int
    public let envelopePower: Int

    public init(cutoff: Double = 2.0, count: Int = 8, envelopePower: Int = 6) {
        precondition(cutoff > 0 && count > 0 && envelopePower > 0)
        self.cutoff = cutoff; self.count = count; self.envelopePower = envelopePower
    }

    /// The envelope u(x) and du/dx.
    public func envelope(_ x: Double) -> (Double, Double) {
        if x >= 1 { return (0, 0) }
        let p = Double(envelopePower)
        let xp = pow(x, p)
        let u = 1 - (p + 1) * (p + 2) / 2 * xp + p * (p + 2) * xp * x - p * (p + 1) / 2 * xp * x * x
        // du/dx = −p(p+1)(p+2)/2 · x^(p−1) (1 − x)²
        let du = -p * (p + 1) * (p + 2) / 2 * pow(x, p - 1) * (1 - x) * (1 - x)
        return (u, du)
    }

    /// f_n(r) into `values[0..<count]`, and df_n/dr into `derivatives` if given. r must be > 0.
    public func evaluate(_ r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>? = nil) {
        let (u, du) = envelope(r / cutoff)
        let a = (2 / cutoff).squareRoot()
        for n in 0..<count {
            if r >= cutoff || r <= 0 { values[n] = 0; derivatives?[n] = 0; continue }
            let k = Double(n + 1) * Double.pi / cutoff
            let s = sin(k * r), c = cos(k * r)
            let b = a * s / r
            values[n] = b * u
            if let d = derivatives {
                let db = a * (k * c / r - s / (r * r))
                d[n] = db * u + b * du / cutoff
            }
        }
    }

    /// Forward over a batch: `distances` `[E]` → `output` `[E][count]`.
    public func forward(distances: UnsafePointer<Float>, edgeCount: Int, output: UnsafeMutablePointer<Float>) {
        var v = [Double](repeating: 0, count: count)
        v.withUnsafeMutableBufferPointer { vb in
            for e in 0..<edgeCount {
                evaluate(Double(distances[e]), values: vb.baseAddress!)
                for n in 0..<count { output[e * count + n] = Float(vb[n]) }
            }
        }
    }

    /// Backward: ∂L/∂r_e = Σ_n ∂L/∂f_n · f_n'(r_e), written (not accumulated) into `gradDistances`.
    public func backward(distances: UnsafePointer<Float>, edgeCount: Int, gradOutput: UnsafePointer<Float>,
                         gradDistances: UnsafeMutablePointer<Float>) {
        var v = [Double](repeating: 0, count: count), d = v
        v.withUnsafeMutableBufferPointer { vb in
            d.withUnsafeMutableBufferPointer { db in
                for e in 0..<edgeCount {
                    evaluate(Double(distances[e]), values: vb.baseAddress!, derivatives: db.baseAddress!)
                    var acc = 0.0
                    for n in 0..<count { acc += Double(gradOutput[e * count + n]) * db[n] }
                    gradDistances[e] = Float(acc)
                }
            }
        }
    }
}
