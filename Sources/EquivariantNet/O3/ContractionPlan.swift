import CBLAS

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
    /// Terms of pair k: `termStarts[k] ..< termStarts[k+1]`, each a harmonic index and a value
    /// (the plan's full content, kept for the tests; the kernel reads the split form below).
    let termStarts: UnsafeMutablePointer<Int32>
    let termHarmonic: UnsafeMutablePointer<Int32>
    let termValue: UnsafeMutablePointer<Float>
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
        var termStarts: [Int32] = [], pairFeature: [Int32] = [], rows: [Int32] = []
        var extraPair: [Int32] = [], extraHarmonic: [Int32] = [], extraValue: [Float] = []
        for (t, k) in sorted.enumerated() {
            let newRow = t == 0 || k.weightOffset != sorted[t - 1].weightOffset || k.outputOffset != sorted[t - 1].outputOffset
            if newRow {
                if !rows.isEmpty { rows[rows.count - 3] = Int32(pairFeature.count) }
                rows += [Int32(pairFeature.count), 0, k.outputOffset, k.weightOffset]
            }
            if newRow || k.featureOffset != sorted[t - 1].featureOffset {
                termStarts.append(Int32(t))
                pairFeature.append(k.featureOffset)
            } else {
                extraPair.append(Int32(pairFeature.count - 1))
                extraHarmonic.append(k.shIndex)
                extraValue.append(k.value)
            }
        }
        if !rows.isEmpty { rows[rows.count - 3] = Int32(pairFeature.count) }
        termStarts.append(Int32(sorted.count))
        termCount = sorted.count
        pairCount = pairFeature.count
        rowCount = rows.count / 4
        extraCount = extraPair.count
        let first = termStarts.dropLast().map { Int($0) }

        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        self.termStarts = copy(termStarts)
        termHarmonic = copy(sorted.map(\.shIndex))
        termValue = copy(sorted.map(\.value))
        pairHarmonic = copy(first.map { sorted[$0].shIndex })
        pairValue = copy(first.map { sorted[$0].value })
        self.extraPair = copy(extraPair)
        self.extraHarmonic = copy(extraHarmonic)
        self.extraValue = copy(extraValue)
        self.pairFeature = copy(pairFeature)
        self.rows = copy(rows)
    }

    deinit {
        for p in [termStarts, termHarmonic, pairHarmonic, extraPair, extraHarmonic, pairFeature, rows] { p.deallocate() }
        for p in [termValue, pairValue, extraValue] { p.deallocate() }
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
}

extension TensorProductUVU {
    /// Messages m `[nodeCount][output.dimension]` (overwritten), computed by the fast kernel
    /// (see "Kernels" above) on `threads` threads, parallel over receivers.
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
            if let weightRows {  // the reference loops read w by edge: expand the rows
                let edgeCount = receiverOffsets[nodeCount], wE = weightsPerEdge
                var perEdge = [Float](repeating: 0, count: edgeCount * wE)
                for e in 0..<edgeCount {
                    for u in 0..<wE { perEdge[e * wE + u] = w[Int(weightRows[e]) * wE + u] }
                }
                forwardReference(features: h, sphericalHarmonics: y, edgeWeights: perEdge, receiverOffsets: receiverOffsets,
                                 senders: senders, nodeCount: nodeCount, scale: scale, output: out)
                return
            }
            forwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: receiverOffsets,
                             senders: senders, nodeCount: nodeCount, scale: scale, output: out)
            return
        }
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        let plan = contraction
        let (rowCount, rows, pairFeature) = (plan.rowCount, plan.rows, plan.pairFeature)
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
                    // Four edges at a time, row by row, each row's sum over its pairs held in a
                    // register: a fixed order of additions into m_i for every receiver, whatever the
                    // thread count. The four edges' pointers stay in registers for all rows.
                    // (Wrapping index arithmetic: the sizes are small and checked when the plan is built.)
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
