import CBLAS

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
    /// Term t belongs to pair `termPair[t]` and reads the features at input.offset(l1) + m1·C
    /// with coefficient `termValue[t]`.
    let termPair: UnsafeMutablePointer<Int32>
    /// The terms that are not the first of their pair (70 of 611 for l ≤ 3).
    let extraTerms: UnsafeMutablePointer<Int32>, extraCount: Int
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
        var termPair = [Int32](repeating: 0, count: sorted.count)
        for k in 0..<(pairTerms.count - 1) { for t in Int(pairTerms[k])..<Int(pairTerms[k + 1]) { termPair[t] = Int32(k) } }
        self.termPair = copy(termPair)
        let extraTerms = (0..<sorted.count).filter { $0 != Int(pairTerms[Int(termPair[$0])]) }.map { Int32($0) }
        self.extraTerms = copy(extraTerms)
        extraCount = extraTerms.count
        termFeature = copy(sorted.map(\.featureOffset))
        termValue = copy(sorted.map(\.value))
    }

    deinit {
        for p in [pathRows, rowPairs, rowOutput, pairHarmonic, pairTerms, termPair, extraTerms, termFeature] { p.deallocate() }
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

    /// `[E]`: where each edge sits in the sender-grouped order (the inverse of `edges`). Per-edge
    /// results of the backward (∂L/∂w_e) stored at these rows are written one after the other.
    public var positions: [Int32] {
        var p = [Int32](repeating: 0, count: edgeCount)
        for (position, e) in edges.enumerated() { p[e] = Int32(position) }
        return p
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
        edgeWeights w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>? = nil,
        receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, gradOutput: UnsafePointer<Float>,
        gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?, gradWeightRows: UnsafePointer<Int32>? = nil,
        threads: Int = ParallelFor.threadCount
    ) {
        guard channels % 8 == 0 || weightRows != nil || gradWeightRows != nil else {
            backwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: receiverOffsets,
                              senders: senders, nodeCount: nodeCount, scale: scale, gradOutput: gradOutput,
                              gradFeatures: gradFeatures, gradSphericalHarmonics: gradSphericalHarmonics,
                              gradEdgeWeights: gradEdgeWeights)
            return
        }
        let index = SenderIndex(receiverOffsets: receiverOffsets, senders: senders, nodeCount: nodeCount)
        backward(features: h, sphericalHarmonics: y, edgeWeights: w, weightRows: weightRows, senderIndex: index, scale: scale,
                 gradOutput: gradOutput, gradFeatures: gradFeatures, gradSphericalHarmonics: gradSphericalHarmonics,
                 gradEdgeWeights: gradEdgeWeights, gradWeightRows: gradWeightRows, threads: threads)
    }

    /// The same backward on a graph given by its `SenderIndex` (built once per graph, e.g. once
    /// per snapshot for all layers): edge e is `senderIndex.edges[…]` with receiver
    /// `senderIndex.receivers[e]`; Y, w and their gradients are indexed by the same e as in the
    /// receiver-grouped layout the index was built from.
    ///
    /// `weightRows`: edge e reads row `weightRows[e]` of w; `gradWeightRows`: its ∂L/∂w goes to
    /// row `gradWeightRows[e]` of `gradEdgeWeights` (`EdgePairs`: a row per pair, a slot per
    /// edge); nil: row e.
    public func backward(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>? = nil, senderIndex index: SenderIndex,
        scale: Float, gradOutput: UnsafePointer<Float>,
        gradFeatures: UnsafeMutablePointer<Float>,
        gradSphericalHarmonics: UnsafeMutablePointer<Float>?,
        gradEdgeWeights: UnsafeMutablePointer<Float>?, gradWeightRows: UnsafePointer<Int32>? = nil,
        threads: Int = ParallelFor.threadCount
    ) {
        guard channels % 8 == 0 else {
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
            if let gradEdgeWeights {
                for q in 0..<e {
                    let row = gradWeightRows.map { Int($0[q]) } ?? q
                    for u in 0..<wE { gradEdgeWeights[row * wE + u] = gradPerEdge[q * wE + u] }
                }
            }
            return
        }
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
                        let scratch = SenderBackwardScratch(pairCount: plan.pairCount, channels: c, harmonicCount: dY,
                                                            zeroCount: max(dOut, wE))
                        defer { scratch.deallocate() }
                        for j in nodes {
                            let first = senderOffsets[j], last = senderOffsets[j + 1]
                            if first == last { continue }
                            Self.senderBackward(
                                plan: plan, channels: c, h: h + j * dIn, y: y, w: w, weightRows: weightRows,
                                gradWeightRows: gradWeightRows, gradOutput: gradOutput,
                                edges: bySender + first, count: last - first, receiverOf: receiverOf,
                                dOut: dOut, dY: dY, wE: wE, scale: scale, scratch: scratch,
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
    /// `scratch` is the thread's.
    @inline(__always)
    static func senderBackward(
        plan: SenderContractionPlan, channels c: Int, h: UnsafePointer<Float>, y: UnsafePointer<Float>,
        w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>?, gradWeightRows: UnsafePointer<Int32>?,
        gradOutput: UnsafePointer<Float>, edges: UnsafePointer<Int>, count: Int,
        receiverOf: UnsafePointer<Int>, dOut: Int, dY: Int, wE: Int, scale: Float,
        scratch: SenderBackwardScratch,
        gradFeatures gh: UnsafeMutablePointer<Float>, gradY: UnsafeMutablePointer<Float>?,
        gradW: UnsafeMutablePointer<Float>?
    ) {
        let (pathRows, rowPairs, rowOutput, pairHarmonic) = (plan.pathRows, plan.rowPairs, plan.rowOutput, plan.pairHarmonic)
        let (pairTerms, termPair, termFeature, termValue) = (plan.pairTerms, plan.termPair, plan.termFeature, plan.termValue)
        let pairCount = plan.pairCount, pathCount = plan.pathCount, termCount = plan.termCount
        let (extraTerms, extraCount) = (plan.extraTerms, plan.extraCount)
        let (b, gb, yb, gyAcc, zeros) = (scratch.b, scratch.gb, scratch.yb, scratch.gyAcc, UnsafePointer(scratch.zeros))
        let (eq, gwq, geq, weq) = (scratch.edges, scratch.gradWeightOffsets, scratch.gradOutputs, scratch.weights)
        // The rows w_e and ∂L/∂w_e of j's edges are scattered over E × pathCount·C arrays (tens
        // of MB): fetch each group's rows one group ahead (the first while B_j is formed).
        @inline(__always) func weightRow(_ e: Int) -> Int { weightRows.map { Int($0[e]) } ?? e }
        @inline(__always) func gradWeightRow(_ e: Int) -> Int { gradWeightRows.map { Int($0[e]) } ?? e }
        @inline(__always) func prefetchRows(from n: Int) {
            var q = n
            while q < min(n &+ 4, count) {
                let e = edges[q]
                equiglass_prefetch(w + weightRow(e) &* wE, wE &* 4, 0)
                if let gradW { equiglass_prefetch(gradW + gradWeightRow(e) &* wE, wE &* 4, 1) }
                q &+= 1
            }
        }
        prefetchRows(from: 0)
        // B_j = C·h_j in two straight loops, the first term of every pair, then the second
        // terms (a loop over each pair's terms cost ~50 instructions of overhead per pair,
        // most pairs having one term); and ∂L/∂B_j = 0.
        for k in 0..<pairCount {
            let t = Int(pairTerms[k])
            let bk = b + k &* c, gk = gb + k &* c, ht = h + Int(termFeature[t]), v = termValue[t]
            var u = 0
            while u < c {
                store8(v * load8(ht + u), bk + u)
                store8(SIMD8(), gk + u)
                u &+= 8
            }
        }
        for x in 0..<extraCount {
            let t = Int(extraTerms[x])
            let bk = b + Int(termPair[t]) &* c, ht = h + Int(termFeature[t]), v = termValue[t]
            var u = 0
            while u < c {
                store8(load8(bk + u) + v * load8(ht + u), bk + u)
                u &+= 8
            }
        }
        // Four edges at a time, in increasing edge order (the last group padded with edges of
        // zero harmonics, weights and ∂L/∂m, which add exact zeros), `Lanes` channels per
        // register (4 with SSE, 8 with AVX): B_j[k] and ∂L/∂B_j[k] are loaded and stored once
        // for the four edges, and every operand of the pair loop stays in a register. The pair loop is written once per
        // combination of requested outputs (`wantY` a constant after inlining).
        @inline(__always) func edgeLoop(wantY: Bool) {
            var n = 0
            while n < count {
                prefetchRows(from: n &+ 4)
                let live = min(4, count &- n)
                for q in 0..<4 {
                    if q < live {
                        let e = edges[n &+ q]
                        eq[q] = e
                        gwq[q] = gradWeightRow(e) &* wE
                        geq[q] = gradOutput + receiverOf[e] &* dOut
                        weq[q] = w + weightRow(e) &* wE
                        let ye = y + e &* dY
                        for m in 0..<dY { yb[4 &* m &+ q] = Lanes(repeating: scale * ye[m]) }
                    } else {
                        geq[q] = zeros
                        weq[q] = zeros
                        for m in 0..<dY { yb[4 &* m &+ q] = Lanes() }
                    }
                }
                if wantY { gyAcc.update(repeating: Lanes(), count: 4 * dY) }
                let (ge0, ge1, ge2, ge3) = (geq[0], geq[1], geq[2], geq[3])
                let (we0, we1, we2, we3) = (weq[0], weq[1], weq[2], weq[3])
                var u = 0
                while u < c {  // `Lanes` channels at a time
                    for p in 0..<pathCount {
                        let wOffset = p &* c &+ u
                        let w0 = we0 + wOffset, w1 = we1 + wOffset, w2 = we2 + wOffset, w3 = we3 + wOffset
                        var gw0 = Lanes(), gw1 = Lanes(), gw2 = Lanes(), gw3 = Lanes()
                        for r in Int(pathRows[p])..<Int(pathRows[p &+ 1]) {
                            // w_e and g_i are read again where needed, not held: the 12 sums
                            // (wg, t, gw) then stay in the 16 vector registers with the pair
                            // loop's operands (no spills).
                            let gOffset = Int(rowOutput[r]) &+ u
                            let g0 = ge0 + gOffset, g1 = ge1 + gOffset, g2 = ge2 + gOffset, g3 = ge3 + gOffset
                            let wg0 = loadLanes(w0) * loadLanes(g0), wg1 = loadLanes(w1) * loadLanes(g1)
                            let wg2 = loadLanes(w2) * loadLanes(g2), wg3 = loadLanes(w3) * loadLanes(g3)
                            var t0 = Lanes(), t1 = Lanes(), t2 = Lanes(), t3 = Lanes()
                            var k = Int(rowPairs[r])
                            let k1 = Int(rowPairs[r &+ 1])
                            while k < k1 {
                                let m = Int(pairHarmonic[k])
                                let yk = yb + 4 &* m, bk = b + (k &* c &+ u), gk = gb + (k &* c &+ u)
                                let bv = loadLanes(bk)
                                let y0 = yk[0], y1 = yk[1], y2 = yk[2], y3 = yk[3]
                                t0 = multiplyAdd(t0, y0, bv); t1 = multiplyAdd(t1, y1, bv)
                                t2 = multiplyAdd(t2, y2, bv); t3 = multiplyAdd(t3, y3, bv)
                                var gbk = multiplyAdd(loadLanes(gk), y0, wg0)
                                gbk = multiplyAdd(gbk, y1, wg1); gbk = multiplyAdd(gbk, y2, wg2)
                                storeLanes(multiplyAdd(gbk, y3, wg3), gk)
                                if wantY {
                                    let gy = gyAcc + 4 &* m
                                    gy[0] = multiplyAdd(gy[0], wg0, bv); gy[1] = multiplyAdd(gy[1], wg1, bv)
                                    gy[2] = multiplyAdd(gy[2], wg2, bv); gy[3] = multiplyAdd(gy[3], wg3, bv)
                                }
                                k &+= 1
                            }
                            gw0 = multiplyAdd(gw0, loadLanes(g0), t0); gw1 = multiplyAdd(gw1, loadLanes(g1), t1)
                            gw2 = multiplyAdd(gw2, loadLanes(g2), t2); gw3 = multiplyAdd(gw3, loadLanes(g3), t3)
                        }
                        if let gradW {
                            storeLanes(gw0, gradW + (gwq[0] &+ wOffset))
                            if live > 1 { storeLanes(gw1, gradW + (gwq[1] &+ wOffset)) }
                            if live > 2 { storeLanes(gw2, gradW + (gwq[2] &+ wOffset)) }
                            if live > 3 { storeLanes(gw3, gradW + (gwq[3] &+ wOffset)) }
                        }
                    }
                    u &+= Lanes.scalarCount
                }
                if wantY, let gradY {
                    for q in 0..<live {
                        for m in 0..<dY { gradY[eq[q] &* dY &+ m] = scale * gyAcc[4 &* m &+ q].sum() }
                    }
                }
                n &+= 4
            }
        }
        if gradY != nil { edgeLoop(wantY: true) } else { edgeLoop(wantY: false) }
        // ∂L/∂h_j += Cᵀ ∂L/∂B_j, term by term (pairs in order, each pair's terms in order).
        for t in 0..<termCount {
            let gbk = gb + Int(termPair[t]) &* c, target = gh + Int(termFeature[t]), v = termValue[t]
            var u = 0
            while u < c {
                store8(load8(target + u) + v * load8(gbk + u), target + u)
                u &+= 8
            }
        }
    }
}

/// One thread's scratch for the sender-grouped backward.
struct SenderBackwardScratch {
    /// B_j and ∂L/∂B_j, `[pairCount][C]` each.
    let b: UnsafeMutablePointer<Float>, gb: UnsafeMutablePointer<Float>
    /// scale · Y_e[m] of the four edges of a group, broadcast: `yb[4m + q]` for edge q; and
    /// their ∂L/∂Y sums per lane, same layout.
    let yb: UnsafeMutablePointer<Lanes>, gyAcc: UnsafeMutablePointer<Lanes>
    /// The group's edges, where their ∂L/∂w rows start, their ∂L/∂m rows and weights (`zeros`
    /// for padding).
    let edges: UnsafeMutablePointer<Int>, gradWeightOffsets: UnsafeMutablePointer<Int>
    let gradOutputs: UnsafeMutablePointer<UnsafePointer<Float>>, weights: UnsafeMutablePointer<UnsafePointer<Float>>
    let zeros: UnsafeMutablePointer<Float>

    init(pairCount: Int, channels c: Int, harmonicCount dY: Int, zeroCount: Int) {
        b = .allocate(capacity: pairCount * c)
        gb = .allocate(capacity: pairCount * c)
        yb = .allocate(capacity: 4 * dY)
        gyAcc = .allocate(capacity: 4 * dY)
        edges = .allocate(capacity: 4)
        gradWeightOffsets = .allocate(capacity: 4)
        gradOutputs = .allocate(capacity: 4)
        weights = .allocate(capacity: 4)
        zeros = .allocate(capacity: zeroCount)
        zeros.initialize(repeating: 0, count: zeroCount)
    }

    func deallocate() {
        b.deallocate(); gb.deallocate(); yb.deallocate(); gyAcc.deallocate()
        edges.deallocate(); gradWeightOffsets.deallocate(); gradOutputs.deallocate(); weights.deallocate(); zeros.deallocate()
    }
}
