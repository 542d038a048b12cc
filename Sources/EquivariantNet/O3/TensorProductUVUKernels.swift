import CBLAS

// The fast kernels of `TensorProductUVU` (C a multiple of 8), forward and backward side by side,
// each after the index plan it walks: the couplings regrouped so that the Clebsch–Gordan table
// is contracted once with what is shared (the forward: a batch of edges' harmonics; the
// backward, edges grouped by sender: the sender's features), and the per-channel work is SIMD
// over 8 channels. Forward is parallel over receivers, backward over senders (`ParallelFor`);
// each output number is summed by one owner in a fixed order, so results are bitwise
// independent of the thread count (docs/model.md: the tensor product).
// (Wrapping index arithmetic `&+`, `&*`: the sizes are small and checked when the plans are built.)

/// A heap copy of `a` (at least one element), owned by a plan and freed in its `deinit`.
private func heapCopy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
    p.initialize(from: a, count: a.count)
    return p
}

// MARK: - forward

/// The couplings of a `TensorProductUVU`, regrouped for its fast forward kernel.
///
/// Per edge, the Clebsch–Gordan table is first contracted with the edge's harmonics into one
/// number per **pair** (path p, m1, m3):
///
///     a[k] = Σ_{terms t of k} value_t · Y_e[harmonic_t]      (value = √α C[m1, m2, m3])
///
/// and the pairs are grouped into **rows** (path p, m3): row r reads the pairs
/// `rowStart ..< rowEnd`, multiplies their sum Σ_k a[k] h_j[feature_k + u] by the weights at
/// `rowWeight + u` and adds it to the output at `rowOutput + u`.
///
/// Sizes for C channels, l ≤ 3 everywhere: 611 terms, 541 pairs, 156 rows — per channel, 541
/// multiply-adds plus 156 weight products per edge instead of 611 three-operand couplings, and
/// the 611 harmonic products are done once per edge, not once per channel. 471 pairs have one
/// term, the rest two; a pair's first term is stored with the pair (`pairHarmonic`,
/// `pairValue`), the 70 second terms in a short list (`extra…`), so the contraction is two
/// straight loops with no per-pair inner loop.
///
/// Storage is allocated once and owned by this object (the kernels read raw pointers, no array
/// access in the inner loops); it is immutable after `init`, hence safe to share across threads.
final class ContractionPlan: @unchecked Sendable {
    let termCount: Int, pairCount: Int, rowCount: Int, extraCount: Int
    /// The first term of pair k.
    let pairHarmonic: UnsafeMutablePointer<Int32>
    let pairValue: UnsafeMutablePointer<Float>
    /// The other terms: term x adds `extraValue[x] · Y[extraHarmonic[x]]` to pair `extraPair[x]`.
    let extraPair: UnsafeMutablePointer<Int32>
    let extraHarmonic: UnsafeMutablePointer<Int32>
    let extraValue: UnsafeMutablePointer<Float>
    /// Where pair k reads the features: input.offset(l1) + m1 · C.
    let pairFeature: UnsafeMutablePointer<Int32>
    /// Row r is `rows[4r ..< 4r+4]` = (first pair, end of its pairs, output offset
    /// output.offset(l3) + m3·C, weight offset p·C): one cache line holds four rows.
    let rows: UnsafeMutablePointer<Int32>

    init(couplings: [TensorProductUVU.Coupling]) {
        // Sort by row (path, m3), then pair (m1), then term (m2).
        let sorted = couplings.sorted {
            ($0.weightOffset, $0.outputOffset, $0.featureOffset, $0.shIndex)
                < ($1.weightOffset, $1.outputOffset, $1.featureOffset, $1.shIndex)
        }
        var firstTerms: [Int] = [], pairFeature: [Int32] = [], rows: [Int32] = []
        var extraPair: [Int32] = [], extraHarmonic: [Int32] = [], extraValue: [Float] = []
        for (t, k) in sorted.enumerated() {
            let newRow = t == 0 || k.weightOffset != sorted[t - 1].weightOffset || k.outputOffset != sorted[t - 1].outputOffset
            if newRow {
                if !rows.isEmpty { rows[rows.count - 3] = Int32(pairFeature.count) }
                rows += [Int32(pairFeature.count), 0, k.outputOffset, k.weightOffset]
            }
            if newRow || k.featureOffset != sorted[t - 1].featureOffset {
                firstTerms.append(t)
                pairFeature.append(k.featureOffset)
            } else {
                extraPair.append(Int32(pairFeature.count - 1))
                extraHarmonic.append(k.shIndex)
                extraValue.append(k.value)
            }
        }
        if !rows.isEmpty { rows[rows.count - 3] = Int32(pairFeature.count) }
        termCount = sorted.count
        pairCount = pairFeature.count
        rowCount = rows.count / 4
        extraCount = extraPair.count
        pairHarmonic = heapCopy(firstTerms.map { sorted[$0].shIndex })
        pairValue = heapCopy(firstTerms.map { sorted[$0].value })
        self.extraPair = heapCopy(extraPair)
        self.extraHarmonic = heapCopy(extraHarmonic)
        self.extraValue = heapCopy(extraValue)
        self.pairFeature = heapCopy(pairFeature)
        self.rows = heapCopy(rows)
    }

    deinit {
        for p in [pairHarmonic, extraPair, extraHarmonic, pairFeature, rows] { p.deallocate() }
        for p in [pairValue, extraValue] { p.deallocate() }
    }

    /// The edges handled together by `contract`: one SIMD lane each.
    static let batch = 8

    /// a[k] for the `count` ≤ 8 consecutive edges whose harmonics start at `y` (`dY` per edge):
    /// lane q of `a[8k ..< 8k+8]` for edge q; unused lanes get 0. `yt` is scratch of 8·dY floats.
    @inline(__always)
    func contract(harmonics y: UnsafePointer<Float>, harmonicCount dY: Int, count: Int,
                  transposed yt: UnsafeMutablePointer<Float>, into a: UnsafeMutablePointer<Float>) {
        // Y transposed to [dY][8 edges], so that one term is one SIMD multiply(-add).
        for q in 0..<8 {
            if q < count {
                let ye = y + q &* dY
                for m in 0..<dY { yt[8 &* m &+ q] = ye[m] }
            } else {
                for m in 0..<dY { yt[8 &* m &+ q] = 0 }
            }
        }
        for k in 0..<pairCount {
            store8(pairValue[k] * load8(yt + 8 &* Int(pairHarmonic[k])), a + 8 &* k)
        }
        for x in 0..<extraCount {
            let ak = a + 8 &* Int(extraPair[x])
            store8(load8(ak) + extraValue[x] * load8(yt + 8 &* Int(extraHarmonic[x])), ak)
        }
    }

    /// o[row, :] += Σ_q w_q[row's weights] ⊙ Σ_{pairs k of row} a[8k + q] h_q[pair's features]
    /// for the `padded` (a multiple of 4) edges of one batch, every row, all `c` channels: four
    /// edges at a time, row by row, each row's sum over its pairs held in a register — a fixed
    /// order of additions into m_i whatever the thread count. The four edges' pointers stay in
    /// registers for all rows.
    @inline(__always)
    func sweep(_ a: UnsafePointer<Float>, features hq: UnsafePointer<UnsafePointer<Float>>,
               weights wq: UnsafePointer<UnsafePointer<Float>>, padded: Int, channels c: Int,
               into o: UnsafeMutablePointer<Float>) {
        let (rowCount, rows, pairFeature, batch) = (rowCount, rows, pairFeature, Self.batch)
        var u = 0
        while u < c {  // 8 channels at a time: once for C = 8
            var q = 0
            while q < padded {  // four edges per sweep over the rows
                let h0 = hq[q] + u, h1 = hq[q &+ 1] + u, h2 = hq[q &+ 2] + u, h3 = hq[q &+ 3] + u
                let w0 = wq[q] + u, w1 = wq[q &+ 1] + u, w2 = wq[q &+ 2] + u, w3 = wq[q &+ 3] + u
                let aq = a + q
                for r in 0..<rowCount {
                    let row = rows + 4 &* r
                    let k0 = Int(row[0]), k1 = Int(row[1])
                    let ob = o + (Int(row[2]) &+ u), weightOffset = Int(row[3])
                    // `Channels8`: one AVX register, or two SSE halves (see `addWeightedRowSums`).
                    var t0 = Channels8(), t1 = Channels8(), t2 = Channels8(), t3 = Channels8()
                    var k = k0
                    while k < k1 {
                        let p = Int(pairFeature[k]), ak = aq + k &* batch
                        t0.add(ak[0], times: h0 + p); t1.add(ak[1], times: h1 + p)
                        t2.add(ak[2], times: h2 + p); t3.add(ak[3], times: h3 + p)
                        k &+= 1
                    }
                    addWeightedRowSums(into: ob, w0 + weightOffset, w1 + weightOffset, w2 + weightOffset, w3 + weightOffset,
                                       t0, t1, t2, t3)
                }
                q &+= 4
            }
            u &+= 8
        }
    }
}

/// m_i[row, 8 channels at `ob`] += (Σ_{q < 4} w_q[0 ..< 8] ⊙ t_q, summed in the order q = 0, 1, 2, 3).
///
/// SSE2: not inlined on purpose: inlined into the sweep loop, the compiler (Swift 6.3) rewrote
/// these products into two-lane pieces with ~30 extra shuffles per call (measured with
/// callgrind and in the assembly); as a call it is plain loads, multiplies, adds and stores.
/// AVX2: inlined (4 FMAs; a call would split each 8-lane argument into two halves).
#if EQUIGLASS_AVX2
@inline(__always)
#else
@inline(never)
#endif
func addWeightedRowSums(into ob: UnsafeMutablePointer<Float>,
                        _ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>, _ w3: UnsafePointer<Float>,
                        _ t0: Channels8, _ t1: Channels8, _ t2: Channels8, _ t3: Channels8) {
    // The four products summed first, then added to m_i: one add, not four, waits for the
    // previous update of this row of m_i (a shorter dependency chain through memory).
    var sum = Channels8(w0, times: t0)
    sum.add(w1, times: t1)
    sum.add(w2, times: t2)
    sum.add(w3, times: t3)
    sum.add(to: ob)
}

extension TensorProductUVU {
    /// Messages m `[nodeCount][output.dimension]` (overwritten), computed by the fast kernel on
    /// `threads` threads, parallel over receivers (the reference loops for C not a multiple of 8).
    ///
    /// `weightRows`: edge e reads row `weightRows[e]` of w (`EdgePairs.rowOfEdge`: both edges of
    /// a pair share one row); nil: row e.
    public func forward(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, weightRows: UnsafePointer<Int32>? = nil,
        receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, output out: UnsafeMutablePointer<Float>,
        threads: Int = ParallelFor.threadCount
    ) {
        guard channels % 8 == 0 else {
            forwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, weightRows: weightRows,
                             receiverOffsets: receiverOffsets, senders: senders, nodeCount: nodeCount, scale: scale,
                             output: out)
            return
        }
        let (dIn, dOut, dY, wE) = (input.dimension, output.dimension, shDimension, weightsPerEdge)
        let plan = contraction
        let batch = ContractionPlan.batch
        let edgeCount = receiverOffsets[nodeCount]
        @inline(__always) func row(_ e: Int) -> Int { weightRows.map { Int($0[e]) } ?? e }
        ParallelFor.ranges(nodeCount, threads: threads, weights: receiverOffsets) { nodes in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: batch * plan.pairCount)
            let yt = UnsafeMutablePointer<Float>.allocate(capacity: batch * dY)
            let hq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
            let wq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
            // The padding edges of a batch (up to a multiple of 4) read zero features and
            // weights and have a = 0: they add exact zeros.
            let zeros = UnsafeMutablePointer<Float>.allocate(capacity: max(dIn, wE))
            zeros.initialize(repeating: 0, count: max(dIn, wE))
            defer { a.deallocate(); yt.deallocate(); hq.deallocate(); wq.deallocate(); zeros.deallocate() }
            for i in nodes {
                let o = out + i * dOut
                o.update(repeating: 0, count: dOut)
                var first = receiverOffsets[i]
                let last = receiverOffsets[i + 1]
                while first < last {
                    let count = min(batch, last - first)
                    // The next batch's weight rows (8.7 KB of w, from memory: the hardware
                    // prefetcher alone left the weight loads waiting, ~1/3 of the time).
                    for e in (first + count)..<min(first + count + batch, edgeCount) {
                        equiglass_prefetch(w + row(e) * wE, wE * 4, 0)
                    }
                    plan.contract(harmonics: y + first * dY, harmonicCount: dY, count: count, transposed: yt, into: a)
                    let padded = (count + 3) & ~3
                    for q in 0..<padded {
                        hq[q] = q < count ? h + senders[first + q] * dIn : UnsafePointer(zeros)
                        wq[q] = q < count ? w + row(first + q) * wE : UnsafePointer(zeros)
                    }
                    plan.sweep(a, features: hq, weights: wq, padded: padded, channels: channels, into: o)
                    first += count
                }
                // The edge sum times `scale`, once per receiver (as the reference loops).
                if scale != 1 {
                    var k = 0
                    while k < dOut { store8(scale * load8(o + k), o + k); k &+= 8 }
                }
            }
        }
    }
}

// MARK: - backward

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
        self.pathRows = heapCopy(pathRows)
        self.rowPairs = heapCopy(rowPairs)
        self.rowOutput = heapCopy(rowOutput)
        self.pairHarmonic = heapCopy(pairHarmonic)
        self.pairTerms = heapCopy(pairTerms)
        var termPair = [Int32](repeating: 0, count: sorted.count)
        for k in 0..<(pairTerms.count - 1) { for t in Int(pairTerms[k])..<Int(pairTerms[k + 1]) { termPair[t] = Int32(k) } }
        self.termPair = heapCopy(termPair)
        let extraTerms = (0..<sorted.count).filter { $0 != Int(pairTerms[Int(termPair[$0])]) }.map { Int32($0) }
        self.extraTerms = heapCopy(extraTerms)
        extraCount = extraTerms.count
        termFeature = heapCopy(sorted.map(\.featureOffset))
        termValue = heapCopy(sorted.map(\.value))
    }

    deinit {
        for p in [pathRows, rowPairs, rowOutput, pairHarmonic, pairTerms, termPair, extraTerms, termFeature] { p.deallocate() }
        termValue.deallocate()
    }

    /// B_j = C·h_j (`b`, `[pairCount][c]`) in two straight loops, the first term of every pair,
    /// then the second terms (a loop over each pair's terms cost ~50 instructions of overhead
    /// per pair, most pairs having one term); and ∂L/∂B_j (`gb`) = 0.
    @inline(__always)
    func contract(features h: UnsafePointer<Float>, channels c: Int, into b: UnsafeMutablePointer<Float>,
                  zeroing gb: UnsafeMutablePointer<Float>) {
        let (pairTerms, termPair, termFeature, termValue) = (pairTerms, termPair, termFeature, termValue)
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
    }

    /// ∂L/∂h_j (`gh`) += Cᵀ ∂L/∂B_j (`gb`), term by term (pairs in order, each pair's terms in order).
    @inline(__always)
    func accumulateFeatureGradient(_ gb: UnsafePointer<Float>, channels c: Int, into gh: UnsafeMutablePointer<Float>) {
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
            backwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, weightRows: weightRows, senderIndex: index,
                              scale: scale, gradOutput: gradOutput, gradFeatures: gradFeatures,
                              gradSphericalHarmonics: gradSphericalHarmonics, gradEdgeWeights: gradEdgeWeights,
                              gradWeightRows: gradWeightRows)
            return
        }
        let pass = SenderBackwardPass(
            plan: senderContraction, channels: channels, dOut: output.dimension, dY: shDimension, wE: weightsPerEdge,
            scale: scale, y: y, w: w, weightRows: weightRows, gradWeightRows: gradWeightRows, gradOutput: gradOutput,
            gradW: gradEdgeWeights, gradY: gradSphericalHarmonics)
        pass.run(features: h, featureWidth: input.dimension, senderOffsets: index.offsets, bySender: index.edges,
                 receiverOf: index.receivers, nodeCount: index.nodeCount, gradFeatures: gradFeatures, threads: threads)
    }
}

/// One call of the sender-grouped backward: its operands (all senders share them) and, per
/// sender j, B_j, then edge by edge ∂L/∂w_e, ∂L/∂Y_e and ∂L/∂B_j, then ∂L/∂h_j += Cᵀ ∂L/∂B_j.
struct SenderBackwardPass {
    let plan: SenderContractionPlan
    let channels: Int, dOut: Int, dY: Int, wE: Int, scale: Float
    let y: UnsafePointer<Float>, w: UnsafePointer<Float>
    let weightRows: UnsafePointer<Int32>?, gradWeightRows: UnsafePointer<Int32>?
    let gradOutput: UnsafePointer<Float>
    let gradW: UnsafeMutablePointer<Float>?, gradY: UnsafeMutablePointer<Float>?

    @inline(__always) func weightRow(_ e: Int) -> Int { weightRows.map { Int($0[e]) } ?? e }
    @inline(__always) func gradWeightRow(_ e: Int) -> Int { gradWeightRows.map { Int($0[e]) } ?? e }

    /// Every sender of `senderOffsets` (sender j's edges are `bySender[senderOffsets[j] ..<
    /// senderOffsets[j+1]]`, with receivers `receiverOf[e]`), parallel over senders.
    func run(features h: UnsafePointer<Float>, featureWidth dIn: Int, senderOffsets: UnsafePointer<Int>,
             bySender: UnsafePointer<Int>, receiverOf: UnsafePointer<Int>, nodeCount: Int,
             gradFeatures: UnsafeMutablePointer<Float>, threads: Int) {
        ParallelFor.ranges(nodeCount, threads: threads, weights: senderOffsets) { nodes in
            let scratch = SenderBackwardScratch(pairCount: plan.pairCount, channels: channels, harmonicCount: dY,
                                                zeroCount: max(dOut, wE))
            defer { scratch.deallocate() }
            for j in nodes {
                let first = senderOffsets[j], last = senderOffsets[j + 1]
                if first == last { continue }
                sender(features: h + j * dIn, edges: bySender + first, count: last - first, receiverOf: receiverOf,
                       scratch: scratch, gradFeatures: gradFeatures + j * dIn)
            }
        }
    }

    /// The backward of one sender j (features `h` = h_j, its `count` edges `edges[0 ..< count]`);
    /// `scratch` is the thread's.
    @inline(__always)
    func sender(features h: UnsafePointer<Float>, edges: UnsafePointer<Int>, count: Int, receiverOf: UnsafePointer<Int>,
                scratch: SenderBackwardScratch, gradFeatures gh: UnsafeMutablePointer<Float>) {
        prefetchRows(edges, from: 0, count: count)
        plan.contract(features: h, channels: channels, into: scratch.b, zeroing: scratch.gb)
        // Four edges at a time, in increasing edge order (the last group padded with edges of
        // zero harmonics, weights and ∂L/∂m, which add exact zeros). The group's loops are
        // written once per combination of requested outputs (`wantY` a constant after inlining).
        @inline(__always) func edgeLoop(wantY: Bool) {
            var n = 0
            while n < count {
                prefetchRows(edges, from: n &+ 4, count: count)
                let live = min(4, count &- n)
                loadGroup(edges + n, live: live, receiverOf: receiverOf, scratch: scratch)
                if wantY { scratch.gyAcc.update(repeating: Lanes(), count: 4 * dY) }
                group(live: live, wantY: wantY, scratch: scratch)
                if wantY, let gradY {
                    let (eq, gyAcc) = (scratch.edges, scratch.gyAcc)
                    for q in 0..<live {
                        for m in 0..<dY { gradY[eq[q] &* dY &+ m] = scale * gyAcc[4 &* m &+ q].sum() }
                    }
                }
                n &+= 4
            }
        }
        if gradY != nil { edgeLoop(wantY: true) } else { edgeLoop(wantY: false) }
        plan.accumulateFeatureGradient(scratch.gb, channels: channels, into: gh)
    }

    /// The rows w_e and ∂L/∂w_e of j's edges are scattered over E × pathCount·C arrays (tens of
    /// MB): each group's rows are fetched one group ahead (the first while B_j is formed).
    @inline(__always)
    func prefetchRows(_ edges: UnsafePointer<Int>, from n: Int, count: Int) {
        var q = n
        while q < min(n &+ 4, count) {
            let e = edges[q]
            equiglass_prefetch(w + weightRow(e) &* wE, wE &* 4, 0)
            if let gradW { equiglass_prefetch(gradW + gradWeightRow(e) &* wE, wE &* 4, 1) }
            q &+= 1
        }
    }

    /// The group's edges, their ∂L/∂w rows, ∂L/∂m rows, weight rows and broadcast scale · Y_e
    /// into `scratch` (zeros for the padding edges q ≥ `live`).
    @inline(__always)
    func loadGroup(_ edges: UnsafePointer<Int>, live: Int, receiverOf: UnsafePointer<Int>, scratch: SenderBackwardScratch) {
        let (eq, gwq, geq, weq, yb) = (scratch.edges, scratch.gradWeightOffsets, scratch.gradOutputs, scratch.weights, scratch.yb)
        for q in 0..<4 {
            if q < live {
                let e = edges[q]
                eq[q] = e
                gwq[q] = gradWeightRow(e) &* wE
                geq[q] = gradOutput + receiverOf[e] &* dOut
                weq[q] = w + weightRow(e) &* wE
                let ye = y + e &* dY
                for m in 0..<dY { yb[4 &* m &+ q] = Lanes(repeating: scale * ye[m]) }
            } else {
                geq[q] = UnsafePointer(scratch.zeros)
                weq[q] = UnsafePointer(scratch.zeros)
                for m in 0..<dY { yb[4 &* m &+ q] = Lanes() }
            }
        }
    }

    /// One group of four edges, `Lanes` channels per register (4 with SSE, 8 with AVX): ∂L/∂w_e
    /// stored, ∂L/∂B_j and (`wantY`) the ∂L/∂Y_e sums accumulated. B_j[k] and ∂L/∂B_j[k] are
    /// loaded and stored once for the four edges, and every operand of the pair loop stays in a
    /// register. (The hot loop of the backward: one function so that nothing spills.)
    @inline(__always)
    func group(live: Int, wantY: Bool, scratch: SenderBackwardScratch) {
        let (pathRows, rowPairs, rowOutput, pairHarmonic) = (plan.pathRows, plan.rowPairs, plan.rowOutput, plan.pairHarmonic)
        let (b, gb, yb, gyAcc, gwq, c) = (scratch.b, scratch.gb, scratch.yb, scratch.gyAcc, scratch.gradWeightOffsets, channels)
        let (ge0, ge1, ge2, ge3) = (scratch.gradOutputs[0], scratch.gradOutputs[1], scratch.gradOutputs[2], scratch.gradOutputs[3])
        let (we0, we1, we2, we3) = (scratch.weights[0], scratch.weights[1], scratch.weights[2], scratch.weights[3])
        var u = 0
        while u < c {  // `Lanes` channels at a time
            for p in 0..<plan.pathCount {
                let wOffset = p &* c &+ u
                let w0 = we0 + wOffset, w1 = we1 + wOffset, w2 = we2 + wOffset, w3 = we3 + wOffset
                var gw0 = Lanes(), gw1 = Lanes(), gw2 = Lanes(), gw3 = Lanes()
                for r in Int(pathRows[p])..<Int(pathRows[p &+ 1]) {
                    // w_e and g_i are read again where needed, not held: the 12 sums (wg, t, gw)
                    // then stay in the 16 vector registers with the pair loop's operands (no spills).
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
