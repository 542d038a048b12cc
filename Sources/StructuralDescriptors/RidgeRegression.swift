/// Linear least squares with an L2 penalty, in Double:
///
///     minimise  Σ_i (y_i − c − Σ_k β_k z_ik)² + λ Σ_k β_k²,     z_ik = (x_ik − μ_k) / σ_k
///
/// The features are standardized with the training rows' mean μ_k and standard deviation σ_k
/// (a constant feature gets σ = 1, so its z is 0 and its β is 0); the intercept c = mean(y) is not
/// penalised. β solves (ZᵀZ + λI) β = Zᵀ(y − ȳ), by Cholesky (`choleskySolve`).
public struct RidgeRegression: Sendable {
    /// Training mean and standard deviation of each feature.
    public let featureMean: [Double]
    public let featureScale: [Double]
    /// β on the standardized features.
    public let coefficients: [Double]
    public let intercept: Double
    public let lambda: Double

    public var columns: Int { coefficients.count }

    /// Fits on `features` (rows × columns) and `targets` (one per row) with penalty `lambda` ≥ 0.
    /// λ = 0 is ordinary least squares and throws `CholeskyError` for a rank-deficient design.
    public init(features x: FeatureMatrix, targets y: [Double], lambda: Double) throws {
        self = try RidgeDesign(features: x).fit(targets: y, lambda: lambda)
    }

    init(featureMean: [Double], featureScale: [Double], coefficients: [Double], intercept: Double, lambda: Double) {
        self.featureMean = featureMean
        self.featureScale = featureScale
        self.coefficients = coefficients
        self.intercept = intercept
        self.lambda = lambda
    }

    /// Predictions for the rows of `features` (same columns as in training).
    public func predict(_ x: FeatureMatrix) -> [Double] {
        precondition(x.columns == columns, "RidgeRegression.predict: \(x.columns) columns, fitted on \(columns)")
        let d = columns
        return (0..<x.rows).map { i in
            var sum = intercept
            for k in 0..<d { sum += coefficients[k] * (x.values[i * d + k] - featureMean[k]) / featureScale[k] }
            return sum
        }
    }

    /// The penalties tried by `fitChoosingLambda`, relative to the number of fitting rows n:
    /// λ = α n with α = 10⁻⁶, 10⁻⁵, …, 10³ (ZᵀZ has n on its diagonal, so α is the penalty's
    /// share of each feature's own variance; a weak signal may want α ≫ 1, where the fit tends to
    /// β ∝ Zᵀy, each feature weighted by its own covariance with the target).
    public static let relativeLambdaGrid: [Double] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]

    /// One fit per target column, each with λ chosen on a validation split and then refitted on
    /// all rows with it.
    ///
    /// The split is by group (snapshot), so that neighboring particles of one configuration are
    /// never on both sides: the last quarter of the distinct groups (at least one) validates, the
    /// rest fits; λ maximises the Pearson ρ of the validation predictions. With a single group,
    /// the last quarter of the rows validates. The Gram matrices are built once for all targets.
    public static func fitChoosingLambda(features x: FeatureMatrix, targets: [[Double]], groups: [Int],
                                         relativeGrid: [Double] = relativeLambdaGrid) throws -> [RidgeRegression] {
        precondition(groups.count == x.rows && targets.allSatisfy { $0.count == x.rows }, "fitChoosingLambda: lengths differ")
        let distinct = Array(Set(groups)).sorted()
        var validation: [Bool]
        if distinct.count >= 2 {
            let held = Set(distinct.suffix(max(1, distinct.count / 4)))
            validation = groups.map { held.contains($0) }
        } else {
            let cut = x.rows - max(1, x.rows / 4)
            validation = (0..<x.rows).map { $0 >= cut }
        }
        let fitRows = (0..<x.rows).filter { !validation[$0] }, validRows = (0..<x.rows).filter { validation[$0] }
        let canValidate = !fitRows.isEmpty && validRows.count >= 2
        let fitDesign = canValidate ? RidgeDesign(features: x.selecting(rows: fitRows)) : nil
        let validX = x.selecting(rows: validRows)
        let fullDesign = RidgeDesign(features: x)
        return try targets.map { y in
            var best = (rho: -Double.infinity, alpha: relativeGrid[relativeGrid.count / 2])
            if let fitDesign {
                let fitY = fitRows.map { y[$0] }, validY = validRows.map { y[$0] }
                for alpha in relativeGrid {
                    guard let model = try? fitDesign.fit(targets: fitY, lambda: alpha * Double(fitRows.count)) else { continue }
                    let rho = pearson(model.predict(validX), validY)
                    if rho.isFinite && rho > best.rho { best = (rho, alpha) }
                }
            }
            return try fullDesign.fit(targets: y, lambda: best.alpha * Double(x.rows))
        }
    }
}

/// The part of a ridge fit that depends on the features only: their standardization and the
/// Gram matrix ZᵀZ, computed once and shared by every target and penalty.
public struct RidgeDesign: Sendable {
    public let rows: Int
    public let columns: Int
    public let featureMean: [Double]
    public let featureScale: [Double]
    /// Standardized features Z, rows × columns.
    let standardized: [Double]
    /// ZᵀZ, columns × columns (lower triangle filled).
    let gram: [Double]

    public init(features x: FeatureMatrix) {
        let n = x.rows, d = x.columns
        precondition(n > 0, "RidgeDesign: no rows")
        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
        for i in 0..<n { for k in 0..<d { mean[k] += x.values[i * d + k] } }
        for k in 0..<d { mean[k] /= Double(n) }
        for i in 0..<n { for k in 0..<d { let z = x.values[i * d + k] - mean[k]; scale[k] += z * z } }
        for k in 0..<d {
            let s = (scale[k] / Double(n)).squareRoot()
            scale[k] = s > 1e-12 * max(1, abs(mean[k])) ? s : 1
        }
        var z = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for k in 0..<d { z[i * d + k] = (x.values[i * d + k] - mean[k]) / scale[k] } }
        var gram = [Double](repeating: 0, count: d * d)
        z.withUnsafeBufferPointer { zp in
            gram.withUnsafeMutableBufferPointer { g in
                for i in 0..<n {
                    let row = zp.baseAddress! + i * d
                    for k in 0..<d {
                        let zk = row[k]
                        if zk == 0 { continue }
                        for m in 0...k { g[k * d + m] += zk * row[m] }
                    }
                }
            }
        }
        rows = n
        columns = d
        featureMean = mean
        featureScale = scale
        standardized = z
        self.gram = gram
    }

    /// The ridge fit of `targets` (one per row) with penalty `lambda` ≥ 0.
    public func fit(targets y: [Double], lambda: Double) throws -> RidgeRegression {
        precondition(y.count == rows, "RidgeDesign.fit: \(rows) rows but \(y.count) targets")
        precondition(lambda >= 0, "RidgeDesign.fit: λ must be ≥ 0")
        let d = columns
        let yMean = y.reduce(0, +) / Double(rows)
        var zy = [Double](repeating: 0, count: d)
        for i in 0..<rows {
            let r = y[i] - yMean
            for k in 0..<d { zy[k] += standardized[i * d + k] * r }
        }
        var a = gram
        for k in 0..<d { a[k * d + k] += lambda }
        let beta = d == 0 ? [] : try choleskySolve(matrix: a, size: d, rhs: zy)
        return RidgeRegression(featureMean: featureMean, featureScale: featureScale, coefficients: beta,
                               intercept: yMean, lambda: lambda)
    }
}
