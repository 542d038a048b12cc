import XCTest
@testable import EquivariantNet

final class SmallMatrixProductTests: XCTestCase {
    /// alpha · A · B in Double by plain loops, and alpha · Σ_κ |a||b| per entry (the scale of the
    /// rounding error): A `[m][k]` at leading dimension lda, B `[k][n]` dense.
    func reference(m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int, b: [Float]) -> (c: [Double], scale: [Double]) {
        var c = [Double](repeating: 0, count: m * n), scale = c
        for r in 0..<m {
            for j in 0..<n {
                var sum = 0.0, absSum = 0.0
                for kk in 0..<k {
                    let p = Double(a[r * lda + kk]) * Double(b[kk * n + j])
                    sum += p
                    absSum += abs(p)
                }
                c[r * n + j] = Double(alpha) * sum
                scale[r * n + j] = abs(Double(alpha)) * absSum
            }
        }
        return (c, scale)
    }

    /// Checks C's m × n window against the reference within the bound of a k-term Float sum
    /// ((k + 2) units of roundoff of Σ|a||b|), and that the padding of C (columns n..<ldc and the
    /// rows after m) still holds the NaNs it was filled with. C is filled with NaN before the call,
    /// so a kernel that read or added into C would fail the window check.
    func check(_ c: [Float], m: Int, n: Int, k: Int, ldc: Int, alpha: Float, a: [Float], lda: Int, b: [Float],
               _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let (ref, scale) = reference(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b)
        let unit = Double(Float.ulpOfOne) / 2
        var worst = 0.0, padding = 0
        for r in 0..<(c.count / ldc) {
            for j in 0..<ldc {
                let value = c[r * ldc + j]
                if r < m && j < n {
                    let error = abs(Double(value) - ref[r * n + j])
                    let bound = Double(k + 2) * unit * scale[r * n + j]
                    if !(error <= bound) { worst = .infinity } else if scale[r * n + j] > 0 { worst = max(worst, error / scale[r * n + j]) }
                } else if !value.isNaN {
                    padding += 1
                }
            }
        }
        XCTAssertLessThan(worst, .infinity, "\(label): an entry outside the k-term rounding bound", file: file, line: line)
        XCTAssertEqual(padding, 0, "\(label): \(padding) entries outside the m × n window were written", file: file, line: line)
    }

    /// All paths (6-row tiles and leftover rows; lane-vector pairs, a single vector, scalar
    /// columns) for k = 1…32, n from 8 to 272 and 13, padded leading dimensions.
    func testMatchesDoubleReference() {
        var rng = RandomSource(seed: 7)
        var shapes: [(m: Int, n: Int, k: Int)] = []
        for k in [1, 8, 16, 17, 32] {
            for n in [8, 16, 272, 13] {
                for m in [1, 5, 13] { shapes.append((m, n, k)) }
            }
        }
        // The radial MLPs' shapes on a full row block (170 tiles and 4 leftover rows).
        shapes += [(1024, 16, 8), (1024, 16, 16), (1024, 272, 16)]
        var worstSeen = 0.0
        for (m, n, k) in shapes {
            let lda = k + 3, ldc = n + 5, alpha: Float = 0.25
            let a = rng.normalFloats(m * lda), b = rng.normalFloats(k * n)
            var c = [Float](repeating: .nan, count: (m + 1) * ldc)
            SmallMatrixProduct.multiply(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, c: &c, ldc: ldc)
            check(c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, a: a, lda: lda, b: b, "m \(m) n \(n) k \(k)")
            let (ref, _) = reference(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b)
            for r in 0..<m { for j in 0..<n { worstSeen = max(worstSeen, abs(Double(c[r * ldc + j]) - ref[r * n + j])) } }
        }
        print("SmallMatrixProduct vs Double reference: max abs error \(worstSeen) over \(shapes.count) shapes")
    }

    /// A row's result does not depend on where the row sits: the 1024 rows computed at once and
    /// in chunks of 1…11 rows (so rows move between 6-row tiles and leftover rows) are bitwise equal.
    func testRowsIndependentOfCutting() {
        var rng = RandomSource(seed: 8)
        for (n, k) in [(272, 16), (16, 8), (13, 17)] {
            let m = 1024, lda = 32, alpha: Float = 0.25
            let a = rng.normalFloats(m * lda), b = rng.normalFloats(k * n)
            var whole = [Float](repeating: .nan, count: m * n), chunked = whole
            SmallMatrixProduct.multiply(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, c: &whole, ldc: n)
            a.withUnsafeBufferPointer { ap in
                chunked.withUnsafeMutableBufferPointer { cp in
                    var r = 0, size = 1
                    while r < m {
                        let rows = min(size, m - r)
                        SmallMatrixProduct.multiply(m: rows, n: n, k: k, alpha: alpha, a: ap.baseAddress! + r * lda, lda: lda,
                                                    b: b, c: cp.baseAddress! + r * n, ldc: n)
                        r += rows
                        size = size % 11 + 1
                    }
                }
            }
            XCTAssertEqual(whole.map(\.bitPattern), chunked.map(\.bitPattern), "n \(n) k \(k): rows differ when cut differently")
        }
    }

    /// C = alpha · A · Bᵀ (B stored `[n][k]`): the backward's ∂input = ∂output · Wᵀ shapes (k = 272
    /// and 16 into n = 16) and odd ones, against the Double reference on the transposed B.
    func testTransposedMatchesDoubleReference() {
        var rng = RandomSource(seed: 9)
        for (m, n, k) in [(13, 16, 272), (1024, 16, 272), (7, 16, 16), (5, 13, 17), (6, 8, 1)] {
            let lda = k + 2, ldc = n + 3, alpha: Float = 1 / Float(n).squareRoot()
            let a = rng.normalFloats(m * lda), bt = rng.normalFloats(n * k)
            var b = [Float](repeating: 0, count: k * n)
            for i in 0..<n { for kk in 0..<k { b[kk * n + i] = bt[i * k + kk] } }
            var c = [Float](repeating: .nan, count: (m + 1) * ldc)
            SmallMatrixProduct.multiply(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, bTransposed: bt, c: &c, ldc: ldc)
            check(c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, a: a, lda: lda, b: b, "transposed m \(m) n \(n) k \(k)")
        }
    }

    /// C = alpha · Aᵀ · B (A stored `[k][m]`): the backward's ∂W = aᵀ · ∂output over a row block
    /// (k = 1024 rows into 16 × 272 and 16 × 16), chunk boundaries (k = 63, 64, 65, 130), leftover
    /// rows and columns; against the Double reference on the transposed A. And the tiles and the
    /// plain loop give bitwise the same numbers (the same sequence per number).
    func testTransposedAMatchesDoubleReference() {
        var rng = RandomSource(seed: 10)
        let shapes = [(16, 272, 1024), (16, 16, 1024), (8, 16, 130), (5, 13, 65), (4, 16, 64), (3, 8, 1), (6, 24, 63), (12, 40, 200)]
        for (m, n, k) in shapes {
            let lda = m + 3, ldb = n + 2, ldc = n + 3, alpha: Float = 0.25
            let at = rng.normalFloats(k * lda), bPadded = rng.normalFloats(k * ldb)
            var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: k * n)
            for kk in 0..<k {
                for i in 0..<m { a[i * k + kk] = at[kk * lda + i] }
                for j in 0..<n { b[kk * n + j] = bPadded[kk * ldb + j] }
            }
            var c = [Float](repeating: .nan, count: (m + 1) * ldc)
            SmallMatrixProduct.multiply(m: m, n: n, k: k, alpha: alpha, aTransposed: at, lda: lda, b: bPadded, ldb: ldb, c: &c, ldc: ldc)
            check(c, m: m, n: n, k: k, ldc: ldc, alpha: alpha, a: a, lda: k, b: b, "aTransposed m \(m) n \(n) k \(k)")
        }
        // 16 × 272 by tiles; its first 13 columns again with n = 13 (all by the plain loop) and its
        // first 3 rows with m = 3 (the plain loop too): bitwise equal.
        let (m, n, k) = (16, 272, 200)
        let at = rng.normalFloats(k * m), b = rng.normalFloats(k * n)
        var tiled = [Float](repeating: .nan, count: m * n), narrow = [Float](repeating: .nan, count: m * 13)
        var short = [Float](repeating: .nan, count: 3 * n)
        SmallMatrixProduct.multiply(m: m, n: n, k: k, alpha: 0.5, aTransposed: at, lda: m, b: b, ldb: n, c: &tiled, ldc: n)
        SmallMatrixProduct.multiply(m: m, n: 13, k: k, alpha: 0.5, aTransposed: at, lda: m, b: b, ldb: n, c: &narrow, ldc: 13)
        SmallMatrixProduct.multiply(m: 3, n: n, k: k, alpha: 0.5, aTransposed: at, lda: m, b: b, ldb: n, c: &short, ldc: n)
        for i in 0..<m {
            XCTAssertEqual((0..<13).map { tiled[i * n + $0].bitPattern }, (0..<13).map { narrow[i * 13 + $0].bitPattern }, "row \(i)")
        }
        XCTAssertEqual(Array(tiled[0..<(3 * n)]).map(\.bitPattern), short.map(\.bitPattern))
    }
}
