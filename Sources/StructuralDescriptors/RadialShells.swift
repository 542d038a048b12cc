import EquivariantNet

/// Radial-shell descriptors: for each particle, the number of neighbors of each species whose
/// distance falls in each shell [start + k·width, start + (k+1)·width), k = 0 ..< count — a
/// histogram of the particle's own g(r), per partner species.
///
/// Columns, shell-major: "shell_<species>[a,b)". `graph` must reach start + count·width.
public func radialShellCounts(graph: NeighborGraph, species: [Int32], speciesNames: [String],
                              start: Double, width: Double, count: Int) -> FeatureMatrix {
    precondition(width > 0 && count > 0, "radialShellCounts: needs width > 0 and count > 0")
    precondition(start + Double(count) * width <= graph.cutoff + 1e-9,
                 "radialShellCounts: the shells reach beyond the graph's cutoff \(graph.cutoff)")
    let n = graph.particleCount, s = speciesNames.count, columns = count * s
    var values = [Double](repeating: 0, count: n * columns)
    for i in 0..<n {
        for e in graph.receiverOffsets[i] ..< graph.receiverOffsets[i + 1] {
            let shell = Int(((Double(graph.distances[e]) - start) / width).rounded(.down))
            guard shell >= 0 && shell < count else { continue }
            values[i * columns + shell * s + Int(species[graph.senders[e]])] += 1
        }
    }
    var names: [String] = []
    for k in 0..<count {
        let a = start + Double(k) * width, b = a + width
        for name in speciesNames { names.append("shell_\(name)[\(format((a * 100).rounded() / 100)),\(format((b * 100).rounded() / 100)))") }
    }
    return FeatureMatrix(names: names, values: values)
}
