import EquivariantNet

/// The network's learned per-particle representation, layer by layer, reduced to its
/// rotation-invariant part: a structural order parameter learned from the propensity.
///
/// Layer k = 0 is the embedding's output (C scalars per particle, and C vectors with extra vector
/// inputs); layer k ≥ 1 is the output of
/// interaction layer k, with C channels of each l = 0…lmax in the `Irreps` layout
/// (index(l, m, u) = offset(l) + m·C + u). Its invariants are the C scalars (the l = 0 block) and
/// the norms |h^l_u| = √(Σ_m h²_{l,m,u}) of the l ≥ 1 channels (l-major, [N][lmax·C]).
public struct LayerInvariants: Sendable {
    /// `[N][C]`.
    public var scalars: [Float]
    /// `[N][lmax·C]` (layer 0: empty, or `[N][C]` with extra vectors); column (l−1)·C + u.
    public var norms: [Float]
    public let channels: Int
    public let normColumns: Int

    /// Scalars then norms, in Double, as features for a linear probe.
    public func features(layer: Int) -> FeatureMatrix {
        let n = scalars.count / channels, width = channels + normColumns
        var values = [Double](repeating: 0, count: n * width)
        for i in 0..<n {
            for u in 0..<channels { values[i * width + u] = Double(scalars[i * channels + u]) }
            for c in 0..<normColumns { values[i * width + channels + c] = Double(norms[i * normColumns + c]) }
        }
        let lmax = normColumns / channels
        let names = (0..<channels).map { "layer\(layer)_s\($0)" }
            + (0..<normColumns).map { "layer\(layer)_l\($0 / channels + 1)_norm\($0 % channels)" }
        precondition(lmax * channels == normColumns)
        return FeatureMatrix(names: names, values: values)
    }

    /// The invariants of the features of the network's last forward pass, one entry per layer
    /// k = 0…K (`model.tape.features`). Call right after `model.forward` with
    /// `model.computesEveryFeature` set (otherwise the last layer has its scalars only).
    public static func ofLastForward(_ model: PropensityModel) -> [LayerInvariants] {
        precondition(model.tape.hasEveryFeature, "LayerInvariants: the last forward pass skipped the last layer's l ≥ 1 features (set computesEveryFeature)")
        let c = model.config.channels, lmax = model.config.lmax
        let hidden = Irreps(uniform: c, lmax: lmax)
        let n = model.tape.nodeCount
        return model.tape.features.enumerated().map { k, h in
            // Layer 0 (the embedding's output) has scalars, and vectors with extra vector inputs.
            let irreps = k == 0 ? Irreps(uniform: c, lmax: model.config.firstLayerOrders.max()!) : hidden
            let layerLmax = irreps.channels.count - 1
            let dim = h.count / max(n, 1)
            precondition(dim == irreps.dimension, "LayerInvariants: layer \(k) has \(dim) numbers per particle")
            var scalars = [Float](repeating: 0, count: n * c)
            let normColumns = layerLmax * c
            var norms = [Float](repeating: 0, count: n * normColumns)
            for i in 0..<n {
                for u in 0..<c { scalars[i * c + u] = h[i * dim + u] }
                guard layerLmax > 0 else { continue }
                for l in 1...layerLmax {
                    for u in 0..<c {
                        var sum: Float = 0
                        for m in 0..<(2 * l + 1) { let x = h[i * dim + irreps.index(l: l, m: m, u: u)]; sum += x * x }
                        norms[i * normColumns + (l - 1) * c + u] = sum.squareRoot()
                    }
                }
            }
            return LayerInvariants(scalars: scalars, norms: norms, channels: c, normColumns: normColumns)
        }
    }
}
