/// One named weight matrix inside the flat parameter buffer: `rows × cols`, row-major
/// (`[fan_in][fan_out]`, as e3nn stores its weights), starting at `offset`.
public struct ParameterBlock: Equatable, Sendable {
    public let name: String
    public let offset: Int
    public let rows: Int
    public let cols: Int
    public var count: Int { rows * cols }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where every weight of the network lives in ONE flat Float buffer (parameters, gradients and
/// the Adam moments all share this layout, so the optimizer and the all-reduce see one array).
///
/// Order (identical to tools/e3nn_model.py, which exports e3nn's weights in it):
///
///     embedding                 (species + extra scalars) × C
///     embedding.l1              extra vectors × C   (only with extra vectors)
///     layer k = 0 ..< K:
///       self.l0                 C × (1+lmax)C   C activated scalars, then lmax·C gates
///       self.l1 … self.lmax     C × C           (layer 0: only the l its input has, l = 0, and
///                                                l = 1 with extra vectors)
///       radial.w1 … radial.wn   basis × 16, 16 × 16, 16 × (paths_k · C)   column = path · C + channel
///       post.l0                 C × (1+lmax)C
///       post.l1 … post.lmax     C × C
///     decoder.w1 … decoder.wn   C × 32, 32 × 32, 32 × (species · times)    column = species · T + time
public struct ParameterLayout: Sendable {
    /// Every block in buffer order.
    public let blocks: [ParameterBlock]
    /// Total number of parameters.
    public let count: Int

    public let embedding: ParameterBlock
    /// The embedding's weights for the extra vectors (l = 1 → l = 1), right after `embedding`.
    public let embeddingVectors: ParameterBlock?
    /// One past the embedding's last weight.
    public var embeddingEnd: Int { (embeddingVectors ?? embedding).range.upperBound }
    public let layers: [Layer]
    /// The decoder MLP's weights start here (layout of `FullyConnectedNet`).
    public let decoderOffset: Int
    public let decoderSizes: [Int]

    /// The blocks of one interaction layer.
    public struct Layer: Sendable {
        /// Input rotation orders (layer 0: `ModelConfig.firstLayerOrders`; later layers: 0…lmax).
        public let inputOrders: [Int]
        /// Self-interaction o3.Linear: `selfLinear[l]` maps the l input channels (nil if no input l).
        public let selfLinear: [ParameterBlock?]
        /// The radial MLP's weights start here (layout of `FullyConnectedNet`).
        public let radialOffset: Int
        public let radialSizes: [Int]
        /// Tensor-product paths (l1, l2, l3), in the order of the radial MLP's output columns.
        public let paths: [(l1: Int, l2: Int, l3: Int)]
        /// o3.Linear after the aggregation: `postLinear[l]`.
        public let postLinear: [ParameterBlock]
    }

    /// Paths l1 ⊗ l2 → l3 with l1 in `inputOrders`, l2 = 0…lmax, |l1 − l2| ≤ l3 ≤ min(l1 + l2, lmax),
    /// ordered by l1, then l2, then l3.
    public static func paths(inputOrders: [Int], lmax: Int) -> [(l1: Int, l2: Int, l3: Int)] {
        var out: [(l1: Int, l2: Int, l3: Int)] = []
        for l1 in inputOrders {
            for l2 in 0...lmax {
                for l3 in abs(l1 - l2)...min(l1 + l2, lmax) { out.append((l1, l2, l3)) }
            }
        }
        return out
    }

    public init(config: ModelConfig) {
        let c = config.channels, lmax = config.lmax
        var blocks: [ParameterBlock] = []
        var offset = 0
        func add(_ name: String, _ rows: Int, _ cols: Int) -> ParameterBlock {
            let b = ParameterBlock(name: name, offset: offset, rows: rows, cols: cols)
            blocks.append(b)
            offset += rows * cols
            return b
        }
        embedding = add("embedding", config.embeddingInputs, c)
        embeddingVectors = config.extraVectors.isEmpty ? nil : add("embedding.l1", config.extraVectors.count, c)
        var layers: [Layer] = []
        for k in 0..<config.layers {
            let orders = k == 0 ? config.firstLayerOrders : Array(0...lmax)
            var selfLinear: [ParameterBlock?] = []
            for l in 0...lmax {
                selfLinear.append(orders.contains(l) ? add("layer\(k).self.l\(l)", c, l == 0 ? (1 + lmax) * c : c) : nil)
            }
            let paths = Self.paths(inputOrders: orders, lmax: lmax)
            let sizes = [config.radialBasis] + config.radialHidden + [paths.count * c]
            let radialOffset = offset
            for i in 0..<(sizes.count - 1) { _ = add("layer\(k).radial.w\(i + 1)", sizes[i], sizes[i + 1]) }
            var post: [ParameterBlock] = []
            for l in 0...lmax { post.append(add("layer\(k).post.l\(l)", c, l == 0 ? (1 + lmax) * c : c)) }
            layers.append(Layer(inputOrders: orders, selfLinear: selfLinear, radialOffset: radialOffset,
                                radialSizes: sizes, paths: paths, postLinear: post))
        }
        self.layers = layers
        decoderSizes = [c] + config.decoderHidden + [config.speciesCount * config.times.count]
        decoderOffset = offset
        for i in 0..<(decoderSizes.count - 1) { _ = add("decoder.w\(i + 1)", decoderSizes[i], decoderSizes[i + 1]) }
        self.blocks = blocks
        self.count = offset
    }

    /// The block with this name, if any.
    public func block(named name: String) -> ParameterBlock? { blocks.first { $0.name == name } }

    /// Fresh parameters: every weight N(0, 1), as e3nn initializes o3.Linear and FullyConnectedNet
    /// (the 1/√fan_in scaling is applied in the forward pass, not stored in the weights).
    public func initialParameters(using rng: inout RandomSource) -> [Float] {
        rng.normalFloats(count)
    }
}
