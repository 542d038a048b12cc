import XCTest
@testable import EquivariantNet

final class BesselBasisTests: XCTestCase {
    /// Without the envelope, the basis is e3nn's soft_one_hot_linspace(r, 0, r_c, 8, "bessel").
    func testMatchesE3nnBessel() {
        let f = E3nnFixture.section("bessel")
        let basis = BesselBasis(cutoff: f.double("cutoff"), count: f.int("count"))
        let r = f.doubles("distances"), reference = f.doubles("bessel")
        var worst = 0.0
        var v = [Double](repeating: 0, count: basis.count)
        for (e, re) in r.enumerated() {
            v.withUnsafeMutableBufferPointer { basis.evaluate(re, values: $0.baseAddress!) }
            let u = basis.envelope(re / basis.cutoff).0
            for n in 0..<basis.count { worst = max(worst, abs(v[n] / u - reference[e * basis.count + n])) }
        }
        XCTAssertLessThan(worst, 1e-12)
    }

    /// The envelope: u(0) = 1, u(1) = u'(1) = 0, the closed form at p = 6, and zero beyond r_c.
    func testEnvelope() {
        let basis = BesselBasis()
        XCTAssertEqual(basis.envelope(0).0, 1)
        XCTAssertEqual(basis.envelope(1).0, 0, accuracy: 1e-15)
        XCTAssertEqual(basis.envelope(1 - 1e-9).1, 0, accuracy: 1e-12)
        let x = 0.4
        XCTAssertEqual(basis.envelope(x).0, 1 - 28 * pow(x, 6) + 48 * pow(x, 7) - 21 * pow(x, 8), accuracy: 1e-15)
        var v = [Double](repeating: 1, count: 8)
        v.withUnsafeMutableBufferPointer { basis.evaluate(2.5, values: $0.baseAddress!) }
        XCTAssertEqual(v, [Double](repeating: 0, count: 8))
    }

    func testDerivative() {
        let basis = BesselBasis()
        var v = [Double](repeating: 0, count: 8), d = v, vp = v, vm = v
        for r in [0.1, 0.77, 1.3, 1.95] {
            v.withUnsafeMutableBufferPointer { vb in d.withUnsafeMutableBufferPointer { basis.evaluate(r, values: vb.baseAddress!, derivatives: $0.baseAddress!) } }
            let h = 1e-6
            vp.withUnsafeMutableBufferPointer { basis.evaluate(r + h, values: $0.baseAddress!) }
            vm.withUnsafeMutableBufferPointer { basis.evaluate(r - h, values: $0.baseAddress!) }
            for n in 0..<8 { XCTAssertEqual(d[n], (vp[n] - vm[n]) / (2 * h), accuracy: 1e-6 * max(1, abs(d[n]))) }
        }
        // The Float batch backward agrees.
        let r: [Float] = [0.5, 1.2]
        let g: [Float] = (0..<16).map { Float($0 % 5) - 2 }
        var gr = [Float](repeating: 0, count: 2)
        basis.backward(distances: r, edgeCount: 2, gradOutput: g, gradDistances: &gr)
        for e in 0..<2 {
            d.withUnsafeMutableBufferPointer { db in v.withUnsafeMutableBufferPointer { basis.evaluate(Double(r[e]), values: $0.baseAddress!, derivatives: db.baseAddress!) } }
            let expected = (0..<8).reduce(0.0) { $0 + Double(g[e * 8 + $1]) * d[$1] }
            XCTAssertEqual(Double(gr[e]), expected, accuracy: 1e-5 * max(1, abs(expected)))
        }
    }
}
