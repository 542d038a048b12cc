import XCTest
@testable import EquivariantNet

final class WignerDTests: XCTestCase {
    /// D^1(R) = R: e3nn's l = 1 basis is (x, y, z).
    func testDegreeOneIsTheRotationMatrix() {
        var rng = RandomSource(seed: 1)
        for _ in 0..<5 {
            let r = Rotation.random(using: &rng)
            XCTAssertLessThan(maxAbsDiff(WignerD.matrix(1, rotation: r), r.matrix), 1e-13)
        }
        // Also a rotation by π (axis–angle extraction at its hardest).
        let half = Rotation(axis: (1, 2, -0.5), angle: Double.pi)
        XCTAssertLessThan(maxAbsDiff(WignerD.matrix(1, rotation: half), half.matrix), 1e-13)
    }

    /// D(R1 R2) = D(R1) D(R2) and D orthogonal, l ≤ 6.
    func testHomomorphismAndOrthogonality() {
        var rng = RandomSource(seed: 2)
        let r1 = Rotation.random(using: &rng), r2 = Rotation.random(using: &rng)
        for l in 0...6 {
            let d = 2 * l + 1
            let lhs = WignerD.matrix(l, rotation: r1 * r2)
            let rhs = WignerD.multiply(WignerD.matrix(l, rotation: r1), WignerD.matrix(l, rotation: r2), d)
            XCTAssertLessThan(maxAbsDiff(lhs, rhs), 1e-12, "l = \(l)")
            let dm = WignerD.matrix(l, rotation: r1)
            var dtd = [Double](repeating: 0, count: d * d)
            for i in 0..<d { for j in 0..<d { for k in 0..<d { dtd[i * d + j] += dm[k * d + i] * dm[k * d + j] } } }
            let identity = (0..<(d * d)).map { $0 % (d + 1) == 0 ? 1.0 : 0.0 }
            XCTAssertLessThan(maxAbsDiff(dtd, identity), 1e-12, "l = \(l)")
        }
    }
}

final class WignerDParityTests: XCTestCase {
    /// Our D^l of e3nn's angles_to_matrix(α, β, γ) equals e3nn's wigner_D(l, α, β, γ), l ≤ 4.
    func testMatchesE3nnWignerD() {
        let cases = E3nnFixture.root["wigner_D"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 2)
        var worst = 0.0
        for c in cases {
            let rotation = Rotation(matrix: c.doubles("matrix"))
            let ds = (c["D"] as! [[Any]]).map { $0.map { ($0 as! NSNumber).doubleValue } }
            for (l, reference) in ds.enumerated() {
                worst = max(worst, maxAbsDiff(WignerD.matrix(l, rotation: rotation), reference))
            }
        }
        print("Wigner D parity (l ≤ 4, Double): max abs error \(worst)")
        XCTAssertLessThan(worst, 1e-12)
    }
}
