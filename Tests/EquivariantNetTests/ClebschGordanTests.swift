import XCTest
@testable import EquivariantNet

final class ClebschGordanTests: XCTestCase {
    /// Every fixture table (all l ≤ 3, and several up to l = 6) against e3nn's wigner_3j.
    func testMatchesE3nnWigner3j() {
        let tables = E3nnFixture.root["wigner_3j"] as! [[String: Any]]
        XCTAssertGreaterThan(tables.count, 40)
        var worst = 0.0
        for t in tables {
            let cg = ClebschGordan(t.int("l1"), t.int("l2"), t.int("l3"))
            let err = maxAbsDiff(cg.dense, t.doubles("values"))
            worst = max(worst, err)
            XCTAssertLessThan(err, 1e-12, "wigner_3j(\(cg.l1), \(cg.l2), \(cg.l3))")
        }
        print("wigner_3j parity: max abs error \(worst) over \(tables.count) tables")
    }

    /// Analytic values: C(1,1,1) = ε/√6 and C(l,l,0) = δ/√(2l+1).
    func testAnalyticValues() {
        let c = ClebschGordan(1, 1, 1).dense
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 {
            let eps = Double((i - j) * (j - k) * (k - i)) / 2  // Levi-Civita
            XCTAssertEqual(c[(i * 3 + j) * 3 + k], eps / 6.0.squareRoot(), accuracy: 1e-14)
        } } }
        for l in 0...6 {
            let d = 2 * l + 1
            let t = ClebschGordan(l, l, 0).dense
            for a in 0..<d { for b in 0..<d {
                XCTAssertEqual(t[a * d + b], a == b ? 1 / Double(d).squareRoot() : 0, accuracy: 1e-13)
            } }
        }
    }

    /// For every triangle l1, l2, l3 ≤ 6: Σ_{m1 m2} C[m1,m2,m3] C[m1,m2,m3'] = δ/(2l3+1) (orthogonality),
    /// and C is invariant under D^{l1} ⊗ D^{l2} ⊗ D^{l3} for a random rotation (equivariance).
    func testOrthogonalityAndEquivarianceUpTo6() {
        var rng = RandomSource(seed: 7)
        let rotation = Rotation.random(using: &rng)
        let dm = (0...6).map { WignerD.matrix($0, rotation: rotation) }
        var worstOrtho = 0.0, worstEquiv = 0.0
        for l1 in 0...6 { for l2 in 0...6 { for l3 in 0...6 where ClebschGordan.isTriangle(l1, l2, l3) {
            let (d1, d2, d3) = (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
            let c = ClebschGordan(l1, l2, l3).dense
            for a in 0..<d3 { for b in 0..<d3 {
                var s = 0.0
                for i in 0..<(d1 * d2) { s += c[i * d3 + a] * c[i * d3 + b] }
                worstOrtho = max(worstOrtho, abs(s - (a == b ? 1 / Double(d3) : 0)))
            } }
            // Contract index by index: T1 = D1ᵀ on the first index, then D2, then D3.
            var t = c
            t = contract(t, dm[l1], d1, d2 * d3, axis: 0, dims: (d1, d2, d3))
            t = contract(t, dm[l2], d2, 0, axis: 1, dims: (d1, d2, d3))
            t = contract(t, dm[l3], d3, 0, axis: 2, dims: (d1, d2, d3))
            worstEquiv = max(worstEquiv, maxAbsDiff(t, c))
        } } }
        XCTAssertLessThan(worstOrtho, 1e-12)
        XCTAssertLessThan(worstEquiv, 1e-11)
    }

    /// out[.., i, ..] = Σ_a D[a, i] t[.., a, ..] along `axis`.
    private func contract(_ t: [Double], _ d: [Double], _ n: Int, _ unused: Int, axis: Int, dims: (Int, Int, Int)) -> [Double] {
        let (d1, d2, d3) = dims
        var out = [Double](repeating: 0, count: t.count)
        for a in 0..<d1 { for b in 0..<d2 { for c in 0..<d3 {
            let v = t[(a * d2 + b) * d3 + c]
            if v == 0 { continue }
            for i in 0..<n {
                switch axis {
                case 0: out[(i * d2 + b) * d3 + c] += d[a * n + i] * v
                case 1: out[(a * d2 + i) * d3 + c] += d[b * n + i] * v
                default: out[(a * d2 + b) * d3 + i] += d[c * n + i] * v
                }
            }
        } } }
        return out
    }
}
