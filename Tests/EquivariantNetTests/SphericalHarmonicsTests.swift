import XCTest
@testable import EquivariantNet

final class SphericalHarmonicsTests: XCTestCase {
    private func evaluate(_ sh: SphericalHarmonics, _ v: (Double, Double, Double)) -> [Double] {
        var y = [Double](repeating: 0, count: sh.dimension)
        y.withUnsafeMutableBufferPointer { sh.evaluate(v, into: $0.baseAddress!) }
        return y
    }

    /// e3nn's spherical_harmonics(0…6, normalize=True, "component") of fixed and random vectors.
    func testMatchesE3nnUpTo6() {
        let f = E3nnFixture.section("spherical_harmonics")
        let lmax = f.int("lmax")
        XCTAssertEqual(lmax, 6)
        let sh = SphericalHarmonics(lmax: lmax)
        let vectors = f.doubles("vectors"), reference = f.doubles("values")
        var ours: [Double] = []
        for e in 0..<(vectors.count / 3) {
            ours += evaluate(sh, (vectors[3 * e], vectors[3 * e + 1], vectors[3 * e + 2]))
        }
        let err = maxAbsDiff(ours, reference)
        print("spherical harmonics parity (l ≤ 6, Double): max abs error \(err), max |Y| \(maxAbs(reference))")
        XCTAssertLessThan(err, 1e-12)

        // The Float batch path, 1e-5 relative.
        let fv = toFloat(vectors)
        var fy = [Float](repeating: 0, count: reference.count)
        sh.forward(vectors: fv, count: fv.count / 3, output: &fy)
        XCTAssertLessThan(maxAbsDiff(toDouble(fy), reference) / maxAbs(reference), 1e-5)
    }

    /// Closed forms: Y^0 = 1, Y^1 = √3 (x, y, z)/r, Y^2 of e3nn (√15 xz, √15 xy, √5 (y² − (x²+z²)/2),
    /// √15 yz, √15/2 (z² − x²)), and |Y^l|² = 2l+1.
    func testClosedForms() {
        let sh = SphericalHarmonics(lmax: 6)
        let v = (0.3, -1.2, 0.7)
        let r = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
        let (x, y, z) = (v.0 / r, v.1 / r, v.2 / r)
        let s3 = 3.0.squareRoot(), s5 = 5.0.squareRoot(), s15 = 15.0.squareRoot()
        let expected = [1, s3 * x, s3 * y, s3 * z,
                        s15 * x * z, s15 * x * y, s5 * (y * y - (x * x + z * z) / 2), s15 * y * z, s15 / 2 * (z * z - x * x)]
        let ours = evaluate(sh, v)
        XCTAssertLessThan(maxAbsDiff(Array(ours[0..<9]), expected), 1e-14)
        for l in 0...6 {
            let norm2 = ours[(l * l)..<((l + 1) * (l + 1))].reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(norm2, Double(2 * l + 1), accuracy: 1e-12)
        }
        // The zero vector: Y^0 = 1, the rest 0 (as e3nn's normalize).
        let zero = evaluate(sh, (0, 0, 0))
        XCTAssertEqual(zero[0], 1)
        XCTAssertEqual(zero.dropFirst().reduce(0) { max($0, abs($1)) }, 0)
    }

    /// Y^l(R x) = D^l(R) Y^l(x), l ≤ 6, random rotations and vectors (Double).
    func testEquivariance() {
        var rng = RandomSource(seed: 3)
        let sh = SphericalHarmonics(lmax: 6)
        var worst = 0.0
        for _ in 0..<4 {
            let rot = Rotation.random(using: &rng)
            let v = (rng.normal(), rng.normal(), rng.normal())
            let y = evaluate(sh, v), yr = evaluate(sh, rot.apply(v))
            for l in 0...6 {
                let d = 2 * l + 1
                let dm = WignerD.matrix(l, rotation: rot)
                for m in 0..<d {
                    var s = 0.0
                    for k in 0..<d { s += dm[m * d + k] * y[l * l + k] }
                    worst = max(worst, abs(s - yr[l * l + m]))
                }
            }
        }
        XCTAssertLessThan(worst, 1e-11)
    }

    /// The gradient with respect to the raw (non-unit) vector against central differences (Double),
    /// and the Float batch backward against the Double gradient.
    func testGradient() {
        var rng = RandomSource(seed: 4)
        let sh = SphericalHarmonics(lmax: 6)
        let dim = sh.dimension
        for _ in 0..<4 {
            let v = (rng.normal(), rng.normal(), rng.normal())
            var y = [Double](repeating: 0, count: dim), g = [Double](repeating: 0, count: 3 * dim)
            y.withUnsafeMutableBufferPointer { yb in g.withUnsafeMutableBufferPointer { sh.evaluate(v, into: yb.baseAddress!, gradient: $0.baseAddress!) } }
            let h = 1e-6
            for a in 0..<3 {
                var vp = [v.0, v.1, v.2], vm = vp
                vp[a] += h; vm[a] -= h
                let yp = evaluate(sh, (vp[0], vp[1], vp[2])), ym = evaluate(sh, (vm[0], vm[1], vm[2]))
                for k in 0..<dim {
                    XCTAssertEqual(g[3 * k + a], (yp[k] - ym[k]) / (2 * h), accuracy: 1e-7 * max(1, abs(g[3 * k + a])))
                }
            }
            // Float batch backward: gradient of Σ_k go_k Y_k.
            let go = (0..<dim).map { _ in Float(rng.normal()) }
            let vf: [Float] = [Float(v.0), Float(v.1), Float(v.2)]
            var gv = [Float](repeating: 0, count: 3)
            sh.backward(vectors: vf, count: 1, gradOutput: go, gradVectors: &gv)
            for a in 0..<3 {
                var expected = 0.0
                for k in 0..<dim { expected += Double(go[k]) * g[3 * k + a] }
                XCTAssertEqual(Double(gv[a]), expected, accuracy: 1e-4 * max(1, abs(expected)))
            }
        }
    }
}
