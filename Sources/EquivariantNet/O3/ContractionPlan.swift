/// The couplings of a `TensorProductUVU`, regrouped for its fast kernels.
///
/// Per edge, the Clebsch–Gordan table is first contracted with the edge's harmonics into one
/// number per **pair** (path p, m1, m3):
///
///     a[k] = scale · Σ_{terms t of k} value_t · Y_e[shIndex_t]      (value = √α C[m1, m2, m3])
///
/// and the pairs are grouped into **rows** (path p, m3): row r reads the pairs
/// `rowStarts[r] ..< rowStarts[r+1]`, multiplies their sum Σ_k a[k] h_j[feature_k + u] by the
/// weights at `rowWeight[r] + u` and adds it to the output at `rowOutput[r] + u`.
///
/// Sizes for C channels, l ≤ 3 everywhere: 611 terms, 541 pairs, 156 rows — per channel, 541
/// multiply-adds plus 156 weight products per edge instead of 611 three-operand couplings, and
/// the 611 harmonic products are done once per edge, not once per channel.
///
/// Storage is allocated once and owned by this object (the kernels read raw pointers, no array
/// access in the inner loops); it is immutable after `init`, hence safe to share across threads.
final class ContractionPlan: @unchecked Sendable {
    let termCount: Int, pairCount: Int, rowCount: Int
    /// Terms of pair k: `termStarts[k] ..< termStarts[k+1]`, each a harmonic index and a value.
    let termStarts: UnsafeMutablePointer<Int32>
    let termHarmonic: UnsafeMutablePointer<Int32>
    let termValue: UnsafeMutablePointer<Float>
    /// Where pair k reads the features: input.offset(l1) + m1 · C.
    let pairFeature: UnsafeMutablePointer<Int32>
    /// Pairs of row r: `rowStarts[r] ..< rowStarts[r+1]`; its output offset output.offset(l3) + m3·C
    /// and weight offset p·C.
    let rowStarts: UnsafeMutablePointer<Int32>
    let rowOutput: UnsafeMutablePointer<Int32>
    let rowWeight: UnsafeMutablePointer<Int32>

    init(couplings: [TensorProductUVU.Coupling]) {
        // Sort by row (path, m3), then pair (m1), then term (m2).
        let sorted = couplings.sorted {
            ($0.weightOffset, $0.outputOffset, $0.featureOffset, $0.shIndex)
                < ($1.weightOffset, $1.outputOffset, $1.featureOffset, $1.shIndex)
        }
        var termStarts: [Int32] = [], pairFeature: [Int32] = []
        var rowStarts: [Int32] = [], rowOutput: [Int32] = [], rowWeight: [Int32] = []
        for (t, k) in sorted.enumerated() {
            let newRow = t == 0 || k.weightOffset != sorted[t - 1].weightOffset || k.outputOffset != sorted[t - 1].outputOffset
            if newRow {
                rowStarts.append(Int32(pairFeature.count))
                rowOutput.append(k.outputOffset)
                rowWeight.append(k.weightOffset)
            }
            if newRow || k.featureOffset != sorted[t - 1].featureOffset {
                termStarts.append(Int32(t))
                pairFeature.append(k.featureOffset)
            }
        }
        termStarts.append(Int32(sorted.count))
        rowStarts.append(Int32(pairFeature.count))
        termCount = sorted.count
        pairCount = pairFeature.count
        rowCount = rowOutput.count

        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        self.termStarts = copy(termStarts)
        termHarmonic = copy(sorted.map(\.shIndex))
        termValue = copy(sorted.map(\.value))
        self.pairFeature = copy(pairFeature)
        self.rowStarts = copy(rowStarts)
        self.rowOutput = copy(rowOutput)
        self.rowWeight = copy(rowWeight)
    }

    deinit {
        for p in [termStarts, termHarmonic, pairFeature, rowStarts, rowOutput, rowWeight] { p.deallocate() }
        termValue.deallocate()
    }

    /// The edges handled together by `contract`: one SIMD lane each.
    static let batch = 8

    /// a[k] for up to 8 edges at once (`count` of them, harmonics `y + edges[q]·dY`), lane q of
    /// `a[8k ..< 8k+8]` for edge q; unused lanes get 0. `transposed` is scratch of 8·dY floats.
    @inline(__always)
    func contract(harmonics y: UnsafePointer<Float>, harmonicCount dY: Int, edges: UnsafePointer<Int>, count: Int,
                  scale: Float, transposed yt: UnsafeMutablePointer<Float>, into a: UnsafeMutablePointer<Float>) {
        // Y transposed to [dY][8 edges], so that one term is one SIMD multiply-add.
        for q in 0..<8 {
            if q < count {
                let ye = y + edges[q] * dY
                for m in 0..<dY { yt[8 * m + q] = ye[m] }
            } else {
                for m in 0..<dY { yt[8 * m + q] = 0 }
            }
        }
        let (starts, harmonic, value) = (termStarts, termHarmonic, termValue)
        var t = 0
        for k in 0..<pairCount {
            let end = Int(starts[k + 1])
            var s = SIMD8<Float>()
            while t < end {
                s += value[t] * load8(yt + 8 * Int(harmonic[t]))
                t += 1
            }
            store8(scale * s, a + 8 * k)
        }
    }

    /// ∂L/∂Y of one edge from ∂L/∂a (`gradA`, stride 1), written into `gradY` `[dY]`.
    @inline(__always)
    func contractBackward(gradA: UnsafePointer<Float>, scale: Float, harmonicCount: Int,
                          gradHarmonics gradY: UnsafeMutablePointer<Float>) {
        gradY.update(repeating: 0, count: harmonicCount)
        var t = 0
        for k in 0..<pairCount {
            let end = Int(termStarts[k + 1])
            let g = scale * gradA[k]
            while t < end {
                gradY[Int(termHarmonic[t])] += termValue[t] * g
                t += 1
            }
        }
    }
}

extension TensorProductUVU {
    /// Messages m `[nodeCount][output.dimension]` (overwritten), computed by the fast kernel
    /// (see "Kernels" above) on `threads` threads, parallel over receivers.
    public func forward(
        features h: UnsafePointer<Float>, sphericalHarmonics y: UnsafePointer<Float>,
        edgeWeights w: UnsafePointer<Float>, receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>,
        nodeCount: Int, scale: Float, output out: UnsafeMutablePointer<Float>,
        threads: Int = ParallelFor.threadCount
    ) {
        guard channels % 8 == 0 else {
            forwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: receiverOffsets,
                             senders: senders, nodeCount: nodeCount, scale: scale, output: out)
            return
        }
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        let plan = contraction
        let (rowCount, rowStarts, rowOutput, rowWeight, pairFeature) =
            (plan.rowCount, plan.rowStarts, plan.rowOutput, plan.rowWeight, plan.pairFeature)
        let batch = ContractionPlan.batch
        ParallelFor.ranges(nodeCount, threads: threads, weights: receiverOffsets) { nodes in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: batch * plan.pairCount)
            let yt = UnsafeMutablePointer<Float>.allocate(capacity: batch * dY)
            let edgeList = UnsafeMutablePointer<Int>.allocate(capacity: batch)
            let hq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
            let wq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
            defer { a.deallocate(); yt.deallocate(); edgeList.deallocate(); hq.deallocate(); wq.deallocate() }
            for i in nodes {
                let o = out + i * dOut
                o.update(repeating: 0, count: dOut)
                var first = receiverOffsets[i]
                let last = receiverOffsets[i + 1]
                while first < last {
                    let count = min(batch, last - first)
                    for q in 0..<count { edgeList[q] = first + q }
                    plan.contract(harmonics: y, harmonicCount: dY, edges: edgeList, count: count, scale: scale,
                                  transposed: yt, into: a)
                    for q in 0..<count {
                        hq[q] = h + senders[first + q] * dIn
                        wq[q] = w + (first + q) * wE
                    }
                    // Row by row, the batch's edges in order: the same additions into m_i, in the
                    // same order, as edge by edge, with the row's sum held in a register. (Wrapping
                    // index arithmetic: the sizes are small and checked when the plan is built.)
                    var u = 0
                    while u < c {  // 8 channels at a time: once for C = 8
                        for r in 0..<rowCount {
                            let ob = o + Int(rowOutput[r]) + u, weightOffset = Int(rowWeight[r]) &+ u
                            let k0 = Int(rowStarts[r]), k1 = Int(rowStarts[r &+ 1])
                            var acc = load8(ob)
                            var q = 0
                            while q &+ 3 < count {  // four edges per sweep over the row's pairs
                                let h0 = hq[q] + u, h1 = hq[q &+ 1] + u, h2 = hq[q &+ 2] + u, h3 = hq[q &+ 3] + u
                                let aq = a + q
                                var t0 = SIMD8<Float>(), t1 = SIMD8<Float>(), t2 = SIMD8<Float>(), t3 = SIMD8<Float>()
                                var k = k0
                                while k < k1 {
                                    let p = Int(pairFeature[k]), ak = aq + k &* batch
                                    t0 += ak[0] * load8(h0 + p)
                                    t1 += ak[1] * load8(h1 + p)
                                    t2 += ak[2] * load8(h2 + p)
                                    t3 += ak[3] * load8(h3 + p)
                                    k &+= 1
                                }
                                acc += load8(wq[q] + weightOffset) * t0
                                acc += load8(wq[q &+ 1] + weightOffset) * t1
                                acc += load8(wq[q &+ 2] + weightOffset) * t2
                                acc += load8(wq[q &+ 3] + weightOffset) * t3
                                q &+= 4
                            }
                            while q &+ 1 < count {  // two edges per sweep over the row's pairs
                                let h0 = hq[q] + u, h1 = hq[q &+ 1] + u, aq = a + q
                                var t0 = SIMD8<Float>(), t1 = SIMD8<Float>()
                                var k = k0
                                while k < k1 {
                                    let p = Int(pairFeature[k]), ak = aq + k &* batch
                                    t0 += ak[0] * load8(h0 + p)
                                    t1 += ak[1] * load8(h1 + p)
                                    k &+= 1
                                }
                                acc += load8(wq[q] + weightOffset) * t0
                                acc += load8(wq[q &+ 1] + weightOffset) * t1
                                q &+= 2
                            }
                            if q < count {
                                let hj = hq[q] + u, aq = a + q
                                var t = SIMD8<Float>()
                                var k = k0
                                while k < k1 {
                                    t += aq[k &* batch] * load8(hj + Int(pairFeature[k]))
                                    k &+= 1
                                }
                                acc += load8(wq[q] + weightOffset) * t
                            }
                            store8(acc, ob)
                        }
                        u &+= 8
                    }
                    first += count
                }
            }
        }
    }

    /// Backward from ∂L/∂m `[nodeCount][output.dimension]`:
    /// - **accumulates** ∂L/∂h into `gradFeatures` `[nodeCount][input.dimension]` (zero it first);
    /// - **writes** ∂L/∂Y into `gradSphericalHarmonics` `[E][(shLmax+1)²]` if given;
    /// - **writes** ∂L/∂w into `gradEdgeWeights` `[E][pathCount][C]` if given.
    /// Parallel over senders: each sender sums its own ∂L/∂h over its edges in increasing edge
    /// order, so the result is deterministic and independent of `threads`.
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
        let (c, dIn, dOut, dY, wE) = (channels, input.dimension, output.dimension, shDimension, weightsPerEdge)
        let plan = contraction
        let (rowCount, rowStarts, rowOutput, rowWeight, pairFeature) =
            (plan.rowCount, plan.rowStarts, plan.rowOutput, plan.rowWeight, plan.pairFeature)
        let batch = ContractionPlan.batch
        let wantY = gradSphericalHarmonics != nil
        let index = SenderIndex(receiverOffsets: receiverOffsets, senders: senders, nodeCount: nodeCount)
        index.offsets.withUnsafeBufferPointer { senderOffsetsBuffer in
            index.edges.withUnsafeBufferPointer { bySenderBuffer in
                index.receivers.withUnsafeBufferPointer { receiverOfBuffer in
                    let senderOffsets = senderOffsetsBuffer.baseAddress!
                    let (bySender, receiverOf) = (bySenderBuffer.baseAddress!, receiverOfBuffer.baseAddress!)
                    ParallelFor.ranges(nodeCount, threads: threads, weights: senderOffsets) { nodes in
                        let a = UnsafeMutablePointer<Float>.allocate(capacity: batch * plan.pairCount)
                        let yt = UnsafeMutablePointer<Float>.allocate(capacity: batch * dY)
                        let gradA = UnsafeMutablePointer<Float>.allocate(capacity: batch * plan.pairCount)
                        let gh = UnsafeMutablePointer<Float>.allocate(capacity: dIn)
                        let gq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
                        let wq = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: batch)
                        // Per edge of the batch, 8 channels each: ∂L/∂m row, w ⊙ that, Σ_k a_k h_k.
                        let g8q = UnsafeMutablePointer<Float>.allocate(capacity: 8 * batch)
                        let wgq = UnsafeMutablePointer<Float>.allocate(capacity: 8 * batch)
                        let tq = UnsafeMutablePointer<Float>.allocate(capacity: 8 * batch)
                        defer {
                            a.deallocate(); yt.deallocate(); gradA.deallocate(); gh.deallocate(); gq.deallocate(); wq.deallocate()
                            g8q.deallocate(); wgq.deallocate(); tq.deallocate()
                        }
                        for j in nodes {
                            gh.update(repeating: 0, count: dIn)
                            let hj = h + j * dIn
                            var first = senderOffsets[j]
                            let last = senderOffsets[j + 1]
                            while first < last {
                                let count = min(batch, last - first)
                                plan.contract(harmonics: y, harmonicCount: dY, edges: bySender + first, count: count,
                                              scale: scale, transposed: yt, into: a)
                                for q in 0..<count {
                                    let e = bySender[first + q]
                                    gq[q] = gradOutput + receiverOf[e] * dOut
                                    wq[q] = w + e * wE
                                    gradEdgeWeights.map { ($0 + e * wE).update(repeating: 0, count: wE) }
                                }
                                if wantY { gradA.update(repeating: 0, count: batch * plan.pairCount) }
                                var u = 0
                                while u < c {  // 8 channels at a time: once for C = 8
                                    for r in 0..<rowCount {
                                        let outOffset = Int(rowOutput[r]) &+ u, weightOffset = Int(rowWeight[r]) &+ u
                                        let k0 = Int(rowStarts[r]), k1 = Int(rowStarts[r &+ 1])
                                        // The row's ∂L/∂(Σ_k a_k h_k) per edge, and its sums t_q.
                                        for q in 0..<count {
                                            let g8 = load8(gq[q] + outOffset)
                                            store8(g8, g8q + 8 &* q)
                                            store8(load8(wq[q] + weightOffset) * g8, wgq + 8 &* q)
                                            store8(SIMD8<Float>(), tq + 8 &* q)
                                        }
                                        // Pair by pair: h_j is the sender's, the same for every edge of the
                                        // batch, so ∂L/∂h_j[pair] is summed over the batch in a register.
                                        var k = k0
                                        while k < k1 {
                                            let p = Int(pairFeature[k]) &+ u
                                            let h8 = load8(hj + p), ak = a + k &* batch
                                            var gsum = SIMD8<Float>()
                                            for q in 0..<count {
                                                let aqk = ak[q], wg = load8(wgq + 8 &* q)
                                                gsum += aqk * wg
                                                store8(load8(tq + 8 &* q) + aqk * h8, tq + 8 &* q)
                                                if wantY { gradA[q &* plan.pairCount &+ k] += (wg * h8).sum() }
                                            }
                                            store8(load8(gh + p) + gsum, gh + p)
                                            k &+= 1
                                        }
                                        if let gradEdgeWeights {
                                            for q in 0..<count {
                                                let gw = gradEdgeWeights + bySender[first + q] * wE + weightOffset
                                                store8(load8(gw) + load8(g8q + 8 &* q) * load8(tq + 8 &* q), gw)
                                            }
                                        }
                                    }
                                    u &+= 8
                                }
                                if let gy = gradSphericalHarmonics {
                                    for q in 0..<count {
                                        plan.contractBackward(gradA: gradA + q * plan.pairCount, scale: scale, harmonicCount: dY,
                                                              gradHarmonics: gy + bySender[first + q] * dY)
                                    }
                                }
                                first += count
                            }
                            let gj = gradFeatures + j * dIn
                            for k in 0..<dIn { gj[k] += gh[k] }
                        }
                    }
                }
            }
        }
    }
}

/// The edges of a receiver-grouped (CSR) graph regrouped by sender: sender j's edges are
/// `edges[offsets[j] ..< offsets[j+1]]`, in increasing edge order; `receivers[e]` is edge e's
/// receiver. A counting sort, O(N + E).
struct SenderIndex {
    var offsets: [Int], edges: [Int], receivers: [Int]

    init(receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>, nodeCount n: Int) {
        let edgeCount = receiverOffsets[n]
        precondition(receiverOffsets[0] == 0, "TensorProductUVU: receiverOffsets must start at 0")
        offsets = [Int](repeating: 0, count: n + 1)
        receivers = [Int](repeating: 0, count: edgeCount)
        edges = [Int](repeating: 0, count: edgeCount)
        for i in 0..<n {
            for e in receiverOffsets[i]..<receiverOffsets[i + 1] {
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
