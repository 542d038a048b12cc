import Foundation
import XCTest
@testable import EquivariantNet

/// The fast uvu kernels (`forward`/`backward`: batched Clebsch–Gordan contraction, SIMD over
/// channels, backward grouped by sender, threads) against the reference loops
/// (`forwardReference`/`backwardReference`, one coupling at a time) and finite differences, and
/// their bitwise independence of the thread count.
final class TensorProductSpeedPathTests: XCTestCase {
    struct Graph {
        var offsets: [Int], senders: [Int], vectors: [Float]
        var nodeCount: Int { offsets.count - 1 }
        var edgeCount: Int { senders.count }
    }

    /// Receivers with 0…`maxDegree` incoming edges: degrees above 8 and not multiples of 8
    /// exercise full and partial batches of the contraction; some nodes send nothing.
    func randomGraph(nodes: Int, maxDegree: Int, rng: inout RandomSource) -> Graph {
        var offsets = [0], senders: [Int] = [], vectors: [Float] = []
        for _ in 0..<nodes {
            for _ in 0..<Int(rng.uniform() * Double(maxDegree + 1)) {
                senders.append(Int(rng.uniform() * Double(nodes)))
                vectors += [Float(rng.normal()), Float(rng.normal()), Float(rng.normal())]
            }
            offsets.append(senders.count)
        }
        return Graph(offsets: offsets, senders: senders, vectors: vectors)
    }

    func harmonics(_ lmax: Int, _ vectors: [Float]) -> [Float] {
        let sh = SphericalHarmonics(lmax: lmax)
        var y = [Float](repeating: 0, count: vectors.count / 3 * sh.dimension)
        sh.forward(vectors: vectors, count: vectors.count / 3, output: &y)
        return y
    }

    struct Inputs {
        var h: [Float], y: [Float], w: [Float], g: [Float]
    }

    func inputs(_ tp: TensorProductUVU, _ graph: Graph, rng: inout RandomSource) -> Inputs {
        Inputs(h: rng.normalFloats(graph.nodeCount * tp.input.dimension), y: harmonics(tp.shLmax, graph.vectors),
               w: rng.normalFloats(graph.edgeCount * tp.weightsPerEdge), g: rng.normalFloats(graph.nodeCount * tp.output.dimension))
    }

    struct Gradients: Equatable {
        var h: [Float], y: [Float], w: [Float]
    }

    func forward(_ tp: TensorProductUVU, _ x: Inputs, _ graph: Graph, scale: Float, threads: Int?) -> [Float] {
        var out = [Float](repeating: .nan, count: graph.nodeCount * tp.output.dimension)
        if let threads {
            tp.forward(features: x.h, sphericalHarmonics: x.y, edgeWeights: x.w, receiverOffsets: graph.offsets,
                       senders: graph.senders, nodeCount: graph.nodeCount, scale: scale, output: &out, threads: threads)
        } else {
            tp.forwardReference(features: x.h, sphericalHarmonics: x.y, edgeWeights: x.w, receiverOffsets: graph.offsets,
                                senders: graph.senders, nodeCount: graph.nodeCount, scale: scale, output: &out)
        }
        return out
    }

    /// Backward with ∂L/∂h accumulated on top of `start` (as the model does), ∂L/∂Y and ∂L/∂w
    /// written over NaN-filled buffers.
    func backward(_ tp: TensorProductUVU, _ x: Inputs, _ graph: Graph, scale: Float, start: [Float],
                  threads: Int?) -> Gradients {
        var r = Gradients(h: start, y: [Float](repeating: .nan, count: x.y.count), w: [Float](repeating: .nan, count: x.w.count))
        if let threads {
            tp.backward(features: x.h, sphericalHarmonics: x.y, edgeWeights: x.w, receiverOffsets: graph.offsets,
                        senders: graph.senders, nodeCount: graph.nodeCount, scale: scale, gradOutput: x.g,
                        gradFeatures: &r.h, gradSphericalHarmonics: &r.y, gradEdgeWeights: &r.w, threads: threads)
        } else {
            tp.backwardReference(features: x.h, sphericalHarmonics: x.y, edgeWeights: x.w, receiverOffsets: graph.offsets,
                                 senders: graph.senders, nodeCount: graph.nodeCount, scale: scale, gradOutput: x.g,
                                 gradFeatures: &r.h, gradSphericalHarmonics: &r.y, gradEdgeWeights: &r.w)
        }
        return r
    }

    func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        maxAbsDiff(toDouble(a), toDouble(b)) / max(1e-30, maxAbs(toDouble(b)))
    }

    /// Both regrouped plans hold exactly the couplings (every term once), for the model's sizes.
    func testPlanRegroupsEveryCoupling() {
        for inputLmax in [0, 3] {
            let tp = TensorProductUVU(channels: 8, inputLmax: inputLmax, shLmax: 3, outputLmax: 3)
            let original = tp.couplings.map { "\($0.outputOffset) \($0.weightOffset) \($0.featureOffset) \($0.shIndex) \($0.value)" }
            // Forward plan: rebuild (output, weight, feature, harmonic, value) and compare as multisets.
            let plan = tp.contraction
            XCTAssertEqual(plan.termCount, tp.couplings.count)
            XCTAssertEqual(plan.pairCount + plan.extraCount, plan.termCount)
            var extras: [Int: [(Int32, Float)]] = [:]
            for x in 0..<plan.extraCount { extras[Int(plan.extraPair[x]), default: []].append((plan.extraHarmonic[x], plan.extraValue[x])) }
            var fromPlan: [String] = []
            for r in 0..<plan.rowCount {
                let row = plan.rows + 4 * r
                for k in Int(row[0])..<Int(row[1]) {
                    for (harmonic, value) in [(plan.pairHarmonic[k], plan.pairValue[k])] + (extras[k] ?? []) {
                        fromPlan.append("\(row[2]) \(row[3]) \(plan.pairFeature[k]) \(harmonic) \(value)")
                    }
                }
            }
            XCTAssertEqual(fromPlan.sorted(), original.sorted())
            // Backward plan: the same, walking paths, rows, pairs (m2) and terms (m1).
            let sp = tp.senderContraction
            var fromSenderPlan: [String] = []
            for p in 0..<sp.pathCount {
                for r in Int(sp.pathRows[p])..<Int(sp.pathRows[p + 1]) {
                    for k in Int(sp.rowPairs[r])..<Int(sp.rowPairs[r + 1]) {
                        for t in Int(sp.pairTerms[k])..<Int(sp.pairTerms[k + 1]) {
                            fromSenderPlan.append("\(sp.rowOutput[r]) \(p * 8) \(sp.termFeature[t]) \(sp.pairHarmonic[k]) \(sp.termValue[t])")
                        }
                    }
                }
            }
            XCTAssertEqual(fromSenderPlan.sorted(), original.sorted())
            if inputLmax == 3 {
                print("uvu plan, l ≤ 3: \(plan.termCount) couplings, \(plan.pairCount) (path, m3, m1) pairs, "
                      + "\(sp.pairCount) (path, m3, m2) pairs, \(plan.rowCount) (path, m3) rows")
                XCTAssertEqual(plan.rowCount, tp.paths.reduce(0) { $0 + 2 * $1.l3 + 1 })
                XCTAssertEqual(sp.rowCount, plan.rowCount)
            }
        }
    }

    /// Fast forward and backward equal the reference loops (to Float rounding: the sums are
    /// associated differently), for C = 8 and 16, input l ≤ 3 and l = 0 (the first layer).
    func testFastPathEqualsReference() {
        var rng = RandomSource(seed: 21)
        for (channels, inputLmax) in [(8, 3), (16, 3), (8, 0), (8, 2)] {
            let tp = TensorProductUVU(channels: channels, inputLmax: inputLmax, shLmax: 3, outputLmax: 3)
            let graph = randomGraph(nodes: 23, maxDegree: 20, rng: &rng)
            let x = inputs(tp, graph, rng: &rng)
            let fast = forward(tp, x, graph, scale: 0.3, threads: 1)
            let reference = forward(tp, x, graph, scale: 0.3, threads: nil)
            let start = rng.normalFloats(x.h.count)
            let gFast = backward(tp, x, graph, scale: 0.3, start: start, threads: 1)
            let gReference = backward(tp, x, graph, scale: 0.3, start: start, threads: nil)
            let errors = [relativeDifference(fast, reference), relativeDifference(gFast.h, gReference.h),
                          relativeDifference(gFast.y, gReference.y), relativeDifference(gFast.w, gReference.w)]
            print("fast vs reference, C = \(channels), input lmax \(inputLmax): relative max differences (m, ∂h, ∂Y, ∂w) \(errors)")
            for err in errors { XCTAssertLessThan(err, 2e-6) }
            // The differences are rounding, not something systematically missing.
            XCTAssertFalse(fast.contains { $0.isNaN } || gFast.y.contains { $0.isNaN } || gFast.w.contains { $0.isNaN })
        }
    }

    /// The fast backward against central differences of the fast forward (C = 16: two SIMD
    /// registers per row).
    func testFastGradientsByFiniteDifferences() {
        var rng = RandomSource(seed: 22)
        let tp = TensorProductUVU(channels: 16, inputLmax: 3, shLmax: 3, outputLmax: 3)
        let graph = randomGraph(nodes: 6, maxDegree: 12, rng: &rng)
        let x = inputs(tp, graph, rng: &rng)
        let scale: Float = 0.7
        let grads = backward(tp, x, graph, scale: scale, start: [Float](repeating: 0, count: x.h.count), threads: 2)
        func loss(_ x: Inputs) -> Double { dot(x.g, forward(tp, x, graph, scale: scale, threads: 2)) }
        checkGradient("∂/∂h", x: x.h, analytic: grads.h, indices: sampleIndices(x.h.count, 24), step: 0.05, tolerance: 1e-3) {
            var p = x; p.h = $0; return loss(p)
        }
        checkGradient("∂/∂Y", x: x.y, analytic: grads.y, indices: sampleIndices(x.y.count, 24), step: 0.05, tolerance: 1e-3) {
            var p = x; p.y = $0; return loss(p)
        }
        checkGradient("∂/∂w", x: x.w, analytic: grads.w, indices: sampleIndices(x.w.count, 24), step: 0.05, tolerance: 1e-3) {
            var p = x; p.w = $0; return loss(p)
        }
    }

    /// 1, 2 and 3 threads give bitwise the same messages and gradients.
    func testBitwiseIndependentOfThreadCount() {
        var rng = RandomSource(seed: 23)
        let tp = TensorProductUVU(channels: 8, inputLmax: 3, shLmax: 3, outputLmax: 3)
        let graph = randomGraph(nodes: 31, maxDegree: 20, rng: &rng)
        let x = inputs(tp, graph, rng: &rng)
        let start = rng.normalFloats(x.h.count)
        let out1 = forward(tp, x, graph, scale: 0.2, threads: 1)
        let grad1 = backward(tp, x, graph, scale: 0.2, start: start, threads: 1)
        for threads in [2, 3] {
            XCTAssertEqual(forward(tp, x, graph, scale: 0.2, threads: threads), out1, "forward, \(threads) threads")
            XCTAssertEqual(backward(tp, x, graph, scale: 0.2, start: start, threads: threads), grad1, "backward, \(threads) threads")
        }
    }

    /// The backward overload taking a prebuilt `SenderIndex` (one index reused for three sets of
    /// inputs, as the layers of a network reuse it) equals the overload that builds its own,
    /// bitwise, and the reference loops to rounding.
    func testBackwardWithPrebuiltSenderIndex() {
        var rng = RandomSource(seed: 26)
        let graph = randomGraph(nodes: 19, maxDegree: 14, rng: &rng)
        let index = SenderIndex(receiverOffsets: graph.offsets, senders: graph.senders, nodeCount: graph.nodeCount)
        // C = 4 (not a multiple of 8) takes the reference loops through the same overload.
        for tp in [8, 8, 4].map({ TensorProductUVU(channels: $0, inputLmax: 3, shLmax: 3, outputLmax: 3) }) {
            let x = inputs(tp, graph, rng: &rng)
            let start = rng.normalFloats(x.h.count)
            var r = Gradients(h: start, y: [Float](repeating: .nan, count: x.y.count), w: [Float](repeating: .nan, count: x.w.count))
            tp.backward(features: x.h, sphericalHarmonics: x.y, edgeWeights: x.w, senderIndex: index, scale: 0.4,
                        gradOutput: x.g, gradFeatures: &r.h, gradSphericalHarmonics: &r.y, gradEdgeWeights: &r.w, threads: 2)
            XCTAssertEqual(r, backward(tp, x, graph, scale: 0.4, start: start, threads: 1))
            let reference = backward(tp, x, graph, scale: 0.4, start: start, threads: nil)
            for (a, b) in [(r.h, reference.h), (r.y, reference.y), (r.w, reference.w)] {
                XCTAssertLessThan(relativeDifference(a, b), 2e-6)
            }
        }
    }

    /// `ParallelFor.ranges` covers every index exactly once, for any thread count, with and without
    /// edge weights.
    func testParallelRangesCoverEachIndexOnce() {
        var rng = RandomSource(seed: 24)
        for count in [1, 2, 7, 100] {
            var offsets = [0]
            for _ in 0..<count { offsets.append(offsets.last! + Int(rng.uniform() * 50)) }
            for threads in [1, 2, 3, 8] {
                for weighted in [false, true] {
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                    hits.initialize(repeating: 0, count: count)
                    offsets.withUnsafeBufferPointer { o in
                        // Each range writes only its own indices: no data race.
                        ParallelFor.ranges(count, threads: threads, weights: weighted ? o.baseAddress! : nil) { r in
                            for i in r { hits[i] += 1 }
                        }
                    }
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: count)), Array(repeating: 1, count: count),
                                   "count \(count), threads \(threads), weighted \(weighted)")
                    hits.deallocate()
                }
            }
        }
    }

    /// The sender-grouped index lists every edge once, under its sender, in increasing order, with
    /// its receiver.
    func testSenderIndex() {
        var rng = RandomSource(seed: 25)
        let graph = randomGraph(nodes: 17, maxDegree: 9, rng: &rng)
        let index = SenderIndex(receiverOffsets: graph.offsets, senders: graph.senders, nodeCount: graph.nodeCount)
        for j in 0..<graph.nodeCount {
            let expected = (0..<graph.edgeCount).filter { graph.senders[$0] == j }
            XCTAssertEqual(Array(index.edges[index.offsets[j]..<index.offsets[j + 1]]), expected)
        }
        for i in 0..<graph.nodeCount {
            for e in graph.offsets[i]..<graph.offsets[i + 1] { XCTAssertEqual(index.receivers[e], i) }
        }
    }
}
