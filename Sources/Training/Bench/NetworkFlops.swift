import EquivariantNet

/// The arithmetic of one snapshot through the network, counted analytically (multiply and add
/// counted as 2 FLOP): matrix products and tensor-product couplings only; elementwise work
/// (activations, gates, harmonics, Bessel basis, Adam) is not counted.
///
/// Per layer k (P_k paths, T_k Clebsch–Gordan couplings, C channels, E edges, N nodes):
/// - tensor product: forward 2·T_k·C·E; backward 4·T_k·C·E (∂h and ∂w)
/// - radial MLP [b, h1, h2, P_k·C]: forward 2·E·Σ fan_in·fan_out; backward the same for ∂W plus
///   the same again for ∂input of every matrix but the first
/// - self and post linears: 2·N·Σ_l (2l+1)·C_in(l)·C_out(l) each; backward 2× (∂W, ∂input)
/// Plus the embedding (2·N·S·C, backward 1×) and the decoder (as the radial MLP, rows N).
///
/// Two counts: the **network's** (what e3nn's implementation of it performs: every edge through
/// the radial MLP, the whole last layer), and the **executed** one (`radialRows`: the radial
/// MLPs run once per neighbor pair, `EdgePairs`; `scalarOutputLastLayer`: the last layer's
/// l = 0 paths only, as `PropensityModel` runs them). Neither counts recomputation.
public struct NetworkFlops {
    public var forward = 0.0, backward = 0.0
    public var trainStep: Double { forward + backward }

    public init(config: ModelConfig, nodes: Int, edges: Int, radialRows: Int? = nil, scalarOutputLastLayer: Bool = false) {
        let (c, lmax) = (config.channels, config.lmax)
        let (n, e) = (Double(nodes), Double(edges))
        func mlp(_ sizes: [Int], rows: Double) -> (Double, Double) {
            let f: [Double] = (0..<(sizes.count - 1)).map { 2 * rows * Double(sizes[$0] * sizes[$0 + 1]) }
            let all = f.reduce(0, +)
            return (all, all + (all - f[0]))
        }
        func linear(_ input: [Int], _ output: [Int]) -> Double {
            var products = 0
            for l in 0..<min(input.count, output.count) { products += (2 * l + 1) * input[l] * output[l] }
            return 2 * n * Double(products)
        }
        let z = [4 * c] + Array(repeating: c, count: lmax)
        let hidden = Array(repeating: c, count: lmax + 1)
        forward += 2 * n * Double(config.embeddingInputs * c)
        backward += 2 * n * Double(config.embeddingInputs * c)
        for k in 0..<config.layers {
            let inputLmax = k == 0 ? 0 : lmax
            let last = scalarOutputLastLayer && k == config.layers - 1
            let tp = TensorProductUVU(channels: c, inputLmax: inputLmax, shLmax: lmax, outputLmax: last ? 0 : lmax)
            let couplings = Double(tp.couplings.count)
            forward += 2 * couplings * Double(c) * e
            backward += 4 * couplings * Double(c) * e
            let radial = mlp([config.radialBasis] + config.radialHidden + [tp.weightsPerEdge], rows: Double(radialRows ?? edges))
            forward += radial.0
            backward += radial.1
            let lin = linear(Array(repeating: c, count: inputLmax + 1), z) + linear(hidden, z)
            forward += lin
            backward += 2 * lin
        }
        let decoder = mlp([c] + config.decoderHidden + [config.times.count * config.speciesCount], rows: n)
        forward += decoder.0
        backward += decoder.1
    }
}

