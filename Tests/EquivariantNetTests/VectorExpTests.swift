import Foundation
import XCTest
@testable import EquivariantNet

final class VectorExpTests: XCTestCase {
    /// exp8 against exp in Double on a dense grid of [−87, 88] (every 0.0137…, 12,800 points,
    /// both sides of every n·ln 2 boundary many times): relative error ≤ 3·10⁻⁷ (a few ulp).
    func testExp8AgainstDoubleExp() {
        var worst = 0.0
        let count = 12_800
        var x = 0
        while x < count {
            let lanes = SIMD8<Float>((0..<8).map { Float(-87 + 175 * Double(x + $0) / Double(count)) })
            let e = exp8(lanes)
            for q in 0..<8 {
                let exact = Foundation.exp(Double(lanes[q]))
                worst = max(worst, abs(Double(e[q]) - exact) / exact)
            }
            x += 8
        }
        XCTAssertLessThan(worst, 3e-7)
        // Outside the range: clamped, finite, monotone at the ends; exactly 1 at 0.
        let ends = exp8(SIMD8<Float>(-1000, -100, -87.3, 0, 1, 88.3, 100, 1000))
        XCTAssertEqual(ends[3], 1)
        XCTAssertEqual(ends[0], ends[2])
        XCTAssertEqual(ends[7], ends[5])
        XCTAssertTrue(ends[7].isFinite && ends[0] > 0)
        XCTAssertEqual(Double(ends[4]), M_E, accuracy: 3e-7 * M_E)
    }

    /// The 8-wide activations (values and derivatives, in place) against the scalar ones, for
    /// both activations, with a tail that is not a multiple of 8.
    func testVectorActivationsMatchScalar() {
        var rng = RandomSource(seed: 7)
        let n = 29
        let x0 = rng.normalFloats(n).map { 4 * $0 }
        for act in [NormalizedActivation.silu, .sigmoid] {
            var v = x0, d = [Float](repeating: 0, count: n)
            v.withUnsafeMutableBufferPointer { vb in
                d.withUnsafeMutableBufferPointer { db in
                    act.valuesAndDerivatives(vb.baseAddress!, derivatives: db.baseAddress!, count: n)
                }
            }
            for j in 0..<n {
                let (value, derivative) = act.valueAndDerivative(x0[j])
                XCTAssertEqual(v[j], value, accuracy: 1e-6 * max(1, abs(value)), "\(act) value at \(x0[j])")
                XCTAssertEqual(d[j], derivative, accuracy: 1e-6 * max(1, abs(derivative)), "\(act) derivative at \(x0[j])")
            }
        }
    }
}
