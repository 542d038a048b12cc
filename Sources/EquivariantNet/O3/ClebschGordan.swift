import Foundation

/// One nonzero coefficient of a real Clebsch–Gordan table: C(l1, l2, l3)[m1, m2, m3] = value,
/// with m indices 0…2l in e3nn's real basis.
public struct CGEntry: Equatable, Sendable {
    public let m1: Int, m2: Int, m3: Int
    public let value: Double
}

/// e3nn's `wigner_3j(l1, l2, l3)`: the real Clebsch–Gordan coefficients coupling l1 ⊗ l2 → l3,
/// computed, not typed in:
///
/// 1. the exact SU(2) coefficients ⟨l1 m1; l2 m2 | l3 m3⟩ by Racah's formula (in Double);
/// 2. e3nn's change of basis to real harmonics, `change_basis_real_to_complex(l)` = Q_l
///    (including its factor (−i)^l), contracted as e3nn does:
///    C[j, k, m] = Σ Q1[i, j] Q2[k', k] conj(Q3[n, m]) CG[i, k', n];
/// 3. the real part, divided by its Frobenius norm (unit norm, as e3nn).
///
/// With these conventions C(1,1,1) = ε/√6 and C(l,l,0) = C(0,l,l)·… = δ/√(2l+1) (tested).
/// The table is stored sparse: only the nonzero entries (|value| > 1e-12), in (m1, m2, m3)
/// lexicographic order.
public struct ClebschGordan: Sendable {
    public let l1: Int, l2: Int, l3: Int
    public let entries: [CGEntry]

    /// Whether |l1 − l2| ≤ l3 ≤ l1 + l2 (the table is nonzero exactly then).
    public static func isTriangle(_ l1: Int, _ l2: Int, _ l3: Int) -> Bool {
        abs(l1 - l2) <= l3 && l3 <= l1 + l2
    }

    public init(_ l1: Int, _ l2: Int, _ l3: Int) {
        precondition(l1 >= 0 && l2 >= 0 && l3 >= 0 && Self.isTriangle(l1, l2, l3),
                     "wigner_3j(\(l1), \(l2), \(l3)): not a triangle")
        self.l1 = l1; self.l2 = l2; self.l3 = l3
        let dense = Self.denseReal(l1, l2, l3)
        var entries: [CGEntry] = []
        let d2 = 2 * l2 + 1, d3 = 2 * l3 + 1
        for a in 0..<(2 * l1 + 1) {
            for b in 0..<d2 {
                for c in 0..<d3 where abs(dense[(a * d2 + b) * d3 + c]) > 1e-12 {
                    entries.append(CGEntry(m1: a, m2: b, m3: c, value: dense[(a * d2 + b) * d3 + c]))
                }
            }
        }
        self.entries = entries
    }

    /// The dense table `[2l1+1][2l2+1][2l3+1]`, row-major (e3nn's shape and order).
    public var dense: [Double] {
        let d2 = 2 * l2 + 1, d3 = 2 * l3 + 1
        var out = [Double](repeating: 0, count: (2 * l1 + 1) * d2 * d3)
        for e in entries { out[(e.m1 * d2 + e.m2) * d3 + e.m3] = e.value }
        return out
    }

    // MARK: - Construction

    /// ⟨j1 m1; j2 m2 | j3 m3⟩ for integer j (Racah's formula, as e3nn's `_su2_clebsch_gordan_coeff`).
    public static func su2Coefficient(j1: Int, m1: Int, j2: Int, m2: Int, j3: Int, m3: Int) -> Double {
        if m3 != m1 + m2 { return 0 }
        if abs(m1) > j1 || abs(m2) > j2 || abs(m3) > j3 || !isTriangle(j1, j2, j3) { return 0 }
        let vmin = max(-j1 + j2 + m3, -j1 + m1, 0)
        let vmax = min(j2 + j3 + m1, j3 - j1 + j2, j3 + m3)
        func f(_ n: Int) -> Double { factorial(n) }
        let prefactor = (Double(2 * j3 + 1)
            * (f(j3 + j1 - j2) * f(j3 - j1 + j2) * f(j1 + j2 - j3) * f(j3 + m3) * f(j3 - m3))
            / (f(j1 + j2 + j3 + 1) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2))).squareRoot()
        var s = 0.0
        if vmin <= vmax {
            for v in vmin...vmax {
                let sign: Double = (v + j2 + m2) % 2 == 0 ? 1 : -1
                s += sign * (f(j2 + j3 + m1 - v) * f(j1 - m1 + v))
                    / (f(v) * f(j3 - j1 + j2 - v) * f(j3 + m3 - v) * f(v + j1 - j2 - m3))
            }
        }
        return prefactor * s
    }

    static func factorial(_ n: Int) -> Double {
        precondition(n >= 0)
        var r = 1.0
        if n > 1 { for k in 2...n { r *= Double(k) } }
        return r
    }

    /// e3nn's `change_basis_real_to_complex(l)`: a (2l+1)×(2l+1) complex matrix, row-major,
    /// returned as (real, imaginary) parts. Each row has at most two nonzeros.
    public static func realToComplex(_ l: Int) -> (re: [Double], im: [Double]) {
        let d = 2 * l + 1
        var re = [Double](repeating: 0, count: d * d), im = re
        let h = 1 / 2.0.squareRoot()
        for m in -l..<0 {
            re[(l + m) * d + (l - m)] = h     // q[l+m, l+|m|] = 1/√2
            im[(l + m) * d + (l + m)] = -h    // q[l+m, l-|m|] = -i/√2
        }
        re[l * d + l] = 1
        if l > 0 {
            for m in 1...l {
                let s: Double = m % 2 == 0 ? 1 : -1
                re[(l + m) * d + (l + m)] = s * h  // q[l+m, l+|m|] = (-1)^m/√2
                im[(l + m) * d + (l - m)] = s * h  // q[l+m, l-|m|] = i(-1)^m/√2
            }
        }
        // Multiply by (-i)^l: (-i)^l = cos(-πl/2) + i sin(-πl/2), exact for integer l.
        let (pr, pi): (Double, Double) = [(1, 0), (0, -1), (-1, 0), (0, 1)][l % 4]
        for k in 0..<(d * d) {
            let (a, b) = (re[k], im[k])
            re[k] = a * pr - b * pi
            im[k] = a * pi + b * pr
        }
        return (re, im)
    }

    /// The real, unit-norm table, dense `[2l1+1][2l2+1][2l3+1]`.
    static func denseReal(_ l1: Int, _ l2: Int, _ l3: Int) -> [Double] {
        let d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1
        let q1 = realToComplex(l1), q2 = realToComplex(l2), q3 = realToComplex(l3)
        // Nonzero columns of each row of Q.
        func rowNonzeros(_ q: (re: [Double], im: [Double]), _ d: Int) -> [[Int]] {
            (0..<d).map { r in (0..<d).filter { q.re[r * d + $0] != 0 || q.im[r * d + $0] != 0 } }
        }
        let nz1 = rowNonzeros(q1, d1), nz2 = rowNonzeros(q2, d2), nz3 = rowNonzeros(q3, d3)
        var re = [Double](repeating: 0, count: d1 * d2 * d3), im = re
        for i in 0..<d1 {
            for k in 0..<d2 {
                let n = (i - l1) + (k - l2) + l3  // m3 = m1 + m2
                guard n >= 0 && n < d3 else { continue }
                let cg = su2Coefficient(j1: l1, m1: i - l1, j2: l2, m2: k - l2, j3: l3, m3: n - l3)
                if cg == 0 { continue }
                for j in nz1[i] {
                    let (ar, ai) = (q1.re[i * d1 + j], q1.im[i * d1 + j])
                    for l in nz2[k] {
                        let (br, bi) = (q2.re[k * d2 + l], q2.im[k * d2 + l])
                        let (abr, abi) = (ar * br - ai * bi, ar * bi + ai * br)
                        for m in nz3[n] {
                            // conj(Q3.T)[m, n] = conj(Q3[n, m])
                            let (cr, ci) = (q3.re[n * d3 + m], -q3.im[n * d3 + m])
                            let idx = (j * d2 + l) * d3 + m
                            re[idx] += cg * (abr * cr - abi * ci)
                            im[idx] += cg * (abr * ci + abi * cr)
                        }
                    }
                }
            }
        }
        precondition(im.allSatisfy { abs($0) < 1e-10 }, "wigner_3j(\(l1),\(l2),\(l3)): not real")
        let norm = re.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return re.map { $0 / norm }
    }
}
