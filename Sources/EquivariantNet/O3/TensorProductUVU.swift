import Foundation

/// One coupling path l1 ⊗ l2 → l3 of the "uvu" tensor product, with its sparse Clebsch–Gordan
/// table already multiplied by the path normalization √α.
public struct TensorProductPath: Sendable {
    public let l1: Int, l2: Int, l3: Int
    /// α = (2 l3 + 1) / (number of paths landing on l3)  (e3nn: irrep_normalization="component",
    /// path_normalization="element", for a second input of multiplicity 1).
    public let alpha: Double
    /// Nonzero √α · C(l1, l2, l3)[m1, m2, m3].
    public let entries: [CGEntry]
}

/// The "uvu" tensor product with per-edge weights, summed over the incoming edges of each node
/// (the message of an equivariant convolution, as NequIP; docs/model.md: the tensor product,
/// e3nn's conventions):
///
///     m_i[l3, m3, u] = scale · Σ_{e: j→i} Σ_{paths (l1,l2,l3)} √α · w_e[path, u]
///                                 · Σ_{m1,m2} C(l1,l2,l3)[m1,m2,m3] h_j[l1, m1, u] Y_e[l2, m2]
///
/// over every triangle-allowed path l1 ≤ `input.lmax`, l2 ≤ `shLmax`, l3 ≤ `outputLmax` (no parity:
/// all are kept). Paths landing on the same l3 are summed into one block of C channels. With
/// `scale = 1` and a single edge this is e3nn's
/// `o3.TensorProduct(irreps_in1, sh, irreps_out, [(l1, l2, l3, "uvu", True) …], shared_weights=False,
/// internal_weights=False, irrep_normalization="component", path_normalization="element")`.
///
/// ## Layouts
/// - node features h `[N][input.dimension]`, output m `[N][output.dimension]` (`Irreps` layout,
///   channels fastest); every l has the same C channels (uvu keeps the channel index).
/// - spherical harmonics Y `[E][(shLmax+1)²]` (`SphericalHarmonics` layout, index l² + m).
/// - per-edge weights w `[E][pathCount][C]`: path p's weights are e3nn's instruction p (paths are
///   ordered by l1, then l2, then l3 — `paths`), i.e. e3nn's per-edge weight vector. The fast
///   kernels can also read edge e's weights from row `weightRows[e]` of a shorter array (one
///   row per neighbor pair, `EdgePairs`) and write its ∂L/∂w to row `gradWeightRows[e]`.
/// - edges grouped by receiver (CSR): edges of node i are e in `receiverOffsets[i] ..<
///   receiverOffsets[i+1]`, with sender `senders[e]`; Y and w are indexed by the same e.
///   Every receiver's sum is formed by itself in a fixed order: deterministic, no atomics.
///
/// ## Kernels
/// `forward` and `backward` run the fast kernels (TensorProductUVUKernels.swift) when C is a
/// multiple of 8, otherwise the reference loops below (`forwardReference`, `backwardReference`:
/// one coupling at a time, the definition the kernels are tested against).
public struct TensorProductUVU: Sendable {
    public let channels: Int
    public let input: Irreps
    public let shLmax: Int
    public let output: Irreps
    public let paths: [TensorProductPath]

    /// One nonzero coefficient of one path, with the offsets it reads and writes resolved:
    /// out[outOffset + u] += value · Y[shIndex] · w[weightOffset + u] · h[featureOffset + u].
    public struct Coupling: Sendable {
        public let weightOffset: Int32   // p · C
        public let featureOffset: Int32  // input.offset(l1) + m1 · C
        public let shIndex: Int32        // l2² + m2
        public let outputOffset: Int32   // output.offset(l3) + m3 · C
        public let value: Float          // √α · C(l1,l2,l3)[m1,m2,m3]
    }

    /// Every nonzero of every path, in path order: the sparse kernel both passes loop over.
    public let couplings: [Coupling]
    /// The same couplings regrouped for the fast forward kernel (pairs (path, m3, m1)).
    let contraction: ContractionPlan
    /// … and for the fast backward kernel (pairs (path, m3, m2)).
    let senderContraction: SenderContractionPlan

    public init(channels: Int, inputLmax: Int, shLmax: Int, outputLmax: Int) {
        self.channels = channels
        self.shLmax = shLmax
        input = Irreps(uniform: channels, lmax: inputLmax)
        var triples: [(Int, Int, Int)] = []
        for l1 in 0...inputLmax {
            for l2 in 0...shLmax {
                for l3 in 0...outputLmax where ClebschGordan.isTriangle(l1, l2, l3) { triples.append((l1, l2, l3)) }
            }
        }
        var landing = [Int](repeating: 0, count: outputLmax + 1)
        for t in triples { landing[t.2] += 1 }
        paths = triples.map { (l1, l2, l3) in
            let alpha = Double(2 * l3 + 1) / Double(landing[l3])
            let s = alpha.squareRoot()
            let cg = ClebschGordan(l1, l2, l3).entries.map { CGEntry(m1: $0.m1, m2: $0.m2, m3: $0.m3, value: s * $0.value) }
            return TensorProductPath(l1: l1, l2: l2, l3: l3, alpha: alpha, entries: cg)
        }
        let output = Irreps(channels: landing.map { $0 > 0 ? channels : 0 })
        self.output = output
        let input = self.input
        couplings = paths.enumerated().flatMap { (p, path) in
            path.entries.map {
                Coupling(weightOffset: Int32(p * channels),
                         featureOffset: Int32(input.offset(path.l1) + $0.m1 * channels),
                         shIndex: Int32(path.l2 * path.l2 + $0.m2),
                         outputOffset: Int32(output.offset(path.l3) + $0.m3 * channels),
                         value: Float($0.value))
            }
        }
        contraction = ContractionPlan(couplings: couplings)
        senderContraction = SenderContractionPlan(couplings: couplings, pathCount: paths.count, channels: channels)
    }

    public var pathCount: Int { paths.count }
    /// Numbers of per-edge weights: pathCount · C.
    public var weightsPerEdge: Int { paths.count * channels }
    public var shDimension: Int { (shLmax + 1) * (shLmax + 1) }

    /// The reference forward: one coupling at a time, one thread (the definition the fast kernel
    /// is tested against; also the path for C not a multiple of 8).
    public func forwardReference(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, output out: UnsafeMutablePointer<Float>
    ) {
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        couplings.withUnsafeBufferPointer { plan in
            for i in 0..<nodeCount {
                let o = out + i * dOut
                o.update(repeating: 0, count: dOut)
                for e in receiverOffsets[i]..<receiverOffsets[i + 1] {
                    let hj = h + senders[e] * dIn, ye = y + e * dY, we = w + e * wE
                    for k in plan {
                        let coef = k.value * ye[Int(k.shIndex)]
                        let hr = hj + Int(k.featureOffset), wr = we + Int(k.weightOffset), orow = o + Int(k.outputOffset)
                        if c % 8 == 0 {  // 8 channels per SIMD register
                            for u in stride(from: 0, to: c, by: 8) {
                                store8(load8(orow + u) + coef * load8(wr + u) * load8(hr + u), orow + u)
                            }
                        } else {
                            for u in 0..<c { orow[u] += coef * wr[u] * hr[u] }
                        }
                    }
                }
                if scale != 1 { for k in 0..<dOut { o[k] *= scale } }
            }
        }
    }

    /// The reference backward (same contract as `backward`): one coupling at a time, one thread,
    /// edges in CSR order.
    public func backwardReference(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, gradOutput: UnsafePointer<Float>,
        gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?
    ) {
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        var scaled = [Float](repeating: 0, count: dOut)
        scaled.withUnsafeMutableBufferPointer { gob in
            couplings.withUnsafeBufferPointer { plan in
                let go = gob.baseAddress!
                for i in 0..<nodeCount {
                    for k in 0..<dOut { go[k] = scale * gradOutput[i * dOut + k] }
                    for e in receiverOffsets[i]..<receiverOffsets[i + 1] {
                        let j = senders[e]
                        let hj = h + j * dIn, ghj = gradFeatures + j * dIn
                        let ye = y + e * dY, we = w + e * wE
                        let gye = gradSphericalHarmonics.map { $0 + e * dY }
                        let gwe = gradEdgeWeights.map { $0 + e * wE }
                        gye?.update(repeating: 0, count: dY)
                        gwe?.update(repeating: 0, count: wE)
                        for k in plan {
                            let coef = k.value * ye[Int(k.shIndex)]
                            let hr = hj + Int(k.featureOffset), ghr = ghj + Int(k.featureOffset)
                            let wr = we + Int(k.weightOffset), gr = go + Int(k.outputOffset)
                            var dotY: Float = 0
                            if c % 8 == 0, let gwe {  // 8 channels per SIMD register
                                let gwr = gwe + Int(k.weightOffset)
                                var dot8 = SIMD8<Float>()
                                for u in stride(from: 0, to: c, by: 8) {
                                    let g8 = load8(gr + u), w8 = load8(wr + u)
                                    let a = g8 * load8(hr + u)
                                    dot8 += w8 * a
                                    store8(load8(ghr + u) + coef * w8 * g8, ghr + u)
                                    store8(load8(gwr + u) + coef * a, gwr + u)
                                }
                                dotY = dot8.sum()
                            } else if let gwe {
                                let gwr = gwe + Int(k.weightOffset)
                                for u in 0..<c {
                                    let a = gr[u] * hr[u]
                                    dotY += wr[u] * a
                                    ghr[u] += coef * wr[u] * gr[u]
                                    gwr[u] += coef * a
                                }
                            } else {
                                for u in 0..<c {
                                    dotY += wr[u] * gr[u] * hr[u]
                                    ghr[u] += coef * wr[u] * gr[u]
                                }
                            }
                            gye?[Int(k.shIndex)] += k.value * dotY
                        }
                    }
                }
            }
        }
    }
}

extension TensorProductUVU {
    /// `forwardReference` with edge e's weights in row `weightRows[e]` of `w` (nil: row e): the
    /// fallback of `forward` for C not a multiple of 8.
    func forwardReference(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>?,
        receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, output out: UnsafeMutablePointer<Float>
    ) {
        guard let weightRows else {
            forwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: receiverOffsets,
                             senders: senders, nodeCount: nodeCount, scale: scale, output: out)
            return
        }
        // The reference loops read w by edge: expand the rows.
        let edgeCount = receiverOffsets[nodeCount], wE = weightsPerEdge
        var perEdge = [Float](repeating: 0, count: edgeCount * wE)
        for e in 0..<edgeCount {
            for u in 0..<wE { perEdge[e * wE + u] = w[Int(weightRows[e]) * wE + u] }
        }
        forwardReference(features: h, sphericalHarmonics: y, edgeWeights: perEdge, receiverOffsets: receiverOffsets,
                         senders: senders, nodeCount: nodeCount, scale: scale, output: out)
    }

    /// `backwardReference` on a graph given by its `SenderIndex`, with w and ∂L/∂w in rows
    /// `weightRows[e]`, `gradWeightRows[e]` (nil: row e): the fallback of `backward` for C not a
    /// multiple of 8.
    func backwardReference(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>?, senderIndex index: SenderIndex,
        scale: Float, gradOutput: UnsafePointer<Float>, gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?, gradWeightRows: UnsafePointer<Int32>?
    ) {
        // The reference loops want the receiver-grouped graph back: rebuild it from the index.
        let n = index.nodeCount
        var receiverOffsets = [Int](repeating: 0, count: n + 1), senders = [Int](repeating: 0, count: index.edgeCount)
        for i in index.receivers { receiverOffsets[i + 1] += 1 }
        for i in 0..<n { receiverOffsets[i + 1] += receiverOffsets[i] }
        for j in 0..<n { for k in index.offsets[j]..<index.offsets[j + 1] { senders[index.edges[k]] = j } }
        // … and w, ∂L/∂w by edge.
        let wE = weightsPerEdge, e = index.edgeCount
        var perEdge = [Float](repeating: 0, count: e * wE), gradPerEdge = [Float](repeating: 0, count: e * wE)
        for q in 0..<e {
            let row = weightRows.map { Int($0[q]) } ?? q
            for u in 0..<wE { perEdge[q * wE + u] = w[row * wE + u] }
        }
        gradPerEdge.withUnsafeMutableBufferPointer { g in
            backwardReference(features: h, sphericalHarmonics: y, edgeWeights: perEdge, receiverOffsets: receiverOffsets,
                              senders: senders, nodeCount: n, scale: scale, gradOutput: gradOutput,
                              gradFeatures: gradFeatures, gradSphericalHarmonics: gradSphericalHarmonics,
                              gradEdgeWeights: gradEdgeWeights == nil ? nil : g.baseAddress!)
        }
        guard let gradEdgeWeights else { return }
        for q in 0..<e {
            let row = gradWeightRows.map { Int($0[q]) } ?? q
            for u in 0..<wE { gradEdgeWeights[row * wE + u] = gradPerEdge[q * wE + u] }
        }
    }
}
