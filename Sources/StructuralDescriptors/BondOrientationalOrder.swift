import EquivariantNet

/// Steinhardt bond-orientational order parameters, and their Lechner–Dellago coarse-grained form.
///
/// For particle i with the N_b(i) neighbors j at |r_ij| < cutoff,
///
///     q_lm(i) = (1/N_b) Σ_j Y_lm(r̂_ij),     q_l(i) = √( 4π/(2l+1) Σ_m |q_lm(i)|² )
///
/// with orthonormal Y_lm. We use the real harmonics of `SphericalHarmonics` ("component"
/// normalization, Σ_m Y_lm² = 2l+1, i.e. √(4π) times orthonormal); Σ_m |q_lm|² is the same for
/// real and complex bases, so q_l = √( Σ_m q_lm² / (2l+1) ) in those units.
/// The coarse-grained q̄_l(i) uses q̄_lm(i) = (q_lm(i) + Σ_j q_lm(j)) / (N_b(i) + 1) over the same
/// neighbors (Lechner & Dellago 2008). A particle without neighbors has q_l = 0.
///
/// Columns: "q<l>" for each degree, then "qbar<l>".
public func bondOrientationalOrder(graph: NeighborGraph, cutoff: Double, degrees: [Int]) -> FeatureMatrix {
    precondition(cutoff <= graph.cutoff, "bondOrientationalOrder: cutoff \(cutoff) exceeds the graph's \(graph.cutoff)")
    let lmax = degrees.max() ?? 0
    let harmonics = SphericalHarmonics(lmax: lmax)
    let dim = harmonics.dimension, n = graph.particleCount
    // q_lm of every particle, [N][dim] (only the blocks of `degrees` are used).
    var qlm = [Double](repeating: 0, count: n * dim)
    var neighbors = [[Int]](repeating: [], count: n)
    var y = [Double](repeating: 0, count: dim)
    for i in 0..<n {
        for e in graph.receiverOffsets[i] ..< graph.receiverOffsets[i + 1] where Double(graph.distances[e]) < cutoff {
            let v = (Double(graph.edgeVectors[3 * e]), Double(graph.edgeVectors[3 * e + 1]), Double(graph.edgeVectors[3 * e + 2]))
            y.withUnsafeMutableBufferPointer { harmonics.evaluate(v, into: $0.baseAddress!) }
            for k in 0..<dim { qlm[i * dim + k] += y[k] }
            neighbors[i].append(graph.senders[e])
        }
        let count = Double(neighbors[i].count)
        if count > 0 { for k in 0..<dim { qlm[i * dim + k] /= count } }
    }
    func invariant(_ q: ArraySlice<Double>, _ l: Int) -> Double {
        let base = q.startIndex + l * l
        var sum = 0.0
        for m in 0..<(2 * l + 1) { sum += q[base + m] * q[base + m] }
        return (sum / Double(2 * l + 1)).squareRoot()
    }
    let width = 2 * degrees.count
    var values = [Double](repeating: 0, count: n * width)
    var bar = [Double](repeating: 0, count: dim)
    for i in 0..<n {
        let own = qlm[(i * dim)..<((i + 1) * dim)]
        for k in 0..<dim { bar[k] = own[own.startIndex + k] }
        for j in neighbors[i] { for k in 0..<dim { bar[k] += qlm[j * dim + k] } }
        let members = Double(neighbors[i].count + 1)
        for k in 0..<dim { bar[k] /= members }
        for (d, l) in degrees.enumerated() {
            values[i * width + d] = neighbors[i].isEmpty ? 0 : invariant(own, l)
            values[i * width + degrees.count + d] = neighbors[i].isEmpty ? 0 : invariant(bar[...], l)
        }
    }
    return FeatureMatrix(names: degrees.map { "q\($0)" } + degrees.map { "qbar\($0)" }, values: values)
}
