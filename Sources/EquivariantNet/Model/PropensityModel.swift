import Foundation

/// The reference network of shared/design/model.md: embedding → K interaction layers → decoder,
/// with its forward and hand-written backward pass over one whole snapshot.
///
/// Parameters are not stored here: every call takes the flat parameter buffer (`ParameterLayout`),
/// and the backward pass accumulates into a flat gradient buffer of the same layout — what Adam
/// and the all-reduce work on. The activations of the last forward pass are kept in `tape`
/// (visible flat buffers, one per stage), which the backward pass reads; an instance therefore
/// serves one snapshot at a time (one instance per thread).
///
/// One layer, for every particle i (features h `[N][dim]`, `Irreps` layout):
///
///     s   = SelfLinear(h_i)                                   [N][zdim]   ((1+lmax)C scalars, C of each l ≥ 1)
///     w_e = RadialMLP(Bessel(|r_ij|))                         [E][paths·C]
///     m_i = (1/√avg_neighbors) Σ_j TP_uvu(h_j, Y(r̂_ij), w_e) [N][dim]
///     z   = PostLinear(m_i) + s                               [N][zdim]
///     h  ← Gate(z)        (+ h with the residual option, from layer 1 on)
public final class PropensityModel {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// Mean in-degree of the training graphs (a global statistic stored with the model).
    public var avgNeighbors: Double

    let hidden: Irreps
    let bessel: BesselBasis
    let harmonics: SphericalHarmonics
    let embedding: EquivariantLinear
    let layers: [Layer]
    let gate: Gate
    let decoder: FullyConnectedNet

    struct Layer {
        let selfLinear: EquivariantLinear
        let radial: FullyConnectedNet
        let tensorProduct: TensorProductUVU
        let postLinear: EquivariantLinear
        /// Offsets in the flat parameter buffer.
        let selfOffset: Int, radialOffset: Int, postOffset: Int
    }

    /// The activations of the last forward pass (everything backward needs).
    public struct Tape {
        public var nodeCount = 0
        public var edgeCount = 0
        /// Embedding input `[N][species + extra]`: one-hot species, then the extra scalars.
        public var embeddingInput: [Float] = []
        /// Features entering layer k (`features[0]` = embedding output `[N][C]`), and after the
        /// last layer (`features[K]`), `[N][dim]`.
        public var features: [[Float]] = []
        /// Edge lengths `[E]`, radial basis `[E][basis]`, spherical harmonics `[E][(lmax+1)²]`.
        public var lengths: [Float] = []
        public var radialBasis: [Float] = []
        public var harmonics: [Float] = []
        /// Per layer: radial MLP tape, tensor-product weights `[E][paths·C]`, messages `[N][dim]`,
        /// gate input z `[N][zdim]`.
        public var radialTapes: [FullyConnectedNet.Tape] = []
        public var edgeWeights: [[Float]] = []
        public var messages: [[Float]] = []
        public var gateInputs: [[Float]] = []
        /// Decoder input (final scalars) `[N][C]`, its tape, its output `[N][species·T]`.
        public var decoderInput: [Float] = []
        public var decoderTape = FullyConnectedNet.Tape()
        public var decoderOutput: [Float] = []
    }

    public private(set) var tape = Tape()
    /// Scratch for ∂L/∂w_e of one layer in the backward pass `[E][paths·C]`.
    var gradEdgeWeights: [Float] = []

    public init(config: ModelConfig, avgNeighbors: Double) {
        self.config = config
        self.avgNeighbors = avgNeighbors
        layout = ParameterLayout(config: config)
        let c = config.channels, lmax = config.lmax
        hidden = Irreps(uniform: c, lmax: lmax)
        let zIrreps = Irreps(channels: [(1 + lmax) * c] + Array(repeating: c, count: lmax))
        bessel = BesselBasis(cutoff: config.cutoff, count: config.radialBasis, envelopePower: config.envelopePower)
        harmonics = SphericalHarmonics(lmax: lmax)
        embedding = EquivariantLinear(input: Irreps(channels: [config.embeddingInputs]), output: Irreps(channels: [c]))
        gate = Gate(output: hidden)
        precondition(gate.input == zIrreps, "PropensityModel: gate input irreps differ from the linear maps' output")
        var layers: [Layer] = []
        for (k, lay) in layout.layers.enumerated() {
            let inputLmax = k == 0 ? 0 : lmax
            let input = Irreps(uniform: c, lmax: inputLmax)
            let tp = TensorProductUVU(channels: c, inputLmax: inputLmax, shLmax: lmax, outputLmax: lmax)
            precondition(tp.paths.map { [$0.l1, $0.l2, $0.l3] } == lay.paths.map { [$0.l1, $0.l2, $0.l3] },
                         "PropensityModel: tensor-product path order differs from the parameter layout")
            precondition(tp.output == hidden, "PropensityModel: messages must carry C channels of every l")
            let selfLinear = EquivariantLinear(input: input, output: zIrreps)
            let postLinear = EquivariantLinear(input: hidden, output: zIrreps)
            layers.append(Layer(
                selfLinear: selfLinear,
                radial: FullyConnectedNet(sizes: lay.radialSizes, activation: .silu),
                tensorProduct: tp,
                postLinear: postLinear,
                selfOffset: lay.selfLinear[0]!.offset, radialOffset: lay.radialOffset,
                postOffset: lay.postLinear[0].offset))
        }
        self.layers = layers
        decoder = FullyConnectedNet(sizes: layout.decoderSizes, activation: .silu)
    }

    var times: Int { config.times.count }

    // MARK: forward

    /// Predictions `[N][T]` in standardised units: particle i reads the T outputs of its species.
    public func forward(parameters: UnsafePointer<Float>, input: ModelInput) -> [Float] {
        let n = input.nodeCount, e = input.edgeCount
        let c = config.channels, dim = hidden.dimension
        let nIn = config.embeddingInputs, extra = config.extraScalars.count
        precondition(input.scalars.count == n * extra, "PropensityModel: expected \(extra) extra scalars per particle")
        // Reuse the previous pass's per-layer edge-weight buffers (the largest arrays, E × paths·C
        // each): no reallocation, page faults or zeroing per snapshot.
        var reusable = tape.edgeWeights
        tape = Tape()
        var t = Tape()
        t.nodeCount = n
        t.edgeCount = e

        // Embedding: one-hot species and the extra scalars → C scalars.
        t.embeddingInput = [Float](repeating: 0, count: n * nIn)
        for i in 0..<n {
            let s = Int(input.species[i])
            precondition(s >= 0 && s < config.speciesCount, "PropensityModel: species \(s) of particle \(i) out of range")
            t.embeddingInput[i * nIn + s] = 1
            for j in 0..<extra { t.embeddingInput[i * nIn + config.speciesCount + j] = input.scalars[i * extra + j] }
        }
        var h = [Float](repeating: 0, count: n * c)
        embedding.forward(weights: parameters + layout.embedding.offset, input: t.embeddingInput, count: n, output: &h)
        t.features = [h]

        // Edge geometry, shared by every layer.
        t.lengths = [Float](repeating: 0, count: e)
        for k in 0..<e {
            let (x, y, z) = (input.vectors[3 * k], input.vectors[3 * k + 1], input.vectors[3 * k + 2])
            t.lengths[k] = (x * x + y * y + z * z).squareRoot()
        }
        t.radialBasis = [Float](repeating: 0, count: e * config.radialBasis)
        bessel.forward(distances: t.lengths, edgeCount: e, output: &t.radialBasis)
        t.harmonics = [Float](repeating: 0, count: e * harmonics.dimension)
        harmonics.forward(vectors: input.vectors, count: e, output: &t.harmonics)

        let scale = Float(1 / avgNeighbors.squareRoot())
        for (k, layer) in layers.enumerated() {
            let zdim = gate.input.dimension
            var s = [Float](repeating: 0, count: n * zdim)
            layer.selfLinear.forward(weights: parameters + layer.selfOffset, input: t.features[k], count: n, output: &s)

            var w = k < reusable.count ? reusable[k] : []
            if k < reusable.count { reusable[k] = [] }  // keep `w` uniquely referenced
            if w.count != e * layer.tensorProduct.weightsPerEdge {
                w = [Float](repeating: 0, count: e * layer.tensorProduct.weightsPerEdge)
            }
            var radialTape = FullyConnectedNet.Tape()
            layer.radial.forward(weights: parameters + layer.radialOffset, input: t.radialBasis, rows: e,
                                 output: &w, tape: &radialTape)

            var m = [Float](repeating: 0, count: n * dim)
            input.receiverOffsets.withUnsafeBufferPointer { offsets in
                input.senders.withUnsafeBufferPointer { senders in
                    layer.tensorProduct.forward(features: t.features[k], sphericalHarmonics: t.harmonics, edgeWeights: w,
                                                receiverOffsets: offsets.baseAddress!, senders: senders.baseAddress!,
                                                nodeCount: n, scale: scale, output: &m)
                }
            }

            // z = PostLinear(m) + s
            var z = [Float](repeating: 0, count: n * zdim)
            layer.postLinear.forward(weights: parameters + layer.postOffset, input: m, count: n, output: &z)
            for q in 0..<(n * zdim) { z[q] += s[q] }

            var next = [Float](repeating: 0, count: n * dim)
            gate.forward(input: z, count: n, output: &next)
            if config.residual && k > 0 {
                for q in 0..<(n * dim) { next[q] += t.features[k][q] }
            }
            t.radialTapes.append(radialTape)
            t.edgeWeights.append(w)
            t.messages.append(m)
            t.gateInputs.append(z)
            t.features.append(next)
        }

        // Decoder on the final C scalars; each particle reads its own species' T outputs.
        let hLast = t.features[layers.count]
        t.decoderInput = [Float](repeating: 0, count: n * c)
        for i in 0..<n { for u in 0..<c { t.decoderInput[i * c + u] = hLast[i * dim + u] } }
        let outWidth = decoder.outputSize
        t.decoderOutput = [Float](repeating: 0, count: n * outWidth)
        decoder.forward(weights: parameters + layout.decoderOffset, input: t.decoderInput, rows: n,
                        output: &t.decoderOutput, tape: &t.decoderTape)
        var predictions = [Float](repeating: 0, count: n * times)
        for i in 0..<n {
            let s = Int(input.species[i])
            for q in 0..<times { predictions[i * times + q] = t.decoderOutput[i * outWidth + s * times + q] }
        }
        tape = t
        return predictions
    }

    // MARK: backward

    /// Backward of the last `forward(parameters:input:)` (same parameters and input): given
    /// ∂L/∂predictions `[N][T]`, ACCUMULATES ∂L/∂parameters into `gradient` (flat layout).
    public func backward(parameters: UnsafePointer<Float>, input: ModelInput, gradPredictions: [Float],
                         gradient: UnsafeMutablePointer<Float>) {
        let t = tape
        let n = t.nodeCount, e = t.edgeCount
        precondition(n == input.nodeCount && e == input.edgeCount, "PropensityModel.backward: input differs from the last forward")
        let c = config.channels, dim = hidden.dimension, zdim = gate.input.dimension

        // Decoder: scatter each particle's T gradients to its species' columns.
        let outWidth = decoder.outputSize
        var gOut = [Float](repeating: 0, count: n * outWidth)
        for i in 0..<n {
            let s = Int(input.species[i])
            for q in 0..<times { gOut[i * outWidth + s * times + q] = gradPredictions[i * times + q] }
        }
        var gScalars = [Float](repeating: 0, count: n * c)
        decoder.backward(weights: parameters + layout.decoderOffset, tape: t.decoderTape, gradOutput: gOut,
                         gradInput: &gScalars, gradWeights: gradient + layout.decoderOffset)
        // ∂L/∂h_K: the scalars only.
        var gH = [Float](repeating: 0, count: n * dim)
        for i in 0..<n { for u in 0..<c { gH[i * dim + u] = gScalars[i * c + u] } }

        let scale = Float(1 / avgNeighbors.squareRoot())
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[k]
            let inDim = layer.selfLinear.input.dimension
            // Gate.
            var gZ = [Float](repeating: 0, count: n * zdim)
            gate.backward(input: t.gateInputs[k], count: n, gradOutput: gH, gradInput: &gZ)
            // z = PostLinear(m) + s: both branches receive gZ.
            var gM = [Float](repeating: 0, count: n * dim)
            layer.postLinear.backward(weights: parameters + layer.postOffset, input: t.messages[k], count: n,
                                      gradOutput: gZ, gradInput: &gM, gradWeights: gradient + layer.postOffset)
            var gPrev = [Float](repeating: 0, count: n * inDim)
            layer.selfLinear.backward(weights: parameters + layer.selfOffset, input: t.features[k], count: n,
                                      gradOutput: gZ, gradInput: &gPrev, gradWeights: gradient + layer.selfOffset)
            // Messages: ∂L/∂h_j accumulates on top of the self-interaction's, ∂L/∂w_e per edge.
            // ∂L/∂w_e is written (not accumulated) by the tensor product: the scratch is reused.
            if gradEdgeWeights.count != e * layer.tensorProduct.weightsPerEdge {
                gradEdgeWeights = [Float](repeating: 0, count: e * layer.tensorProduct.weightsPerEdge)
            }
            input.receiverOffsets.withUnsafeBufferPointer { offsets in
                input.senders.withUnsafeBufferPointer { senders in
                    layer.tensorProduct.backward(features: t.features[k], sphericalHarmonics: t.harmonics,
                                                 edgeWeights: t.edgeWeights[k], receiverOffsets: offsets.baseAddress!,
                                                 senders: senders.baseAddress!, nodeCount: n, scale: scale,
                                                 gradOutput: gM, gradFeatures: &gPrev,
                                                 gradSphericalHarmonics: nil, gradEdgeWeights: &gradEdgeWeights)
                }
            }
            layer.radial.backward(weights: parameters + layer.radialOffset, tape: t.radialTapes[k], gradOutput: gradEdgeWeights,
                                  gradInput: nil, gradWeights: gradient + layer.radialOffset)
            if config.residual && k > 0 {
                for q in 0..<(n * dim) { gPrev[q] += gH[q] }
            }
            gH = gPrev
        }
        // Embedding.
        embedding.backward(weights: parameters + layout.embedding.offset, input: t.embeddingInput, count: n,
                           gradOutput: gH, gradInput: nil, gradWeights: gradient + layout.embedding.offset)
    }
}
