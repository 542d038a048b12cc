import Foundation

/// The reference network of docs/model.md: `Embedding` → K `InteractionLayer`s → `Decoder`,
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
/// `EdgePairs`: R ≈ E/2 rows). The last layer computes only what the decoder reads (its scalar
/// output, `InteractionLayer`) unless `computesEveryFeature` is set. The predictions and the
/// gradient are those of the network either way.
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
public final class PropensityModel {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// Mean in-degree of the training graphs (a global statistic stored with the model).
    public var avgNeighbors: Double

    let embedding: Embedding
    let geometry: EdgeGeometry
    let layers: [InteractionLayer]
    let decoder: Decoder

    /// The activations of the last forward pass (everything backward needs).
    public struct Tape {
        public var nodeCount = 0
        public var edgeCount = 0
        /// Whether the last layer's l ≥ 1 features were computed (`computesEveryFeature`);
        /// otherwise `features[K]` holds the scalars only (its l ≥ 1 numbers are not the network's).
        public var hasEveryFeature = true
        /// Embedding input `[N][species + extra + 3·vectors]`: one-hot species, the extra scalars,
        /// then the extra vectors (`Irreps` layout: component-major, vector index fastest).
        public var embeddingInput: [Float] = []
        /// Features entering layer k (`features[0]` = embedding output `[N][C]`, or `[N][4C]` with
        /// extra vectors: C scalars and C vectors), and after the
        /// last layer (`features[K]`), `[N][dim]`.
        public var features: [[Float]] = []
        /// Per row of w (`ModelInput.pairs`: one per neighbor pair) the length and radial basis,
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
    /// training and prediction: the decoder reads the last layer's scalars only (the layer's
    /// scalar output), and the predictions and gradient do not depend on this switch.
    public var computesEveryFeature = false

    /// Threads of every pass; nil: `ParallelFor.threadCount` at the time of the call. Results do
    /// not depend on it.
    public var threads: Int? = nil
    /// Rows per block of the per-node and per-edge passes (`RowBlocks`). Part of the definition
    /// of the arithmetic (a different blocking changes the last bits); settable for tests.
    var nodeBlockSize = RowBlocks.nodeBlockSize
    var edgeBlockSize = RowBlocks.edgeBlockSize

    // Work buffers, kept between calls (no allocation, page faults or zeroing per snapshot).
    var work = InteractionLayer.Buffers()
    /// The layer whose w `work.edgeWeights` holds (the last one after a forward pass; backward
    /// then need not recompute it), or nil.
    var edgeWeightsLayer: Int? = nil
    /// ∂L/∂(decoder output, final scalars) and ∂L/∂h above and below the current layer
    /// (`[N][dim]` each).
    var gradDecoderOutput: [Float] = []
    var gradScalars: [Float] = []
    var gradFeatures: [Float] = []
    var gradPrevious: [Float] = []

    public init(config: ModelConfig, avgNeighbors: Double) {
        self.config = config
        self.avgNeighbors = avgNeighbors
        let layout = ParameterLayout(config: config)
        self.layout = layout
        embedding = Embedding(config: config, layout: layout)
        geometry = EdgeGeometry(config: config)
        layers = layout.layers.indices.map {
            InteractionLayer(config: config, layout: layout, index: $0, scalarOutput: $0 == layout.layers.count - 1)
        }
        decoder = Decoder(config: config, layout: layout, featureWidth: Irreps(uniform: config.channels, lmax: config.lmax).dimension)
    }

    var widestEdgeWeights: Int { layers.map { $0.tensorProduct.weightsPerEdge }.max() ?? 0 }

    /// The row blocks of the per-node passes, the per-edge passes and the radial MLPs (one row
    /// per neighbor pair), and the thread count.
    func blocks(_ input: ModelInput) -> (nodes: RowBlocks, edges: RowBlocks, pairs: RowBlocks, threads: Int) {
        let threads = max(1, self.threads ?? ParallelFor.threadCount)
        return (RowBlocks(rows: input.nodeCount, size: nodeBlockSize, threads: threads),
                RowBlocks(rows: input.edgeCount, size: edgeBlockSize, threads: threads),
                RowBlocks(rows: input.pairs.rowCount, size: edgeBlockSize, threads: threads), threads)
    }

    /// What the layers of a pass on `input` share (the geometry from `t`).
    func layerPass(_ input: ModelInput, _ t: Tape) -> InteractionLayer.Pass {
        let (nodes, _, pairs, threads) = blocks(input)
        return InteractionLayer.Pass(input: input, harmonics: t.harmonics, radialBasis: t.radialBasis, nodes: nodes,
                                     pairs: pairs, threads: threads, scale: Float(1 / avgNeighbors.squareRoot()))
    }

    // MARK: forward

    /// Predictions `[N][T]` in standardized units: particle i reads the T outputs of its species.
    public func forward(parameters: UnsafePointer<Float>, input: ModelInput) -> [Float] {
        let n = input.nodeCount, extra = config.extraScalars.count, vectors = config.extraVectors.count
        precondition(input.scalars.count == n * extra, "PropensityModel: expected \(extra) extra scalars per particle")
        precondition(input.extraVectors.count == 3 * n * vectors, "PropensityModel: expected \(vectors) extra vectors per particle")
        let (nodes, edges, pairs, _) = blocks(input)
        // Work on the previous pass's buffers (uniquely referenced once `tape` lets go of them).
        var t = tape
        tape = Tape()
        t.prepare(nodeCount: n, edgeCount: input.edgeCount, layers: layers.count)
        t.hasEveryFeature = computesEveryFeature
        embedding.forward(parameters: parameters, species: input.species, scalars: input.scalars,
                          vectors: input.extraVectors, input: &t.embeddingInput, output: &t.features[0], blocks: nodes)
        geometry.forward(input: input, lengths: &t.lengths, radialBasis: &t.radialBasis, sphericalHarmonics: &t.harmonics,
                         edges: edges, pairs: pairs)
        FlatBuffers.fit(&work.edgeWeights, pairs.rows * widestEdgeWeights)
        edgeWeightsLayer = nil
        let pass = layerPass(input, t)
        for (k, layer) in layers.enumerated() {
            layer.forward(parameters: parameters, features: t.features[k], pass: pass, scalarsOnly: !t.hasEveryFeature,
                          radialTape: &t.radialTapes[k], messages: &t.messages[k], gateInput: &t.gateInputs[k],
                          output: &t.features[k + 1], work: &work)
        }
        edgeWeightsLayer = layers.count - 1
        let predictions = decoder.forward(parameters: parameters, features: t.features[layers.count], species: input.species,
                                          input: &t.decoderInput, tape: &t.decoderTape, output: &t.decoderOutput,
                                          blocks: nodes)
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
        let (nodes, _, pairs, _) = blocks(input)
        decoder.backward(parameters: parameters, species: input.species, gradPredictions: gradPredictions,
                         input: t.decoderInput, tape: t.decoderTape, gradOutput: &gradDecoderOutput, gradInput: &gradScalars,
                         gradient: gradient, blocks: nodes)
        // The layers (and the embedding) whose parameters, or those of a stage above, are wanted.
        let lowestLayer = layers.indices.first { layerEnd($0) > firstTrained } ?? layers.count
        if lowestLayer == layers.count { return }  // the decoder alone
        // ∂L/∂h_K: the scalars only.
        let dim = decoder.featureWidth
        FlatBuffers.fit(&gradFeatures, n * dim)
        FlatBuffers.fit(&gradPrevious, n * dim)
        FlatBuffers.copyRows(gradScalars, width: config.channels, into: &gradFeatures, width: dim, rows: n)
        precondition(work.edgeWeights.count == pairs.rows * widestEdgeWeights, "PropensityModel.backward: no forward pass of this input")
        FlatBuffers.fit(&work.gradEdgeWeights, e * widestEdgeWeights)
        let pass = layerPass(input, t), senders = InteractionLayer.SenderOrder(input)
        for k in stride(from: layers.count - 1, through: lowestLayer, by: -1) {
            // ∂L/∂h_k `[N][inDim]` into the first N·inDim numbers of `gradPrevious`.
            layers[k].backward(parameters: parameters, features: t.features[k], pass: pass, senders: senders,
                               scalarsOnly: !t.hasEveryFeature, radialTape: t.radialTapes[k], messages: t.messages[k],
                               gateInput: t.gateInputs[k], gradOutput: gradFeatures, gradInput: &gradPrevious,
                               recomputeEdgeWeights: edgeWeightsLayer != k, gradient: gradient, work: &work)
            edgeWeightsLayer = k
            swap(&gradFeatures, &gradPrevious)
        }
        // Embedding (∂L/∂h_0 `[N][C]` in the first N·C numbers).
        guard lowestLayer == 0 && firstTrained < layout.embeddingEnd else { return }
        embedding.backward(parameters: parameters, input: t.embeddingInput, gradOutput: gradFeatures, gradient: gradient,
                           blocks: nodes)
    }

    /// One past the last flat index of layer k's parameters (the next layer's first, or the
    /// decoder's).
    func layerEnd(_ k: Int) -> Int {
        k + 1 < layers.count ? layout.layers[k + 1].selfLinear.compactMap { $0 }[0].offset : layout.decoderOffset
    }
}

extension PropensityModel.Tape {
    /// Sizes the per-layer lists for `layers` layers (their buffers are kept when the count is
    /// unchanged) and records the snapshot's size.
    mutating func prepare(nodeCount n: Int, edgeCount e: Int, layers k: Int) {
        nodeCount = n
        edgeCount = e
        if features.count != k + 1 { features = Array(repeating: [], count: k + 1) }
        if messages.count != k {
            messages = Array(repeating: [], count: k)
            gateInputs = Array(repeating: [], count: k)
            radialTapes = Array(repeating: FullyConnectedNet.Tape(), count: k)
        }
    }
}
