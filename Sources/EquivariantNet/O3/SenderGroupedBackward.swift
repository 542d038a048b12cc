/// The couplings of a `TensorProductUVU` regrouped for its backward kernel, which walks the edges
/// grouped by **sender** and contracts the Clebsch–Gordan table with the sender's features
/// instead of the edge's harmonics.
///
/// For sender j the table is contracted once with h_j, one vector of C channels per **pair**
/// (path p, m3, m2):
///
///     B_j[k, :] = Σ_{terms t of k} value_t · h_j[feature_t + :]      (value = √α C[m1, m2, m3])
///
/// so that an edge e = j → i of j only needs its 16 harmonics as coefficients:
///
///     t_e[p, m3, :]   = Σ_{pairs k of row (p, m3)} Y_e[harmonic_k] · B_j[k, :]
///     ∂L/∂w_e[p, :]   = Σ_{m3} g_i[m3, :] ⊙ t_e[p, m3, :]                (g = scale · ∂L/∂m)
///     ∂L/∂B_j[k, :]  += Y_e[harmonic_k] · w_e[p, :] ⊙ g_i[m3, :]
///     ∂L/∂Y_e[m2]     = Σ_{pairs k with harmonic m2} Σ_u w_e[p, u] g_i[m3, u] B_j[k, u]
///
/// and ∂L/∂h_j = Σ_k value · ∂L/∂B_j[k] once per sender. The pair count is the same as the
/// forward plan's (541 for l ≤ 3), but no per-edge contraction is needed, and B_j and ∂L/∂B_j
/// (pairCount · C floats each, 17 KB for C = 8) stay in the L1 cache while j's edges are walked.
///
/// Rows are grouped by path: path p owns the rows `pathRows[p] ..< pathRows[p+1]`, so ∂L/∂w_e[p]
/// is summed in a register over the path's rows and stored once.
final class SenderContractionPlan: @unchecked Sendable {
    let pathCount: Int, rowCount: Int, pairCount: Int, termCount: Int
    let pathRows: UnsafeMutablePointer<Int32>
    /// Pairs of row r: `rowPairs[r] ..< rowPairs[r+1]`; its output offset output.offset(l3) + m3·C.
    let rowPairs: UnsafeMutablePointer<Int32>
    let rowOutput: UnsafeMutablePointer<Int32>
    /// The harmonic index l2² + m2 of pair k, and its terms `pairTerms[k] ..< pairTerms[k+1]`.
    let pairHarmonic: UnsafeMutablePointer<Int32>
    let pairTerms: UnsafeMutablePointer<Int32>
    /// Term t reads the features at input.offset(l1) + m1·C with coefficient `termValue[t]`.
    let termFeature: UnsafeMutablePointer<Int32>
    let termValue: UnsafeMutablePointer<Float>

    init(couplings: [TensorProductUVU.Coupling], pathCount: Int, channels: Int) {
        // Sort by path, then m3 (row), then m2 (pair), then m1 (term).
        let sorted = couplings.sorted {
            ($0.weightOffset, $0.outputOffset, $0.shIndex, $0.featureOffset)
                < ($1.weightOffset, $1.outputOffset, $1.shIndex, $1.featureOffset)
        }
        var pathRows = [Int32](repeating: 0, count: pathCount + 1)
        var rowPairs: [Int32] = [], rowOutput: [Int32] = [], pairHarmonic: [Int32] = [], pairTerms: [Int32] = []
        for (t, k) in sorted.enumerated() {
            let newRow = t == 0 || k.weightOffset != sorted[t - 1].weightOffset || k.outputOffset != sorted[t - 1].outputOffset
            if newRow {
                rowPairs.append(Int32(pairHarmonic.count))
                rowOutput.append(k.outputOffset)
                pathRows[Int(k.weightOffset) / channels + 1] = Int32(rowOutput.count)
            }
            if newRow || k.shIndex != sorted[t - 1].shIndex {
                pairTerms.append(Int32(t))
                pairHarmonic.append(k.shIndex)
            }
        }
        for p in 0..<pathCount { pathRows[p + 1] = max(pathRows[p + 1], pathRows[p]) }  // paths without rows
        rowPairs.append(Int32(pairHarmonic.count))
        pairTerms.append(Int32(sorted.count))
        self.pathCount = pathCount
        rowCount = rowOutput.count
        pairCount = pairHarmonic.count
        termCount = sorted.count

        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        self.pathRows = copy(pathRows)
        self.rowPairs = copy(rowPairs)
        self.rowOutput = copy(rowOutput)
        self.pairHarmonic = copy(pairHarmonic)
        self.pairTerms = copy(pairTerms)
        termFeature = copy(sorted.map(\.featureOffset))
        termValue = copy(sorted.map(\.value))
    }

    deinit {
        for p in [pathRows, rowPairs, rowOutput, pairHarmonic, pairTerms, termFeature] { p.deallocate() }
        termValue.deallocate()
    }
}

/// The edges of a receiver-grouped (CSR) graph regrouped by sender: sender j's edges are
/// `edges[offsets[j] ..< offsets[j+1]]`, in increasing edge order; `receivers[e]` is edge e's
/// receiver. A counting sort, O(N + E).
///
/// `TensorProductUVU.backward` builds one per call; a caller that runs several backward passes
/// on the same graph (the layers of a network) can build it once and pass it in.
public struct SenderIndex: Sendable {
    public let nodeCount: Int, edgeCount: Int
    public private(set) var offsets: [Int], edges: [Int], receivers: [Int]

    public init(receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>, nodeCount n: Int) {
        let edgeCount = receiverOffsets[n]
        precondition(receiverOffsets[0] == 0, "SenderIndex: receiverOffsets must start at 0")
        self.nodeCount = n
        self.edgeCount = edgeCount
        offsets = [Int](repeating: 0, count: n + 1)
        receivers = [Int](repeating: 0, count: edgeCount)
        edges = [Int](repeating: 0, count: edgeCount)
        for i in 0..<n {
            for e in receiverOffsets[i]..<receiverOffsets[i + 1] {
                precondition(senders[e] >= 0 && senders[e] < n, "SenderIndex: sender \(senders[e]) of edge \(e) is not a node of 0..<\(n)")
                receivers[e] = i
                offsets[senders[e] + 1] += 1
            }
        }
        for j in 0..<n { offsets[j + 1] += offsets[j] }
        var cursor = offsets
        for e in 0..<edgeCount {
            let j = senders[e]
            edges[cursor[j]] = e
            cursor[j] += 1
        }
    }
}

extension TensorProductUVU {
    /// Backward from ∂L/∂m `[nodeCount][output.dimension]`:
    /// - **accumulates** ∂L/∂h into `gradFeatures` `[nodeCount][input.dimension]` (zero it first);
    /// - **writes** ∂L/∂Y into `gradSphericalHarmonics` `[E][(shLmax+1)²]` if given;
    /// - **writes** ∂L/∂w into `gradEdgeWeights` `[E][pathCount][C]` if given.
    /// Parallel over senders: each sender sums its own ∂L/∂h over its edges in increasing edge
    /// order, so the result is deterministic and independent of `threads`. Builds the graph's
    /// `SenderIndex` (O(N + E)); the overload taking one skips that.
    public func backward(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, gradOutput: UnsafePointer<Float>,
        gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?,
        threads: Int = ParallelFor.threadCount
    ) {
        guard channels % 8 == 0 else {
            backwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: receiverOffsets,
                              senders: senders, nodeCount: nodeCount, scale: scale, gradOutput: gradOutput,
                              gradFeatures: gradFeatures, gradSphericalHarmonics: gradSphericalHarmonics,
                              gradEdgeWeights: gradEdgeWeights)
            return
        }
        let index = SenderIndex(receiverOffsets: receiverOffsets, senders: senders, nodeCount: nodeCount)
        backward(features: h, sphericalHarmonics: y, edgeWeights: w, senderIndex: index, scale: scale,
                 gradOutput: gradOutput, gradFeatures: gradFeatures, gradSphericalHarmonics: gradSphericalHarmonics,
                 gradEdgeWeights: gradEdgeWeights, threads: threads)
    }

    /// The same backward on a graph given by its `SenderIndex` (built once per graph, e.g. once
    /// per snapshot for all layers): edge e is `senderIndex.edges[…]` with receiver
    /// `senderIndex.receivers[e]`; Y, w and their gradients are indexed by the same e as in the
    /// receiver-grouped layout the index was built from.
    public func backward(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, senderIndex index: SenderIndex,
        scale: Float, gradOutput: UnsafePointer<Float>,
        gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?,
        threads: Int = ParallelFor.threadCount
    ) {
        precondition(channels % 8 == 0, "TensorProductUVU.backward(senderIndex:): channels must be a multiple of 8 (got \(channels))")
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        let plan = senderContraction
        let nodeCount = index.nodeCount
        index.offsets.withUnsafeBufferPointer { senderOffsetsBuffer in
            index.edges.withUnsafeBufferPointer { bySenderBuffer in
                index.receivers.withUnsafeBufferPointer { receiverOfBuffer in
                    let senderOffsets = senderOffsetsBuffer.baseAddress!
                    let bySender = bySenderBuffer.baseAddress ?? UnsafePointer(bitPattern: 8)!
                    let receiverOf = receiverOfBuffer.baseAddress ?? UnsafePointer(bitPattern: 8)!
                    ParallelFor.ranges(nodeCount, threads: threads, weights: senderOffsets) { nodes in
                        let b = UnsafeMutablePointer<Float>.allocate(capacity: plan.pairCount * c)
                        let gb = UnsafeMutablePointer<Float>.allocate(capacity: plan.pairCount * c)
                        let yb = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: dY)
                        let gyAcc = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: dY)
                        defer { b.deallocate(); gb.deallocate(); yb.deallocate(); gyAcc.deallocate() }
                        for j in nodes {
                            let first = senderOffsets[j], last = senderOffsets[j + 1]
                            if first == last { continue }
                            Self.senderBackward(
                                plan: plan, channels: c, h: h + j * dIn, y: y, w: w, gradOutput: gradOutput,
                                edges: bySender + first, count: last - first, receiverOf: receiverOf,
                                dOut: dOut, dY: dY, wE: wE, scale: scale, b: b, gb: gb, yb: yb, gyAcc: gyAcc,
                                gradFeatures: gradFeatures + j * dIn, gradY: gradSphericalHarmonics,
                                gradW: gradEdgeWeights)
                        }
                    }
                }
            }
        }
    }

    /// The backward of one sender j (features `h` = h_j, its `count` edges `edges[0 ..< count]`):
    /// B_j, then edge by edge ∂L/∂w_e, ∂L/∂Y_e and ∂L/∂B_j, then ∂L/∂h_j += Cᵀ ∂L/∂B_j.
    /// `b`, `gb` (pairCount · C floats), `yb`, `gyAcc` (dY vectors) are the thread's scratch.
    @inline(__always)
    static func senderBackward(
        plan: SenderContractionPlan, channels c: Int, h: UnsafePointer<Float>, y: UnsafePointer<Float>,
        w: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, edges: UnsafePointer<Int>, count: Int,
        receiverOf: UnsafePointer<Int>, dOut: Int, dY: Int, wE: Int, scale: Float,
        b: UnsafeMutablePointer<Float>, gb: UnsafeMutablePointer<Float>,
        yb: UnsafeMutablePointer<SIMD8<Float>>, gyAcc: UnsafeMutablePointer<SIMD8<Float>>,
        gradFeatures gh: UnsafeMutablePointer<Float>, gradY: UnsafeMutablePointer<Float>?,
        gradW: UnsafeMutablePointer<Float>?
    ) {
        let (pathRows, rowPairs, rowOutput, pairHarmonic) = (plan.pathRows, plan.rowPairs, plan.rowOutput, plan.pairHarmonic)
        let (pairTerms, termFeature, termValue) = (plan.pairTerms, plan.termFeature, plan.termValue)
        let pairCount = plan.pairCount, pathCount = plan.pathCount
        // B_j, and ∂L/∂B_j = 0.
        for k in 0..<pairCount {
            let t0 = Int(pairTerms[k]), t1 = Int(pairTerms[k &+ 1])
            var u = 0
            while u < c {
                var s = SIMD8<Float>()
                for t in t0..<t1 { s += termValue[t] * load8(h + (Int(termFeature[t]) &+ u)) }
                store8(s, b + (k &* c &+ u))
                store8(SIMD8<Float>(), gb + (k &* c &+ u))
                u &+= 8
            }
        }
        // Edge by edge, in increasing edge order. The pair loop is written once per combination
        // of requested outputs (`wantY` a constant after inlining: no test in the inner loop).
        @inline(__always) func edgeLoop(wantY: Bool) {
            for n in 0..<count {
                let e = edges[n]
                let ge = gradOutput + receiverOf[e] &* dOut, we = w + e &* wE, ye = y + e &* dY
                for m in 0..<dY { yb[m] = SIMD8(repeating: scale * ye[m]) }
                if wantY { for m in 0..<dY { gyAcc[m] = SIMD8() } }
                var u = 0
                while u < c {  // 8 channels at a time: once for C = 8
                    for p in 0..<pathCount {
                        let wp = load8(we + (p &* c &+ u))
                        var gw = SIMD8<Float>()
                        for r in Int(pathRows[p])..<Int(pathRows[p &+ 1]) {
                            let g8 = load8(ge + (Int(rowOutput[r]) &+ u))
                            let wg = wp * g8
                            var t = SIMD8<Float>()
                            var k = Int(rowPairs[r])
                            let k1 = Int(rowPairs[r &+ 1])
                            while k < k1 {
                                let m = Int(pairHarmonic[k])
                                let yk = yb[m], bk = b + (k &* c &+ u), gk = gb + (k &* c &+ u)
                                let b8 = load8(bk)
                                t += yk * b8
                                store8(load8(gk) + yk * wg, gk)
                                if wantY { gyAcc[m] += wg * b8 }
                                k &+= 1
                            }
                            gw += g8 * t
                        }
                        if let gradW { store8(gw, gradW + (e &* wE &+ p &* c &+ u)) }
                    }
                    u &+= 8
                }
                if wantY, let gradY {
                    for m in 0..<dY { gradY[e &* dY &+ m] = scale * gyAcc[m].sum() }
                }
            }
        }
        if gradY != nil { edgeLoop(wantY: true) } else { edgeLoop(wantY: false) }
        // ∂L/∂h_j += Cᵀ ∂L/∂B_j.
        for k in 0..<pairCount {
            let t0 = Int(pairTerms[k]), t1 = Int(pairTerms[k &+ 1])
            var u = 0
            while u < c {
                let g8 = load8(gb + (k &* c &+ u))
                for t in t0..<t1 {
                    let target = gh + (Int(termFeature[t]) &+ u)
                    store8(load8(target) + termValue[t] * g8, target)
                }
                u &+= 8
            }
        }
    }
}
