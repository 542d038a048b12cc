/// The matrix product of the radial MLPs: many rows, a short inner dimension,
///
///     C[m×n] = alpha · A[m×k] · B[k×n]      (row-major; A and C with leading dimensions, B dense),
///
/// **writing** C: C is never read, so it needs no zeroing beforehand.
///
/// Why not `sgemm`: the radial MLPs multiply every edge's row by small weights (k = 8 or 16 inputs,
/// n = 16 or 272 outputs). For these shapes OpenBLAS spends as much time around the arithmetic as
/// in it: β = 0 needs a zeroing pass over C (43 MB per interaction layer for the [E][272] output),
/// and A and B are repacked on every call. Its kernels are also chosen by run-time CPU detection,
/// which falls back to SSE3 (`Prescott`) on CPUs it does not recognize. Here B (16 × 272 floats =
/// 17 KB) stays in L1 and is read in place, each C number is stored once, and the vector width
/// is the build's (`Lanes`: 8 floats with FMA in the host-tuned build, 4 otherwise).
///
/// Measured (E = 39,334 rows, one thread, AVX2 build): the [E][272] product runs as fast as
/// OpenBLAS's Haswell kernels with their zeroing pass (both are bound by writing C, 43 MB, to
/// memory), 2.4× faster than its Prescott ones; the hidden layers' n = 16 products 1.7× faster.
///
/// Blocking: a tile of 4 rows × 2 lane-vectors of columns (8 accumulators: 8 independent
/// multiply-add chains, about FMA latency × FMA ports on recent x86 cores). For each k the tile
/// loads 2 vectors of B and broadcasts 4 numbers of A, for 8 multiply-adds. Rows are the outer
/// loop: a tile's 4 rows of A stay in L1 while it walks across all n columns of B (also in L1),
/// and C is written row by row, each number once. A 6-row tile (12 accumulators) made the
/// compiler spill accumulators to the stack and ran slower. Rows left over after the 4-row tiles,
/// a single leftover vector of columns, and columns left over after the vectors (n not a
/// multiple of the lane count) take narrower paths.
///
/// Every path computes each C number by the same sequence, acc = a[r,0]·b[0,j], then
/// acc = acc + a[r,κ]·b[κ,j] for κ = 1…k−1 (one fused multiply-add in the AVX2 build), then
/// alpha·acc. So C[r, j] depends only on row r of A and on B, not on where the row sits in a tile
/// or block: results are bitwise independent of how callers cut the rows (`RowBlocks`) and of the
/// thread count.
enum SmallMatrixProduct {
    /// Rows per register tile.
    static let tileRows = 4

    /// C = alpha · A · B: A `[m][k]` with leading dimension `lda` ≥ k, B `[k][n]` dense, C `[m][n]`
    /// with leading dimension `ldc` ≥ n. Only the m × n window of C is written.
    static func multiply(m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int,
                         b: UnsafePointer<Float>,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 1 && lda >= k && ldc >= n,
                     "SmallMatrixProduct.multiply: bad shape m \(m) n \(n) k \(k) lda \(lda) ldc \(ldc)")
        let lanes = Lanes.scalarCount
        let pairs = n / (2 * lanes), singleVector = n % (2 * lanes) >= lanes
        let firstScalarColumn = pairs * 2 * lanes + (singleVector ? lanes : 0)
        var r = 0
        while r < m {
            let rows = min(tileRows, m - r)
            let ar = a + r * lda, cr = c + r * ldc
            for p in 0..<pairs {
                let j = p * 2 * lanes
                if rows == tileRows {
                    tile4x2(k: k, alpha: alpha, a: ar, lda: lda, b: b + j, ldb: n, c: cr + j, ldc: ldc)
                } else {
                    for i in 0..<rows {
                        row1x2(k: k, alpha: alpha, a: ar + i * lda, b: b + j, ldb: n, c: cr + i * ldc + j)
                    }
                }
            }
            if singleVector {
                let j = pairs * 2 * lanes
                if rows == tileRows {
                    tile4x1(k: k, alpha: alpha, a: ar, lda: lda, b: b + j, ldb: n, c: cr + j, ldc: ldc)
                } else {
                    for i in 0..<rows {
                        row1x1(k: k, alpha: alpha, a: ar + i * lda, b: b + j, ldb: n, c: cr + i * ldc + j)
                    }
                }
            }
            for i in 0..<rows {
                for j in firstScalarColumn..<n {
                    cr[i * ldc + j] = element(k: k, alpha: alpha, a: ar + i * lda, b: b + j, ldb: n)
                }
            }
            r += rows
        }
    }

    /// C = alpha · A · Bᵀ with B given as stored `[n][k]` dense (so Bᵀ is `[k][n]`): the backward's
    /// ∂input = ∂output · Wᵀ of a linear layer (W `[k_in][k_out]`, n = k_in, k = k_out). Transposes
    /// B once into a temporary `[k][n]` (for the radial MLPs' W, 16 × 272 floats: small next to
    /// the m·n·k product), then `multiply`; the same per-number sums, so also bitwise independent
    /// of row blocks and threads.
    static func multiply(m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int,
                         bTransposed bt: UnsafePointer<Float>,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(n >= 1 && k >= 1, "SmallMatrixProduct.multiply(bTransposed:): bad shape n \(n) k \(k)")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k * n) { buffer in
            let b = buffer.baseAddress!
            for i in 0..<n {
                for kk in 0..<k { b[kk * n + i] = bt[i * k + kk] }
            }
            multiply(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, c: c, ldc: ldc)
        }
    }

    /// Rows summed per chunk in `multiply(aTransposed:)`: a chunk's panel of B (64 rows × 2
    /// lane-vectors, 4 KB) stays in L1 while the tiles of every 4 columns of A pass over it.
    static let chunkRows = 64

    /// C = alpha · Aᵀ · B with A given as stored `[k][m]` (leading dimension lda ≥ m), B `[k][n]`
    /// (ldb ≥ n), C `[m][n]` (ldc ≥ n), written: a sum over k rows, the backward's
    /// ∂W = aᵀ · ∂output of a linear layer over a block of rows (k = rows, m = inputs, n = outputs).
    ///
    /// The k rows are taken in chunks of `chunkRows`; C holds the running sums between chunks
    /// (first chunk writes, later ones load and add, the last one multiplies by alpha), so every C
    /// number is the same sequence acc = a[0,i]·b[0,j], acc = acc + a[κ,i]·b[κ,j] for κ = 1…k−1,
    /// then alpha·acc, fixed by the shape alone. Fast for m a multiple of 4 and n a multiple of
    /// 2 lane-vectors (the radial MLPs: m = 8, 16; n = 16, 272); other rows and columns take a
    /// plain loop.
    static func multiply(m: Int, n: Int, k: Int, alpha: Float,
                         aTransposed a: UnsafePointer<Float>, lda: Int,
                         b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 1 && lda >= m && ldb >= n && ldc >= n,
                     "SmallMatrixProduct.multiply(aTransposed:): bad shape m \(m) n \(n) k \(k) lda \(lda) ldb \(ldb) ldc \(ldc)")
        let lanes = Lanes.scalarCount
        let tiledRows = m / tileRows * tileRows, tiledColumns = n / (2 * lanes) * 2 * lanes
        var r0 = 0
        while r0 < k {
            let rows = min(chunkRows, k - r0)
            let first = r0 == 0, scale: Float = r0 + rows == k ? alpha : 1
            var j = 0
            while j < tiledColumns {
                var i = 0
                while i < tiledRows {
                    transposedTile4x2(rows: rows, first: first, scale: scale, a: a + r0 * lda + i, lda: lda,
                                      b: b + r0 * ldb + j, ldb: ldb, c: c + i * ldc + j, ldc: ldc)
                    i += tileRows
                }
                j += 2 * lanes
            }
            r0 += rows
        }
        // The rows and columns outside the tiles: whole sums, by the same sequence.
        for i in 0..<m {
            for j in (i < tiledRows ? tiledColumns : 0)..<n {
                var acc = a[i] * b[j]
                var kk = 1
                while kk < k {
                    #if EQUIGLASS_AVX2
                    acc = acc.addingProduct(a[kk &* lda &+ i], b[kk &* ldb &+ j])
                    #else
                    acc = acc + a[kk &* lda &+ i] * b[kk &* ldb &+ j]
                    #endif
                    kk &+= 1
                }
                c[i * ldc + j] = alpha * acc
            }
        }
    }

    // MARK: register tiles

    /// 4 rows × 2 lane-vectors of C at once.
    @inline(__always)
    private static func tile4x2(k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let lanes = Lanes.scalarCount
        let (a0, a1, a2, a3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        var bk = b
        var bLo = loadLanes(bk), bHi = loadLanes(bk + lanes)
        var c0l = a0[0] * bLo, c0h = a0[0] * bHi
        var c1l = a1[0] * bLo, c1h = a1[0] * bHi
        var c2l = a2[0] * bLo, c2h = a2[0] * bHi
        var c3l = a3[0] * bLo, c3h = a3[0] * bHi
        var kk = 1
        while kk < k {
            bk += ldb
            bLo = loadLanes(bk); bHi = loadLanes(bk + lanes)
            c0l = multiplyAdd(c0l, a0[kk], bLo); c0h = multiplyAdd(c0h, a0[kk], bHi)
            c1l = multiplyAdd(c1l, a1[kk], bLo); c1h = multiplyAdd(c1h, a1[kk], bHi)
            c2l = multiplyAdd(c2l, a2[kk], bLo); c2h = multiplyAdd(c2h, a2[kk], bHi)
            c3l = multiplyAdd(c3l, a3[kk], bLo); c3h = multiplyAdd(c3h, a3[kk], bHi)
            kk &+= 1
        }
        storeLanes(alpha * c0l, c); storeLanes(alpha * c0h, c + lanes)
        storeLanes(alpha * c1l, c + ldc); storeLanes(alpha * c1h, c + ldc + lanes)
        storeLanes(alpha * c2l, c + 2 * ldc); storeLanes(alpha * c2h, c + 2 * ldc + lanes)
        storeLanes(alpha * c3l, c + 3 * ldc); storeLanes(alpha * c3h, c + 3 * ldc + lanes)
    }

    /// 4 rows × 1 lane-vector (n an odd number of vectors, e.g. n = 8 in the AVX2 build).
    @inline(__always)
    private static func tile4x1(k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let (a0, a1, a2, a3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        var bk = b
        var bv = loadLanes(bk)
        var c0 = a0[0] * bv, c1 = a1[0] * bv, c2 = a2[0] * bv, c3 = a3[0] * bv
        var kk = 1
        while kk < k {
            bk += ldb
            bv = loadLanes(bk)
            c0 = multiplyAdd(c0, a0[kk], bv); c1 = multiplyAdd(c1, a1[kk], bv)
            c2 = multiplyAdd(c2, a2[kk], bv); c3 = multiplyAdd(c3, a3[kk], bv)
            kk &+= 1
        }
        storeLanes(alpha * c0, c); storeLanes(alpha * c1, c + ldc)
        storeLanes(alpha * c2, c + 2 * ldc); storeLanes(alpha * c3, c + 3 * ldc)
    }

    /// 4 columns of A (rows of C) × 2 lane-vectors of B, summed over a chunk of `rows` rows:
    /// the running sums start from the chunk's first product (`first`) or from C, and are stored
    /// times `scale` (alpha after the last chunk, 1 before).
    @inline(__always)
    private static func transposedTile4x2(rows: Int, first: Bool, scale: Float, a: UnsafePointer<Float>, lda: Int,
                                          b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let lanes = Lanes.scalarCount
        var c0l, c0h, c1l, c1h, c2l, c2h, c3l, c3h: Lanes
        var ar = a, br = b, rr = 0
        if first {
            let bLo = loadLanes(br), bHi = loadLanes(br + lanes)
            c0l = ar[0] * bLo; c0h = ar[0] * bHi
            c1l = ar[1] * bLo; c1h = ar[1] * bHi
            c2l = ar[2] * bLo; c2h = ar[2] * bHi
            c3l = ar[3] * bLo; c3h = ar[3] * bHi
            ar += lda; br += ldb; rr = 1
        } else {
            c0l = loadLanes(c); c0h = loadLanes(c + lanes)
            c1l = loadLanes(c + ldc); c1h = loadLanes(c + ldc + lanes)
            c2l = loadLanes(c + 2 * ldc); c2h = loadLanes(c + 2 * ldc + lanes)
            c3l = loadLanes(c + 3 * ldc); c3h = loadLanes(c + 3 * ldc + lanes)
        }
        while rr < rows {
            let bLo = loadLanes(br), bHi = loadLanes(br + lanes)
            c0l = multiplyAdd(c0l, ar[0], bLo); c0h = multiplyAdd(c0h, ar[0], bHi)
            c1l = multiplyAdd(c1l, ar[1], bLo); c1h = multiplyAdd(c1h, ar[1], bHi)
            c2l = multiplyAdd(c2l, ar[2], bLo); c2h = multiplyAdd(c2h, ar[2], bHi)
            c3l = multiplyAdd(c3l, ar[3], bLo); c3h = multiplyAdd(c3h, ar[3], bHi)
            ar += lda; br += ldb; rr &+= 1
        }
        storeLanes(scale * c0l, c); storeLanes(scale * c0h, c + lanes)
        storeLanes(scale * c1l, c + ldc); storeLanes(scale * c1h, c + ldc + lanes)
        storeLanes(scale * c2l, c + 2 * ldc); storeLanes(scale * c2h, c + 2 * ldc + lanes)
        storeLanes(scale * c3l, c + 3 * ldc); storeLanes(scale * c3h, c + 3 * ldc + lanes)
    }

    /// One row × 2 lane-vectors (the rows after the last full 4-row tile).
    @inline(__always)
    private static func row1x2(k: Int, alpha: Float, a: UnsafePointer<Float>,
                               b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>) {
        let lanes = Lanes.scalarCount
        var lo = a[0] * loadLanes(b), hi = a[0] * loadLanes(b + lanes)
        var kk = 1
        while kk < k {
            let bk = b + kk &* ldb
            lo = multiplyAdd(lo, a[kk], loadLanes(bk)); hi = multiplyAdd(hi, a[kk], loadLanes(bk + lanes))
            kk &+= 1
        }
        storeLanes(alpha * lo, c); storeLanes(alpha * hi, c + lanes)
    }

    /// One row × 1 lane-vector.
    @inline(__always)
    private static func row1x1(k: Int, alpha: Float, a: UnsafePointer<Float>,
                               b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>) {
        var acc = a[0] * loadLanes(b)
        var kk = 1
        while kk < k {
            acc = multiplyAdd(acc, a[kk], loadLanes(b + kk &* ldb))
            kk &+= 1
        }
        storeLanes(alpha * acc, c)
    }

    /// One number of C (the columns after the last lane-vector), by the vector paths' sequence.
    @inline(__always)
    private static func element(k: Int, alpha: Float, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int) -> Float {
        var acc = a[0] * b[0]
        var kk = 1
        while kk < k {
            #if EQUIGLASS_AVX2
            acc = acc.addingProduct(a[kk], b[kk &* ldb])  // one rounding, as the lanes' vfmadd
            #else
            acc = acc + a[kk] * b[kk &* ldb]
            #endif
            kk &+= 1
        }
        return alpha * acc
    }
}
