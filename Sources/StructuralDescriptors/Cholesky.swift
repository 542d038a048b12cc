/// Solves A x = b for a symmetric positive-definite A by Cholesky factorisation, A = L Lᵀ.
///
/// `matrix` is n × n row-major (only its lower triangle is read). Throws if A is not positive
/// definite (a pivot ≤ 0 or not finite): a ridge penalty λ > 0 always prevents that.
public func choleskySolve(matrix a: [Double], size n: Int, rhs b: [Double]) throws -> [Double] {
    precondition(a.count == n * n && b.count == n, "choleskySolve: sizes do not match n = \(n)")
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0...i {
            var sum = a[i * n + j]
            for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
            if i == j {
                guard sum > 0, sum.isFinite else { throw CholeskyError(pivot: i, value: sum) }
                l[i * n + i] = sum.squareRoot()
            } else {
                l[i * n + j] = sum / l[j * n + j]
            }
        }
    }
    // L y = b, then Lᵀ x = y.
    var y = b
    for i in 0..<n {
        var sum = y[i]
        for k in 0..<i { sum -= l[i * n + k] * y[k] }
        y[i] = sum / l[i * n + i]
    }
    var x = y
    for i in stride(from: n - 1, through: 0, by: -1) {
        var sum = x[i]
        for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
        x[i] = sum / l[i * n + i]
    }
    return x
}

/// The matrix handed to `choleskySolve` is not (numerically) positive definite.
public struct CholeskyError: Error, CustomStringConvertible {
    public let pivot: Int
    public let value: Double
    public var description: String {
        "Cholesky factorisation: the matrix is not positive definite (pivot \(pivot) = \(value)); use a ridge penalty λ > 0"
    }
}
