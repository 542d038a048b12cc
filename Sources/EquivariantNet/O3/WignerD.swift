import Foundation

/// Wigner D matrices in e3nn's real basis: the matrix by which a rotation acts on an l-feature,
/// `x_l ↦ D^l(R) x_l`.
///
/// Built from e3nn's `so3_generators(l)` (the SU(2) generators J_x, J_z, −J_y conjugated by
/// `change_basis_real_to_complex`), which in this basis generate rotations about x, y and z:
/// D^l(exp(θ n·L)) = exp(θ (n_x X0 + n_y X1 + n_z X2)). In particular D^1(R) = R in the (x, y, z)
/// order of e3nn's l = 1 vectors (tested), and these D agree with e3nn's `wigner_D`.
public enum WignerD {
    /// The three real generators `[3][2l+1][2l+1]` (row-major) of e3nn's `so3_generators(l)`.
    public static func generators(_ l: Int) -> [[Double]] {
        let d = 2 * l + 1
        let j = Double(l)
        // Complex SU(2) generators, as e3nn's su2_generators (real and imaginary parts).
        var raising = [Double](repeating: 0, count: d * d), lowering = raising
        for k in 0..<(d - 1) {
            let m = Double(k - l)  // raising: m = -j..j-1 at [k+1, k]
            raising[(k + 1) * d + k] = -(j * (j + 1) - m * (m + 1)).squareRoot()
            let m2 = Double(k + 1 - l)  // lowering: m = -j+1..j at [k, k+1]
            lowering[k * d + (k + 1)] = (j * (j + 1) - m2 * (m2 - 1)).squareRoot()
        }
        // X0 = (R + L)/2 (real); X1 = diag(i m); X2 = -i/2 (R - L).
        var xs: [(re: [Double], im: [Double])] = []
        xs.append(((0..<(d * d)).map { 0.5 * (raising[$0] + lowering[$0]) }, [Double](repeating: 0, count: d * d)))
        var im1 = [Double](repeating: 0, count: d * d)
        for k in 0..<d { im1[k * d + k] = Double(k - l) }
        xs.append(([Double](repeating: 0, count: d * d), im1))
        xs.append(([Double](repeating: 0, count: d * d), (0..<(d * d)).map { -0.5 * (raising[$0] - lowering[$0]) }))

        let q = ClebschGordan.realToComplex(l)
        return xs.map { x in
            // conj(Q)ᵀ X Q, real part (the imaginary part vanishes).
            var out = [Double](repeating: 0, count: d * d)
            for a in 0..<d {
                for b in 0..<d {
                    var sr = 0.0
                    for r in 0..<d {
                        let (qr, qi) = (q.re[r * d + a], -q.im[r * d + a])  // conj(Q)ᵀ[a, r]
                        if qr == 0 && qi == 0 { continue }
                        for c in 0..<d {
                            let (xr, xi) = (x.re[r * d + c], x.im[r * d + c])
                            if xr == 0 && xi == 0 { continue }
                            let (pr, pi) = (qr * xr - qi * xi, qr * xi + qi * xr)
                            let (sr2, si2) = (q.re[c * d + b], q.im[c * d + b])
                            sr += pr * sr2 - pi * si2
                        }
                    }
                    out[a * d + b] = sr
                }
            }
            return out
        }
    }

    /// D^l(R), `[2l+1][2l+1]` row-major, in Double.
    public static func matrix(_ l: Int, rotation: Rotation) -> [Double] {
        let d = 2 * l + 1
        let (axis, angle) = rotation.axisAngle
        let g = generators(l)
        var a = [Double](repeating: 0, count: d * d)
        for k in 0..<(d * d) { a[k] = angle * (axis.0 * g[0][k] + axis.1 * g[1][k] + axis.2 * g[2][k]) }
        return matrixExponential(a, d)
    }

    /// exp(A) of a small dense matrix by scaling and squaring with a Taylor series (Double).
    static func matrixExponential(_ a: [Double], _ d: Int) -> [Double] {
        let norm = a.reduce(0) { max($0, abs($1)) } * Double(d)
        var s = 0
        while norm / pow(2, Double(s)) > 0.25 { s += 1 }
        let scaled = a.map { $0 / pow(2, Double(s)) }
        var result = [Double](repeating: 0, count: d * d)
        var term = result
        for k in 0..<d { result[k * d + k] = 1; term[k * d + k] = 1 }
        for n in 1...20 {
            term = multiply(term, scaled, d).map { $0 / Double(n) }
            for k in 0..<(d * d) { result[k] += term[k] }
        }
        for _ in 0..<s { result = multiply(result, result, d) }
        return result
    }

    /// A B for square d×d row-major matrices.
    public static func multiply(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
        var c = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for k in 0..<d { let x = a[i * d + k]; if x == 0 { continue }; for j in 0..<d { c[i * d + j] += x * b[k * d + j] } } }
        return c
    }

    /// Apply D^l for every l block of every vector of a batch in our layout (channels fastest):
    /// out[n, l, m, u] = Σ_m' D^l[m, m'] x[n, l, m', u].
    public static func rotate(_ x: [Double], irreps: Irreps, count: Int, rotation: Rotation) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        for l in 0...irreps.lmax where irreps.mul(l) > 0 {
            let d = 2 * l + 1, c = irreps.mul(l)
            let dm = matrix(l, rotation: rotation)
            for n in 0..<count {
                let base = n * irreps.dimension + irreps.offset(l)
                for m in 0..<d { for mp in 0..<d { for u in 0..<c { out[base + m * c + u] += dm[m * d + mp] * x[base + mp * c + u] } } }
            }
        }
        return out
    }
}
