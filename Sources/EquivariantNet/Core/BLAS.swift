import CBLAS

/// A thin layer over CBLAS general matrix products, in the one storage order the network uses.
///
/// Every matrix is **row-major**: element (r, c) of a matrix with leading dimension `ld` lives at
/// `r * ld + c`. `transA`/`transB` mean the operand is read transposed (so its stored shape is
/// the transpose of the logical one). The product computed is
///
///     C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C[m×n]
///
/// with `op(X) = X` or `Xᵀ`. Leading dimensions default to the dense ones of the stored shapes.
public enum BLAS {
    /// The kernel family OpenBLAS chose at run time (`openblas_get_corename()`, e.g. "Haswell";
    /// "Prescott" where it does not recognize the CPU; `OPENBLAS_CORETYPE` overrides it).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// What this build's own kernels were compiled for: the tensor-product kernels' lanes
    /// (`ChannelLanes`) and the instruction set the compiler targeted (`-target-cpu`).
    public static var buildTarget: String {
        "\(ChannelLanes.kernelTarget); target ISA \(String(cString: equiglass_target_isa()))"
    }

    /// Single-precision `C = alpha·op(A)·op(B) + beta·C` (row-major).
    @inlinable
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {  // BLAS would still scale C by beta; do it explicitly (and never read A, B).
            scale(c, rows: m, cols: n, ld: ldc ?? n, by: beta)
            return
        }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        var beta = beta
        if beta == 0 {
            // OpenBLAS zeroes C for beta = 0 with a scalar loop (sgemm_beta, ~6% of a training
            // step); memset is several times faster, and C = 0 + alpha·A·B is bitwise what
            // OpenBLAS computes after its own zeroing.
            let ld = ldc ?? n
            if ld == n { c.update(repeating: 0, count: m * n) } else { for r in 0..<m { (c + r * ld).update(repeating: 0, count: n) } }
            beta = 1
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
            Int32(ldc ?? n))
    }

    /// Double-precision `C = alpha·op(A)·op(B) + beta·C` (row-major).
    @inlinable
    public static func dgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Double = 1,
        a: UnsafePointer<Double>, lda: Int? = nil,
        b: UnsafePointer<Double>, ldb: Int? = nil,
        beta: Double = 0,
        c: UnsafeMutablePointer<Double>, ldc: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            let ld = ldc ?? n
            for r in 0..<m { for col in 0..<n { c[r * ld + col] = beta == 0 ? 0 : beta * c[r * ld + col] } }
            return
        }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
            Int32(ldc ?? n))
    }

    @usableFromInline
    static func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, by beta: Float) {
        for r in 0..<rows {
            for col in 0..<cols { c[r * ld + col] = beta == 0 ? 0 : beta * c[r * ld + col] }
        }
    }
}
