import Foundation

/// Sums for a Pearson correlation, combinable across snapshots and ranks.
public struct PearsonSums: Equatable, Sendable {
    public var n = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0

    public init() {}

    @inline(__always)
    public mutating func add(_ x: Double, _ y: Double) {
        n += 1; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y
    }

    public mutating func add(_ o: PearsonSums) {
        n += o.n; sx += o.sx; sy += o.sy; sxx += o.sxx; syy += o.syy; sxy += o.sxy
    }

    /// ρ = cov(x, y) / (σx σy); NaN with fewer than 2 points or a constant variable.
    public var pearson: Double {
        guard n >= 2 else { return .nan }
        let cxx = sxx - sx * sx / n, cyy = syy - sy * sy / n, cxy = sxy - sx * sy / n
        guard cxx > 0, cyy > 0 else { return .nan }
        return cxy / (cxx * cyy).squareRoot()
    }

    public var flat: [Double] { [n, sx, sy, sxx, syy, sxy] }
    public init(flat f: ArraySlice<Double>) {
        let b = f.startIndex
        (n, sx, sy, sxx, syy, sxy) = (f[b], f[b + 1], f[b + 2], f[b + 3], f[b + 4], f[b + 5])
    }
}

/// Scores of predicted against true propensities, per species and time, in physical units:
/// Pearson ρ pooled over all particles, the mean over snapshots of the per-snapshot ρ, and the MSE.
///
/// Everything is kept as sums (`flat` / `init(flat:)`), so that ranks can all-reduce them.
public struct PropensityMetrics: Sendable {
    public let species: Int
    public let times: Int
    /// Pooled sums, index species · T + time.
    public var pooled: [PearsonSums]
    /// Σ over snapshots of the per-snapshot ρ, and how many snapshots had a defined ρ.
    public var snapshotPearsonSum: [Double]
    public var snapshotPearsonCount: [Double]
    /// Σ (pred − true)².
    public var squaredError: [Double]
    public var snapshots = 0

    public init(species: Int, times: Int) {
        self.species = species
        self.times = times
        pooled = .init(repeating: PearsonSums(), count: species * times)
        snapshotPearsonSum = .init(repeating: 0, count: species * times)
        snapshotPearsonCount = snapshotPearsonSum
        squaredError = snapshotPearsonSum
    }

    /// Adds one snapshot. `predictions` and `targets` are `[N][T]` with the same time columns.
    public mutating func add(predictions: [Float], targets: [Float], species sp: [Int32]) {
        var local = [PearsonSums](repeating: PearsonSums(), count: species * times)
        for i in sp.indices {
            let s = Int(sp[i])
            guard s >= 0 && s < species else { continue }
            for t in 0..<times {
                let p = Double(predictions[i * times + t]), y = Double(targets[i * times + t])
                local[s * times + t].add(p, y)
                squaredError[s * times + t] += (p - y) * (p - y)
            }
        }
        for k in local.indices {
            pooled[k].add(local[k])
            let r = local[k].pearson
            if r.isFinite {
                snapshotPearsonSum[k] += r
                snapshotPearsonCount[k] += 1
            }
        }
        snapshots += 1
    }

    public mutating func add(_ o: PropensityMetrics) {
        for k in pooled.indices {
            pooled[k].add(o.pooled[k])
            snapshotPearsonSum[k] += o.snapshotPearsonSum[k]
            snapshotPearsonCount[k] += o.snapshotPearsonCount[k]
            squaredError[k] += o.squaredError[k]
        }
        snapshots += o.snapshots
    }

    public func pearsonPooled(species s: Int, time t: Int) -> Double { pooled[s * times + t].pearson }
    public func pearsonMean(species s: Int, time t: Int) -> Double {
        let k = s * times + t
        return snapshotPearsonCount[k] > 0 ? snapshotPearsonSum[k] / snapshotPearsonCount[k] : .nan
    }
    public func mse(species s: Int, time t: Int) -> Double {
        let k = s * times + t
        return pooled[k].n > 0 ? squaredError[k] / pooled[k].n : .nan
    }
    /// Particles scored for a species (at any one time).
    public func count(species s: Int) -> Int { Int(pooled[s * times].n) }

    /// All sums in one array, for an all-reduce.
    public var flat: [Double] {
        pooled.flatMap(\.flat) + snapshotPearsonSum + snapshotPearsonCount + squaredError + [Double(snapshots)]
    }

    public init(species: Int, times: Int, flat f: [Double]) {
        self.init(species: species, times: times)
        let k = species * times
        for i in 0..<k { pooled[i] = PearsonSums(flat: f[(6 * i)..<(6 * i + 6)]) }
        snapshotPearsonSum = Array(f[(6 * k)..<(7 * k)])
        snapshotPearsonCount = Array(f[(7 * k)..<(8 * k)])
        squaredError = Array(f[(8 * k)..<(9 * k)])
        snapshots = Int(f[9 * k])
    }
}

/// Pairs of (model time index, dataset time index) for the times both grids share, matched by
/// value (relative tolerance 1e-6), in the model's order.
public func matchTimes(model: [Double], data: [Double]) -> [(model: Int, data: Int)] {
    var out: [(model: Int, data: Int)] = []
    for (i, t) in model.enumerated() {
        if let j = data.firstIndex(where: { abs($0 - t) <= 1e-6 * max(abs(t), abs($0)) }) { out.append((i, j)) }
    }
    return out
}
