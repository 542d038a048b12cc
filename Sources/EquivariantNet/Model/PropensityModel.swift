import Foundation

/// The reference network of shared/design/model.md: embedding → K interaction layers → decoder,
/// with its forward and hand-written backward pass over one whole snapshot.
///
/// Parameters are not stored here: every call takes the flat parameter buffer (`ParameterLayout`),
/// and the backward pass accumulates into a flat gradient buffer of the same layout — what Adam
/// and the all-reduce work on. The activations of the last forward pass are kept in `tape`
/// (visible flat buffers, one per stage), which the backward pass reads; an instance therefore
/// serves one snapshot at a time (one instance per snapshot in flight).
///
/// Work not done twice: the radial MLP sees only |r_ij|, and the graph holds every pair twice
/// (i → j and j → i, equal lengths), so w is computed once per pair (`ModelInput.pairs`,
/// `EdgePairs`: R ≈ E/2 rows). The last layer computes only what the decoder reads
/// (`ScalarOutputLayer`) unless `computesEveryFeature` is set. The predictions and the gradient
/// are those of the network either way.
///
/// Memory: the tensor-product weights w (R × paths·C per layer, the largest arrays) are NOT
/// kept: forward computes them into one buffer shared by all layers, and backward recomputes a
/// layer's w from its radial MLP's small hidden activations (R × 2·16 values and derivatives
/// per layer, on the tape). So one w buffer and one ∂L/∂w buffer exist whatever the depth.
/// Every buffer is kept between calls and reallocated only when N or E changes.
///
/// Threads: `threads` threads (default `ParallelFor.threadCount`) run the tensor products and
/// every row-wise pass (linears, radial MLPs, gates, decoder, harmonics, sums) in fixed row blocks
/// (`RowBlocks`), so predictions and gradients are bitwise the same for any thread count.
///
/// One layer, for every particle i (features h `[N][dim]`, `Irreps` layout):
///
///     s   = SelfLinear(h_i)                                   [N][zdim]   ((1+lmax)C scalars, C of each l ≥ 1)
///     w_e = RadialMLP(Bessel(|r_ij|))                         [R][paths·C]  (one row per pair)
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
    let scalarOutput: ScalarOutputLayer?
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

    /// The last layer restricted to what the decoder reads. The decoder reads the last layer's
    /// C scalars alone; they are act(z_0) with z_0 = PostLinear(m)_0 + SelfLinear(h)_0, and the
    /// linears act per l, so they depend on the messages' l = 0 part only: on the paths l ⊗ l → 0
    /// (4 of 34 paths, 16 of 611 couplings, 32 of 272 radial outputs with the defaults). The
    /// rest of the last layer's messages feeds only its l ≥ 1 features, which nothing reads
    /// during training: it is not computed, and its weights get the zero gradient they get
    /// from the full pass.
    struct ScalarOutputLayer {
        /// The tensor product with output l = 0 only (the same path normalisation: α = 1/4 for
        /// both, four paths land on l = 0).
        let tensorProduct: TensorProductUVU
        /// The radial MLP with only those paths' output columns.
        let radial: FullyConnectedNet
        /// For each output column of `radial`, its column in the full radial MLP's last weight.
        let columns: [Int]
    }

    /// The activations of the last forward pass (everything backward needs).
    public struct Tape {
        public var nodeCount = 0
        public var edgeCount = 0
        /// Whether the last layer's l ≥ 1 features were computed (`computesEveryFeature`);
        /// otherwise `features[K]` holds the scalars only (its l ≥ 1 numbers are not the network's).
        public var hasEveryFeature = true
        /// Embedding input `[N][species + extra]`: one-hot species, then the extra scalars.
        public var embeddingInput: [Float] = []
        /// Features entering layer k (`features[0]` = embedding output `[N][C]`), and after the
        /// last layer (`features[K]`), `[N][dim]`.
        public var features: [[Float]] = []
        /// Per row of w (`ModelInput.pairs`: one per neighbour pair) the length and radial basis,
        /// `[R]` and `[R][basis]`; per edge the spherical harmonics `[E][(lmax+1)²]`.
        public var lengths: [Float] = []
        public var radialBasis: [Float] = []
        public var harmonics: [Float] = []
        /// Per layer: radial MLP tape (hidden activations of the R rows; its output w is
        /// recomputed in backward), messages `[N][dim]`, gate input z `[N][zdim]`.
        public var radialTapes: [FullyConnectedNet.Tape] = []
        public var messages: [[Float]] = []
        public var gateInputs: [[Float]] = []
        /// Decoder input (final scalars) `[N][C]`, its tape, its output `[N][species·T]`.
        public var decoderInput: [Float] = []
        public var decoderTape = FullyConnectedNet.Tape()
        public var decoderOutput: [Float] = []
    }

    public private(set) var tape = Tape()

    /// Compute the last layer's l ≥ 1 features too (`embed` and `probe` read them). Off for
    /// training and prediction: the decoder reads the last layer's scalars only
    /// (`ScalarOutputLayer`), and the predictions and gradient do not depend on this switch.
    public var computesEveryFeature = false

    /// Threads of every pass; nil: `ParallelFor.threadCount` at the time of the call. Results do
    /// not depend on it.
    public var threads: Int? = nil
    /// Rows per block of the per-node and per-edge passes (`RowBlocks`). Part of the definition
    /// of the arithmetic (a different blocking changes the last bits); settable for tests.
    var nodeBlockSize = RowBlocks.nodeBlockSize
    var edgeBlockSize = RowBlocks.edgeBlockSize

    // Work buffers, kept between calls (no allocation, page faults or zeroing per snapshot).
    /// w of the current layer `[R][paths·C]`, one row per neighbour pair (sized for the widest
    /// layer); ∂L/∂w_e `[E][paths·C]` in the tensor-product backward's sender-grouped order.
    var edgeWeights: [Float] = []
    /// The layer whose w_e `edgeWeights` holds (the last one after a forward pass; backward then
    /// need not recompute it), or nil.
    var edgeWeightsLayer: Int? = nil
    var gradEdgeWeights: [Float] = []
    /// SelfLinear(h) `[N][zdim]` in forward; ∂L/∂(decoder output, scalars, h, z, m, h_prev) in backward.
    var selfOutput: [Float] = []
    var gradDecoderOutput: [Float] = []
    var gradScalars: [Float] = []
    var gradFeatures: [Float] = []
    var gradGateInput: [Float] = []
    var gradMessages: [Float] = []
    var gradPrevious: [Float] = []
    /// The scalar-output last layer's radial weights (gathered from the parameters), their
    /// gradient, its messages `[N][C]` and their gradient.
    var scalarRadialWeights: [Float] = []
    var scalarRadialGradient: [Float] = []
    var scalarMessages: [Float] = []
    var gradScalarMessages: [Float] = []

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
        if let last = layout.layers.last {
            let tp = TensorProductUVU(channels: c, inputLmax: last.inputOrders.max()!, shLmax: lmax, outputLmax: 0)
            let columns = tp.paths.flatMap { path -> [Int] in
                let p = last.paths.firstIndex { $0 == (path.l1, path.l2, path.l3) }!
                return Array((p * c)..<((p + 1) * c))
            }
            scalarOutput = ScalarOutputLayer(
                tensorProduct: tp,
                radial: FullyConnectedNet(sizes: Array(last.radialSizes.dropLast()) + [columns.count], activation: .silu),
                columns: columns)
        } else {
            scalarOutput = nil
        }
        decoder = FullyConnectedNet(sizes: layout.decoderSizes, activation: .silu)
    }

    var times: Int { config.times.count }
    var widestEdgeWeights: Int { layers.map { $0.tensorProduct.weightsPerEdge }.max() ?? 0 }

    /// The row blocks of the per-node passes, the per-edge passes and the radial MLPs (one row
    /// per neighbour pair), and the thread count.
    func blocks(_ input: ModelInput) -> (nodes: RowBlocks, edges: RowBlocks, pairs: RowBlocks, threads: Int) {
        let threads = max(1, self.threads ?? ParallelFor.threadCount)
        return (RowBlocks(rows: input.nodeCount, size: nodeBlockSize, threads: threads),
                RowBlocks(rows: input.edgeCount, size: edgeBlockSize, threads: threads),
                RowBlocks(rows: input.pairs.rowCount, size: edgeBlockSize, threads: threads), threads)
    }

    // MARK: forward

    /// Predictions `[N][T]` in standardised units: particle i reads the T outputs of its species.
    public func forward(parameters: UnsafePointer<Float>, input: ModelInput) -> [Float] {
        let n = input.nodeCount, e = input.edgeCount
        let c = config.channels, dim = hidden.dimension, zdim = gate.input.dimension
        let nIn = config.embeddingInputs, extra = config.extraScalars.count, basis = config.radialBasis
        precondition(input.scalars.count == n * extra, "PropensityModel: expected \(extra) extra scalars per particle")
        let (nodes, edges, pairs, threads) = blocks(input)
        let rows = pairs.rows
        // Work on the previous pass's buffers (uniquely referenced once `tape` lets go of them).
        var t = tape
        tape = Tape()
        t.nodeCount = n
        t.edgeCount = e
        let k = layers.count
        if t.features.count != k + 1 { t.features = Array(repeating: [], count: k + 1) }
        if t.messages.count != k {
            t.messages = Array(repeating: [], count: k)
            t.gateInputs = Array(repeating: [], count: k)
            t.radialTapes = Array(repeating: FullyConnectedNet.Tape(), count: k)
        }

        // Embedding: one-hot species and the extra scalars → C scalars.
        fit(&t.embeddingInput, n * nIn)
        t.embeddingInput.withUnsafeMutableBufferPointer { x in
            for i in 0..<n {
                let s = Int(input.species[i])
                precondition(s >= 0 && s < config.speciesCount, "PropensityModel: species \(s) of particle \(i) out of range")
                let row = x.baseAddress! + i * nIn
                row.update(repeating: 0, count: nIn)
                row[s] = 1
                for j in 0..<extra { row[config.speciesCount + j] = input.scalars[i * extra + j] }
            }
        }
        fit(&t.features[0], n * c)
        embedding.forward(weights: parameters + layout.embedding.offset, input: t.embeddingInput, output: &t.features[0],
                          blocks: nodes)

        // Edge geometry, shared by every layer: harmonics per edge, lengths and radial basis per
        // pair (from the pair's first edge; the reverse edge has the same length bitwise).
        fit(&t.lengths, rows)
        fit(&t.radialBasis, rows * basis)
        fit(&t.harmonics, e * harmonics.dimension)
        if e > 0 { input.vectors.withUnsafeBufferPointer { vb in
            t.lengths.withUnsafeMutableBufferPointer { lb in
                t.radialBasis.withUnsafeMutableBufferPointer { bb in
                    t.harmonics.withUnsafeMutableBufferPointer { yb in
                        input.pairs.edgesOfRow.withUnsafeBufferPointer { pb in
                            let (v, len, rb, y, edgesOfRow) = (vb.baseAddress!, lb.baseAddress!, bb.baseAddress!, yb.baseAddress!, pb.baseAddress!)
                            let (bessel, sh, dY) = (bessel, harmonics, harmonics.dimension)
                            edges.forEach { _, r in
                                sh.forward(vectors: v + 3 * r.lowerBound, count: r.count, output: y + r.lowerBound * dY)
                            }
                            pairs.forEach { _, r in
                                for row in r {
                                    let q = Int(edgesOfRow[2 * row])
                                    let (x, y, z) = (v[3 * q], v[3 * q + 1], v[3 * q + 2])
                                    len[row] = (x * x + y * y + z * z).squareRoot()
                                }
                                bessel.forward(distances: len + r.lowerBound, edgeCount: r.count, output: rb + r.lowerBound * basis)
                            }
                        }
                    }
                }
            }
        } }

        fit(&edgeWeights, rows * widestEdgeWeights)
        edgeWeightsLayer = nil
        fit(&selfOutput, n * zdim)
        let scale = Float(1 / avgNeighbors.squareRoot())
        t.hasEveryFeature = computesEveryFeature
        for (k, layer) in layers.enumerated() {
            layer.selfLinear.forward(weights: parameters + layer.selfOffset, input: t.features[k], output: &selfOutput,
                                     blocks: nodes)
            fit(&t.messages[k], n * dim)
            if let last = scalarOutputLayer(k, t) {
                // Only the l = 0 messages; the l ≥ 1 ones stay zero.
                gatherScalarRadialWeights(last, parameters + layer.radialOffset)
                last.radial.forward(weights: scalarRadialWeights, input: t.radialBasis, output: &edgeWeights,
                                    tape: &t.radialTapes[k], blocks: pairs)
                fit(&scalarMessages, n * c)
                messages(last.tensorProduct, features: t.features[k], harmonics: t.harmonics, edgeWeights: edgeWeights,
                         input: input, scale: scale, output: &scalarMessages, threads: threads)
                scalarMessages.withUnsafeBufferPointer { sm in
                    t.messages[k].withUnsafeMutableBufferPointer { m in
                        for i in 0..<n {
                            let row = m.baseAddress! + i * dim
                            row.update(from: sm.baseAddress! + i * c, count: c)
                            (row + c).update(repeating: 0, count: dim - c)
                        }
                    }
                }
            } else {
                layer.radial.forward(weights: parameters + layer.radialOffset, input: t.radialBasis, output: &edgeWeights,
                                     tape: &t.radialTapes[k], blocks: pairs)
                messages(layer.tensorProduct, features: t.features[k], harmonics: t.harmonics, edgeWeights: edgeWeights,
                         input: input, scale: scale, output: &t.messages[k], threads: threads)
            }
            // z = PostLinear(m) + s
            fit(&t.gateInputs[k], n * zdim)
            layer.postLinear.forward(weights: parameters + layer.postOffset, input: t.messages[k], output: &t.gateInputs[k],
                                     blocks: nodes)
            add(selfOutput, into: &t.gateInputs[k], width: zdim, blocks: nodes)
            fit(&t.features[k + 1], n * dim)
            gate.forward(input: t.gateInputs[k], output: &t.features[k + 1], blocks: nodes)
            if config.residual && k > 0 {
                add(t.features[k], into: &t.features[k + 1], width: dim, blocks: nodes)
            }
        }
        edgeWeightsLayer = layers.count - 1

        // Decoder on the final C scalars; each particle reads its own species' T outputs.
        let outWidth = decoder.outputSize
        fit(&t.decoderInput, n * c)
        fit(&t.decoderOutput, n * outWidth)
        let hLast = t.features[layers.count]
        hLast.withUnsafeBufferPointer { h in
            t.decoderInput.withUnsafeMutableBufferPointer { x in
                for i in 0..<n { (x.baseAddress! + i * c).update(from: h.baseAddress! + i * dim, count: c) }
            }
        }
        decoder.forward(weights: parameters + layout.decoderOffset, input: t.decoderInput, output: &t.decoderOutput,
                        tape: &t.decoderTape, blocks: nodes)
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
    ///
    /// `firstTrained`: only the parameters from this flat index on are wanted (the layout runs
    /// embedding, layer 0 … K−1, decoder). The pass stops after the lowest stage holding one of
    /// them, so a frozen encoder (transfer learning) costs the decoder's backward alone; the
    /// gradient of the stages below is left as it was.
    public func backward(parameters: UnsafePointer<Float>, input: ModelInput, gradPredictions: [Float],
                         gradient: UnsafeMutablePointer<Float>, firstTrained: Int = 0) {
        let t = tape
        let n = t.nodeCount, e = t.edgeCount
        precondition(n == input.nodeCount && e == input.edgeCount, "PropensityModel.backward: input differs from the last forward")
        let c = config.channels, dim = hidden.dimension, zdim = gate.input.dimension
        let (nodes, _, pairs, threads) = blocks(input)
        let rows = pairs.rows

        // Decoder: scatter each particle's T gradients to its species' columns.
        let outWidth = decoder.outputSize
        fit(&gradDecoderOutput, n * outWidth)
        fit(&gradScalars, n * c)
        fit(&gradFeatures, n * dim)
        fit(&gradGateInput, n * zdim)
        fit(&gradMessages, n * dim)
        fit(&gradPrevious, n * dim)
        gradDecoderOutput.withUnsafeMutableBufferPointer { g in
            for i in 0..<n {
                let s = Int(input.species[i]), row = g.baseAddress! + i * outWidth
                row.update(repeating: 0, count: outWidth)
                for q in 0..<times { row[s * times + q] = gradPredictions[i * times + q] }
            }
        }
        decoder.backward(weights: parameters + layout.decoderOffset, input: t.decoderInput, tape: t.decoderTape,
                         gradOutput: gradDecoderOutput, gradInput: &gradScalars, gradWeights: gradient + layout.decoderOffset,
                         blocks: nodes)
        // The layers (and the embedding) whose parameters, or those of a stage above, are wanted.
        let lowestLayer = layers.indices.first { layerEnd($0) > firstTrained } ?? layers.count
        if lowestLayer == layers.count { return }  // the decoder alone
        // ∂L/∂h_K: the scalars only.
        gradScalars.withUnsafeBufferPointer { gs in
            gradFeatures.withUnsafeMutableBufferPointer { gh in
                for i in 0..<n {
                    let row = gh.baseAddress! + i * dim
                    row.update(from: gs.baseAddress! + i * c, count: c)
                    (row + c).update(repeating: 0, count: dim - c)
                }
            }
        }

        precondition(edgeWeights.count == rows * widestEdgeWeights, "PropensityModel.backward: no forward pass of this input")
        fit(&gradEdgeWeights, e * widestEdgeWeights)
        let scale = Float(1 / avgNeighbors.squareRoot())
        // The tensor products' backward walks the edges grouped by sender: one index for all layers.
        let senderIndex = input.receiverOffsets.withUnsafeBufferPointer { offsets in
            input.senders.withUnsafeBufferPointer { senders in
                SenderIndex(receiverOffsets: offsets.baseAddress!, senders: senders.baseAddress!, nodeCount: n)
            }
        }
        let edgePositions = senderIndex.positions
        for k in stride(from: layers.count - 1, through: lowestLayer, by: -1) {
            let layer = layers[k]
            // Gate. Then z = PostLinear(m) + s: both branches receive ∂L/∂z. ∂L/∂h_prev `[N][inDim]`
            // (in the first N·inDim numbers of its buffer) starts with the self-interaction's part.
            gate.backward(input: t.gateInputs[k], gradOutput: gradFeatures, gradInput: &gradGateInput, blocks: nodes)
            layer.postLinear.backward(weights: parameters + layer.postOffset, input: t.messages[k], gradOutput: gradGateInput,
                                      gradInput: &gradMessages, gradWeights: gradient + layer.postOffset, blocks: nodes)
            layer.selfLinear.backward(weights: parameters + layer.selfOffset, input: t.features[k], gradOutput: gradGateInput,
                                      gradInput: &gradPrevious, gradWeights: gradient + layer.selfOffset, blocks: nodes)
            // Messages: w_e again from the radial MLP's tape; ∂L/∂h_j accumulates on top of the
            // self-interaction's, ∂L/∂w_e is written per edge.
            if let last = scalarOutputLayer(k, t) {
                // ∂L/∂m has no l ≥ 1 part here (nothing read those features): the l = 0 paths alone.
                // `scalarRadialWeights` still holds forward's gather (the same parameters).
                if edgeWeightsLayer != k {
                    last.radial.recomputeOutput(weights: scalarRadialWeights, input: t.radialBasis,
                                                tape: t.radialTapes[k], output: &edgeWeights, blocks: pairs)
                    edgeWeightsLayer = k
                }
                fit(&gradScalarMessages, n * c)
                gradMessages.withUnsafeBufferPointer { g in
                    gradScalarMessages.withUnsafeMutableBufferPointer { gs in
                        for i in 0..<n { (gs.baseAddress! + i * c).update(from: g.baseAddress! + i * dim, count: c) }
                    }
                }
                fit(&scalarRadialGradient, last.radial.parameterCount)
                scalarRadialGradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                scalarRadialWeights.withUnsafeBufferPointer { weights in
                    scalarRadialGradient.withUnsafeMutableBufferPointer { gradient in
                        messagesBackward(last.tensorProduct, radial: last.radial, radialWeights: weights.baseAddress!,
                                         radialTape: t.radialTapes[k], radialGradient: gradient.baseAddress!,
                                         features: t.features[k], gradOutput: gradScalarMessages, input: input,
                                         senderIndex: senderIndex, edgePositions: edgePositions, scale: scale, threads: threads)
                    }
                }
                scatterScalarRadialGradient(last, into: gradient + layer.radialOffset)
            } else {
                if edgeWeightsLayer != k {
                    layer.radial.recomputeOutput(weights: parameters + layer.radialOffset, input: t.radialBasis,
                                                 tape: t.radialTapes[k], output: &edgeWeights, blocks: pairs)
                    edgeWeightsLayer = k
                }
                messagesBackward(layer.tensorProduct, radial: layer.radial, radialWeights: parameters + layer.radialOffset,
                                 radialTape: t.radialTapes[k], radialGradient: gradient + layer.radialOffset,
                                 features: t.features[k], gradOutput: gradMessages, input: input, senderIndex: senderIndex,
                                 edgePositions: edgePositions, scale: scale, threads: threads)
            }
            if config.residual && k > 0 {
                add(gradFeatures, into: &gradPrevious, width: dim, blocks: nodes)
            }
            swap(&gradFeatures, &gradPrevious)
        }
        // Embedding (∂L/∂h_0 `[N][C]` in the first N·C numbers).
        guard lowestLayer == 0 && firstTrained < layout.embedding.range.upperBound else { return }
        embedding.backward(weights: parameters + layout.embedding.offset, input: t.embeddingInput, gradOutput: gradFeatures,
                           gradInput: nil, gradWeights: gradient + layout.embedding.offset, blocks: nodes)
    }

    // MARK: helpers

    /// The scalar-output form of layer k, if layer k is the last and the tape's forward did not
    /// compute every feature.
    func scalarOutputLayer(_ k: Int, _ t: Tape) -> ScalarOutputLayer? {
        k == layers.count - 1 && !t.hasEveryFeature ? scalarOutput : nil
    }

    /// m_i = scale · Σ_j TP(h_j, Y_e, w_e) over the input's receiver-grouped edges, w one row
    /// per neighbour pair.
    func messages(_ tp: TensorProductUVU, features: [Float], harmonics: [Float], edgeWeights: [Float], input: ModelInput,
                  scale: Float, output: inout [Float], threads: Int) {
        input.receiverOffsets.withUnsafeBufferPointer { offsets in
            input.senders.withUnsafeBufferPointer { senders in
                input.pairs.rowOfEdge.withUnsafeBufferPointer { rowOfEdge in
                    tp.forward(features: features, sphericalHarmonics: harmonics, edgeWeights: edgeWeights,
                               weightRows: rowOfEdge.baseAddress, receiverOffsets: offsets.baseAddress!,
                               senders: senders.baseAddress!, nodeCount: input.nodeCount, scale: scale, output: &output,
                               threads: threads)
                }
            }
        }
    }

    /// Backward of `messages` with w in `edgeWeights`, then of the radial MLP that made w (with
    /// `radialWeights`, its gradient accumulated into `radialGradient`). ∂L/∂h accumulates into
    /// `gradPrevious`. Each edge's ∂L/∂w_e goes to `gradEdgeWeights` at its sender-grouped
    /// position (the tensor product's backward writes them one after the other); each pair's sum
    /// is formed block by block as the radial MLP's backward reads it (`EdgePairs.sumGradients`).
    func messagesBackward(_ tp: TensorProductUVU, radial: FullyConnectedNet, radialWeights: UnsafePointer<Float>,
                          radialTape: FullyConnectedNet.Tape, radialGradient: UnsafeMutablePointer<Float>,
                          features: [Float], gradOutput: [Float], input: ModelInput, senderIndex: SenderIndex,
                          edgePositions: [Int32], scale: Float, threads: Int) {
        let t = tape
        input.pairs.rowOfEdge.withUnsafeBufferPointer { rowOfEdge in
            edgePositions.withUnsafeBufferPointer { positions in
                tp.backward(features: features, sphericalHarmonics: t.harmonics, edgeWeights: edgeWeights,
                            weightRows: rowOfEdge.baseAddress, senderIndex: senderIndex, scale: scale,
                            gradOutput: gradOutput, gradFeatures: &gradPrevious, gradSphericalHarmonics: nil,
                            gradEdgeWeights: &gradEdgeWeights, gradWeightRows: positions.baseAddress, threads: threads)
            }
        }
        let (_, _, pairs, _) = blocks(input)
        let width = tp.weightsPerEdge
        gradEdgeWeights.withUnsafeBufferPointer { g in
            edgePositions.withUnsafeBufferPointer { positions in
                let (perEdge, position, edgePairs) = (g.baseAddress ?? UnsafePointer(bitPattern: 8)!, positions.baseAddress, input.pairs)
                radial.backward(weights: radialWeights, input: t.radialBasis, tape: radialTape,
                                gradOutput: .perBlock { rows, target in
                                    edgePairs.sumGradients(perEdge, positions: position, width: width, rows: rows, into: target)
                                },
                                gradInput: nil, gradWeights: radialGradient, blocks: pairs)
            }
        }
    }

    /// `scalarRadialWeights` ← the last radial MLP's weights at `weights` with only the scalar
    /// paths' output columns (the hidden layers' weights as they are).
    func gatherScalarRadialWeights(_ last: ScalarOutputLayer, _ weights: UnsafePointer<Float>) {
        let net = last.radial, k = net.layerCount - 1
        let (rows, fullCols) = (net.sizes[k], layers[layers.count - 1].radial.outputSize)
        fit(&scalarRadialWeights, net.parameterCount)
        scalarRadialWeights.withUnsafeMutableBufferPointer { wb in
            let w = wb.baseAddress!
            w.update(from: weights, count: net.weightOffsets[k])
            for r in 0..<rows {
                for (j, column) in last.columns.enumerated() { w[net.weightOffsets[k] + r * net.outputSize + j] = weights[net.weightOffsets[k] + r * fullCols + column] }
            }
        }
    }

    /// Adds `scalarRadialGradient` (layout of `ScalarOutputLayer.radial`) into the full radial
    /// MLP's gradient at `gradient`.
    func scatterScalarRadialGradient(_ last: ScalarOutputLayer, into gradient: UnsafeMutablePointer<Float>) {
        let net = last.radial, k = net.layerCount - 1
        let (rows, fullCols) = (net.sizes[k], layers[layers.count - 1].radial.outputSize)
        for q in 0..<net.weightOffsets[k] { gradient[q] += scalarRadialGradient[q] }
        for r in 0..<rows {
            for (j, column) in last.columns.enumerated() {
                gradient[net.weightOffsets[k] + r * fullCols + column] += scalarRadialGradient[net.weightOffsets[k] + r * net.outputSize + j]
            }
        }
    }

    /// One past the last flat index of layer k's parameters (the next layer's first, or the
    /// decoder's).
    func layerEnd(_ k: Int) -> Int {
        k + 1 < layers.count ? layout.layers[k + 1].selfLinear.compactMap { $0 }[0].offset : layout.decoderOffset
    }

    /// Makes `buffer` hold exactly `count` numbers, reallocating only when the count changes
    /// (contents are then zero; otherwise they are the previous call's).
    func fit(_ buffer: inout [Float], _ count: Int) {
        if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
    }

    /// y[i][·] += x[i][·] for the `width` numbers of every row of `blocks`.
    func add(_ x: [Float], into y: inout [Float], width: Int, blocks: RowBlocks) {
        if blocks.rows == 0 { return }
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let (x, y) = (xb.baseAddress!, yb.baseAddress!)
                blocks.forEach { _, r in
                    for q in (r.lowerBound * width)..<(r.upperBound * width) { y[q] += x[q] }
                }
            }
        }
    }
}
