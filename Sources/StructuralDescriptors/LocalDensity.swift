import EquivariantNet

/// Local density: for each particle, the number of neighbors of each species within each radius.
///
/// Columns, radius-major: "n_<species>(r<R)" for R in `radii`, species in index order.
/// `graph` must have a cutoff ≥ every radius.
public func localDensityCounts(graph: NeighborGraph, species: [Int32], speciesNames: [String],
                               radii: [Double]) -> FeatureMatrix {
    precondition(radii.allSatisfy { $0 <= graph.cutoff }, "localDensityCounts: a radius exceeds the graph's cutoff \(graph.cutoff)")
    let n = graph.particleCount, s = speciesNames.count, width = radii.count * s
    var values = [Double](repeating: 0, count: n * width)
    for i in 0..<n {
        for e in graph.receiverOffsets[i] ..< graph.receiverOffsets[i + 1] {
            let r = Double(graph.distances[e]), sj = Int(species[graph.senders[e]])
            for (k, radius) in radii.enumerated() where r < radius { values[i * width + k * s + sj] += 1 }
        }
    }
    var names: [String] = []
    for radius in radii { for name in speciesNames { names.append("n_\(name)(r<\(format(radius)))") } }
    return FeatureMatrix(names: names, values: values)
}

/// A radius as written in descriptor names: "1.25", "2", "0.5".
func format(_ r: Double) -> String {
    var text = String(r)
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}
