/// Sums from which means and standard deviations are formed: count, Σx, Σx² per slot.
///
/// Built per snapshot and combined in snapshot order (`add(_:)`), so that the statistics of a
/// dataset do not depend on how it is split across ranks.
public struct MomentSums: Equatable, Sendable {
    public var count: [Double]
    public var sum: [Double]
    public var sumSquares: [Double]

    public init(slots: Int) {
        count = [Double](repeating: 0, count: slots)
        sum = count
        sumSquares = count
    }

    public mutating func add(slot: Int, _ x: Double) {
        count[slot] += 1
        sum[slot] += x
        sumSquares[slot] += x * x
    }

    public mutating func add(_ other: MomentSums) {
        for i in count.indices {
            count[i] += other.count[i]
            sum[i] += other.sum[i]
            sumSquares[i] += other.sumSquares[i]
        }
    }

    /// Flattened as [count…, sum…, sumSquares…] (for an all-reduce).
    public var flat: [Double] { count + sum + sumSquares }

    public init(flat: [Double]) {
        let n = flat.count / 3
        count = Array(flat[0..<n])
        sum = Array(flat[n..<(2 * n)])
        sumSquares = Array(flat[(2 * n)...])
    }

    /// Mean and population standard deviation per slot; an empty or constant slot gets mean 0 /
    /// standard deviation 1 so that standardizing it is harmless.
    public func meanAndStd() -> (mean: [Double], std: [Double]) {
        var mean = [Double](repeating: 0, count: count.count)
        var std = [Double](repeating: 1, count: count.count)
        for i in count.indices where count[i] > 0 {
            mean[i] = sum[i] / count[i]
            let variance = max(sumSquares[i] / count[i] - mean[i] * mean[i], 0)
            std[i] = variance > 0 ? variance.squareRoot() : 1
        }
        return (mean, std)
    }
}

/// The training set's statistics the model is stored with: target mean and standard deviation per
/// (species, time), index species · T + time; extra-scalar mean and standard deviation.
public struct Normalization: Codable, Equatable, Sendable {
    public var targetMean: [Double]
    public var targetStd: [Double]
    public var scalarMean: [Double]
    public var scalarStd: [Double]

    public init(targetMean: [Double], targetStd: [Double], scalarMean: [Double] = [], scalarStd: [Double] = []) {
        self.targetMean = targetMean
        self.targetStd = targetStd
        self.scalarMean = scalarMean
        self.scalarStd = scalarStd
    }

    /// Identity normalization (mean 0, std 1) for `species × times` targets and `scalars` inputs.
    public static func identity(species: Int, times: Int, scalars: Int = 0) -> Normalization {
        Normalization(targetMean: .init(repeating: 0, count: species * times),
                      targetStd: .init(repeating: 1, count: species * times),
                      scalarMean: .init(repeating: 0, count: scalars), scalarStd: .init(repeating: 1, count: scalars))
    }

    /// Accumulates one snapshot's targets `[N][T]` (physical units) into per-(species, time) sums.
    public static func accumulateTargets(_ targets: [Float], species: [Int32], times: Int, into sums: inout MomentSums) {
        for i in species.indices {
            let s = Int(species[i])
            for t in 0..<times { sums.add(slot: s * times + t, Double(targets[i * times + t])) }
        }
    }

    /// Physical → standardized, `[N][T]`, each particle with its own species' statistics.
    public func standardize(targets: [Float], species: [Int32], times: Int) -> [Float] {
        var out = targets
        for i in species.indices {
            let s = Int(species[i])
            for t in 0..<times {
                let k = s * times + t
                out[i * times + t] = Float((Double(targets[i * times + t]) - targetMean[k]) / targetStd[k])
            }
        }
        return out
    }

    /// Standardized → physical, `[N][T]`.
    public func physical(predictions: [Float], species: [Int32], times: Int) -> [Float] {
        var out = predictions
        for i in species.indices {
            let s = Int(species[i])
            for t in 0..<times {
                let k = s * times + t
                out[i * times + t] = Float(Double(predictions[i * times + t]) * targetStd[k] + targetMean[k])
            }
        }
        return out
    }

    /// Standardizes extra scalars `[N][E]` in place.
    /// Divides each of the `v` extra vectors (`[N][v][3]`) by its root-mean-square length over
    /// the training set, √(mean² + std²) of its length, whose moments follow the `e` extra
    /// scalars in `scalarMean` and `scalarStd`. A length scale only: the direction, what
    /// rotates, is kept.
    public func scale(vectors: inout [Float], count v: Int, after e: Int) {
        guard v > 0 else { return }
        let inverse = (0..<v).map { j -> Double in
            let m = scalarMean[e + j], s = scalarStd[e + j], rms = (m * m + s * s).squareRoot()
            return rms > 0 ? 1 / rms : 1
        }
        for i in 0..<(vectors.count / (3 * v)) {
            for j in 0..<v { for a in 0..<3 { vectors[(i * v + j) * 3 + a] = Float(Double(vectors[(i * v + j) * 3 + a]) * inverse[j]) } }
        }
    }

    public func standardize(scalars: inout [Float], count e: Int) {
        guard e > 0 else { return }
        for i in 0..<(scalars.count / e) {
            for j in 0..<e { scalars[i * e + j] = Float((Double(scalars[i * e + j]) - scalarMean[j]) / scalarStd[j]) }
        }
    }
}
