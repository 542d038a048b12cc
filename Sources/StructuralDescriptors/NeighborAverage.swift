import EquivariantNet

/// Coarse-graining over neighbors: each feature replaced by its mean over the particle and its
/// neighbors within `radius` (unweighted), e.g. the coarse-grained inherent-structure energy.
///
/// Columns: "cg_" + the input names.
public func neighborAverage(_ features: FeatureMatrix, graph: NeighborGraph, radius: Double) -> FeatureMatrix {
    precondition(radius <= graph.cutoff, "neighborAverage: radius \(radius) exceeds the graph's cutoff \(graph.cutoff)")
    precondition(features.rows == graph.particleCount, "neighborAverage: \(features.rows) rows for \(graph.particleCount) particles")
    let n = features.rows, d = features.columns
    var values = [Double](repeating: 0, count: n * d)
    for i in 0..<n {
        for k in 0..<d { values[i * d + k] = features.values[i * d + k] }
        var members = 1.0
        for e in graph.receiverOffsets[i] ..< graph.receiverOffsets[i + 1] where Double(graph.distances[e]) < radius {
            let j = graph.senders[e]
            for k in 0..<d { values[i * d + k] += features.values[j * d + k] }
            members += 1
        }
        for k in 0..<d { values[i * d + k] /= members }
    }
    return FeatureMatrix(names: features.names.map { "cg_" + $0 }, values: values)
}
