import CBLAS
import XCTest
@testable import EquivariantNet

final class CoreTests: XCTestCase {
    /// sgemm with transposes and beta against a naive triple loop.
    func testSgemmAgainstLoops() {
        var rng = RandomSource(seed: 51)
        let (m, n, k) = (5, 4, 3)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = rng.normalFloats(m * k), b = rng.normalFloats(k * n)
            var c = rng.normalFloats(m * n)
            let c0 = c
            BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &c)
            for i in 0..<m { for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
                XCTAssertEqual(c[i * n + j], 0.5 * s + 2 * c0[i * n + j], accuracy: 1e-5)
            } }
        }
        var d = [Double](repeating: 0, count: 4)
        BLAS.dgemm(m: 2, n: 2, k: 2, a: [1, 2, 3, 4], b: [5, 6, 7, 8], c: &d)
        XCTAssertEqual(d, [19, 22, 43, 50])
    }

    /// beta = 0 is done as memset + beta = 1 (faster than OpenBLAS's scalar zeroing): bitwise what
    /// OpenBLAS itself gives for beta = 0, with a dense and a strided C (NaN in C is ignored).
    func testSgemmBetaZeroIsBitwiseOpenBLAS() {
        var rng = RandomSource(seed: 52)
        for (m, n, k, ldc) in [(37, 19, 16, 19), (64, 272, 16, 300), (5, 3, 1024, 7)] {
            let a = rng.normalFloats(m * k), b = rng.normalFloats(k * n)
            var ours = [Float](repeating: .nan, count: m * ldc), theirs = ours
            BLAS.sgemm(m: m, n: n, k: k, alpha: 0.25, a: a, b: b, c: &ours, ldc: ldc)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 0.25, a, Int32(k),
                        b, Int32(n), 0, &theirs, Int32(ldc))
            for r in 0..<m {
                XCTAssertEqual(ours[(r * ldc)..<(r * ldc + n)].map(\.bitPattern), theirs[(r * ldc)..<(r * ldc + n)].map(\.bitPattern))
            }
        }
    }

    /// Same seed, same stream; the normals have mean 0 and variance 1.
    func testRandomSource() {
        var a = RandomSource(seed: 5), b = RandomSource(seed: 5), c = RandomSource(seed: 6)
        let xa = a.normalDoubles(20000), xb = b.normalDoubles(20000), xc = c.normalDoubles(10)
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(Array(xa[0..<10]), xc)
        let mean = xa.reduce(0, +) / Double(xa.count)
        let variance = xa.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xa.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.03)
    }

    /// Our layout ↔ e3nn's round-trips, and e3nn's index is mul-major.
    func testIrrepsLayout() {
        let irreps = Irreps(channels: [2, 3, 1])
        XCTAssertEqual(irreps.dimension, 2 + 9 + 5)
        XCTAssertEqual(irreps.description, "2x0e+3x1e+1x2e")
        XCTAssertEqual(irreps.index(l: 1, m: 2, u: 1), 2 + 2 * 3 + 1)
        XCTAssertEqual(irreps.e3nnIndex(l: 1, m: 2, u: 1), 2 + 1 * 3 + 2)
        let x = (0..<irreps.dimension).map(Double.init)
        XCTAssertEqual(irreps.fromE3nn(irreps.toE3nn(x)), x)
    }
}
