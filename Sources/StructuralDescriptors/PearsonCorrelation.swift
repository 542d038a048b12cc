import EquivariantNet

/// Pearson ρ of two equally long series (NaN if either is constant or shorter than 2).
public func pearson(_ x: [Double], _ y: [Double]) -> Double {
    precondition(x.count == y.count, "pearson: \(x.count) against \(y.count) values")
    var sums = PearsonSums()
    for i in x.indices { sums.add(x[i], y[i]) }
    return sums.pearson
}

/// ρ pooled over all points, and the mean over groups (snapshots) of the per-group ρ (groups
/// with an undefined ρ are left out of the mean).
public func pooledAndMeanPearson(_ x: [Double], _ y: [Double], groups: [Int]) -> (pooled: Double, mean: Double) {
    precondition(x.count == y.count && x.count == groups.count, "pooledAndMeanPearson: lengths differ")
    var pooled = PearsonSums()
    var byGroup: [Int: PearsonSums] = [:]
    for i in x.indices {
        pooled.add(x[i], y[i])
        byGroup[groups[i], default: PearsonSums()].add(x[i], y[i])
    }
    // Sorted by group so the sum (and its last bits) does not depend on the dictionary's order.
    let defined = byGroup.keys.sorted().map { byGroup[$0]!.pearson }.filter(\.isFinite)
    return (pooled.pearson, defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count))
}
