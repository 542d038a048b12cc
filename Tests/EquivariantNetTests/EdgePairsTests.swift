import Foundation
import XCTest
@testable import EquivariantNet

/// `EdgePairs` (one row of radial weights per neighbor pair) and the tensor products reading w
/// by row and writing ∂L/∂w at given rows, against the per-edge reference loops.
final class EdgePairsTests: XCTestCase {
    /// The cell-list graph of n particles placed uniformly at random in a cubic box, and its pairs.
    func randomGraph(seed: UInt64, particles n: Int, box: Double, cutoff: Double) throws -> (NeighborGraph, EdgePairs) {
        var rng = RandomSource(seed: seed)
        let positions = (0..<(3 * n)).map { _ in rng.uniform() * box }
        let graph = try NeighborGraph(positions: positions, box: [box, box, box], cutoff: cutoff)
        return (graph, EdgePairs(receiverOffsets: graph.receiverOffsets, senders: graph.senders, vectors: graph.edgeVectors))
    }

    /// A cell-list graph of a random configuration: every edge has its reverse, exactly negated,
    /// so the rows are exactly the E/2 pairs.
    func testEveryEdgeOfACutoffGraphIsPairedWithItsReverse() throws {
        let (graph, pairs) = try randomGraph(seed: 3, particles: 300, box: 6, cutoff: 1.5)
        XCTAssertGreaterThan(graph.edgeCount, 1000)
        XCTAssertEqual(2 * pairs.rowCount, graph.edgeCount)
        var seen = [Int](repeating: 0, count: graph.edgeCount)
        for r in 0..<pairs.rowCount {
            let (a, b) = (Int(pairs.edgesOfRow[2 * r]), Int(pairs.edgesOfRow[2 * r + 1]))
            XCTAssertLessThan(a, b)
            // b goes the other way: sender and receiver swapped, the vector negated bitwise.
            XCTAssertEqual(graph.senders[a], graph.receivers[b])
            XCTAssertEqual(graph.senders[b], graph.receivers[a])
            for c in 0..<3 { XCTAssertEqual(graph.edgeVectors[3 * b + c], -graph.edgeVectors[3 * a + c]) }
            XCTAssertEqual(graph.distances[a], graph.distances[b])
            for e in [a, b] {
                XCTAssertEqual(Int(pairs.rowOfEdge[e]), r)
                seen[e] += 1
            }
        }
        XCTAssertEqual(Set(seen), [1])
    }

    /// Edges without an exactly negated reverse keep a row of their own.
    func testAnEdgeWithoutAnExactReverseHasItsOwnRow() {
        // 0 ← 1 and 1 ← 0 exact reverses; 0 ← 2 with reverse 2 ← 0 off by one ulp; 2 ← 1 has none.
        let v: Float = 0.7
        let offsets = [0, 2, 3, 5]
        let senders = [1, 2, 0, 0, 1]
        let vectors: [Float] = [v, 0, 0, /**/ 0, 1, 0, /**/ -v, 0, 0, /**/ 0, -Float(1).nextUp, 0, /**/ 0, 0, 1]
        let pairs = EdgePairs(receiverOffsets: offsets, senders: senders, vectors: vectors)
        XCTAssertEqual(pairs.rowCount, 4)
        XCTAssertEqual(pairs.edgesOfRow, [0, 2, 1, -1, 3, -1, 4, -1])
        XCTAssertEqual(pairs.rowOfEdge, [0, 1, 0, 2, 3])
        // A row's gradient is the sum of its edges' (stored at the given positions).
        let perEdge: [Float] = [1, 2, /**/ 10, 20, /**/ 100, 200, /**/ 1000, 2000, /**/ 10_000, 20_000]
        let positions: [Int32] = [4, 3, 2, 1, 0]  // edge e at row 4 − e
        var rows = [Float](repeating: .nan, count: 8)
        pairs.sumGradients(perEdge, positions: positions, width: 2, rows: 0..<4, into: &rows)
        XCTAssertEqual(rows, [10_100, 20_200, /**/ 1000, 2000, /**/ 10, 20, /**/ 1, 2])
        var lastTwo = [Float](repeating: .nan, count: 4)
        pairs.sumGradients(perEdge, positions: positions, width: 2, rows: 2..<4, into: &lastTwo)
        XCTAssertEqual(lastTwo, [10, 20, /**/ 1, 2])
    }

    /// Forward with w by row and backward with ∂L/∂w at given rows (then summed per pair) equal the
    /// reference loops on the per-edge expansion of w, and do not depend on the thread count.
    func testTensorProductWithWeightsPerPairMatchesThePerEdgeReference() throws {
        let n = 80
        let (graph, pairs) = try randomGraph(seed: 8, particles: n, box: 4.4, cutoff: 1.6)
        var rng = RandomSource(seed: 9)
        let tp = TensorProductUVU(channels: 8, inputLmax: 3, shLmax: 3, outputLmax: 3)
        let (e, wE) = (graph.edgeCount, tp.weightsPerEdge)
        let sh = SphericalHarmonics(lmax: 3)
        var y = [Float](repeating: 0, count: e * sh.dimension)
        sh.forward(vectors: graph.edgeVectors, count: e, output: &y)
        let h = rng.normalFloats(n * tp.input.dimension), g = rng.normalFloats(n * tp.output.dimension)
        let w = rng.normalFloats(pairs.rowCount * wE)
        var perEdge = [Float](repeating: 0, count: e * wE)
        for q in 0..<e { for u in 0..<wE { perEdge[q * wE + u] = w[Int(pairs.rowOfEdge[q]) * wE + u] } }

        var reference = [Float](repeating: 0, count: n * tp.output.dimension)
        tp.forwardReference(features: h, sphericalHarmonics: y, edgeWeights: perEdge, receiverOffsets: graph.receiverOffsets,
                            senders: graph.senders, nodeCount: n, scale: 0.4, output: &reference)
        var gradHReference = [Float](repeating: 0, count: h.count), gradWReference = [Float](repeating: 0, count: e * wE)
        tp.backwardReference(features: h, sphericalHarmonics: y, edgeWeights: perEdge, receiverOffsets: graph.receiverOffsets,
                             senders: graph.senders, nodeCount: n, scale: 0.4, gradOutput: g, gradFeatures: &gradHReference,
                             gradSphericalHarmonics: nil, gradEdgeWeights: &gradWReference)
        // ∂L/∂w of a row is the sum over its two edges.
        var gradRowReference = [Float](repeating: 0, count: pairs.rowCount * wE)
        for q in 0..<e { for u in 0..<wE { gradRowReference[Int(pairs.rowOfEdge[q]) * wE + u] += gradWReference[q * wE + u] } }

        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            var out = [Float](repeating: .nan, count: reference.count)
            tp.forward(features: h, sphericalHarmonics: y, edgeWeights: w, weightRows: pairs.rowOfEdge,
                       receiverOffsets: graph.receiverOffsets, senders: graph.senders, nodeCount: n, scale: 0.4,
                       output: &out, threads: threads)
            XCTAssertLessThanOrEqual(maxAbsDiff(toDouble(out), toDouble(reference)), 1e-5 * maxAbs(toDouble(reference)))
            // ∂L/∂w_e stored in the sender-grouped order, as the model does.
            let positions = graph.receiverOffsets.withUnsafeBufferPointer { o in
                graph.senders.withUnsafeBufferPointer { s in
                    SenderIndex(receiverOffsets: o.baseAddress!, senders: s.baseAddress!, nodeCount: n).positions
                }
            }
            XCTAssertEqual(Set(positions).count, e)
            var gradH = [Float](repeating: 0, count: h.count), perEdge = [Float](repeating: .nan, count: e * wE)
            tp.backward(features: h, sphericalHarmonics: y, edgeWeights: w, weightRows: pairs.rowOfEdge,
                        receiverOffsets: graph.receiverOffsets, senders: graph.senders, nodeCount: n, scale: 0.4,
                        gradOutput: g, gradFeatures: &gradH, gradSphericalHarmonics: nil, gradEdgeWeights: &perEdge,
                        gradWeightRows: positions, threads: threads)
            var gradRow = [Float](repeating: .nan, count: pairs.rowCount * wE)
            pairs.sumGradients(perEdge, positions: positions, width: wE, rows: 0..<pairs.rowCount, into: &gradRow)
            XCTAssertLessThanOrEqual(maxAbsDiff(toDouble(gradH), toDouble(gradHReference)), 1e-5 * maxAbs(toDouble(gradHReference)))
            XCTAssertLessThanOrEqual(maxAbsDiff(toDouble(gradRow), toDouble(gradRowReference)),
                                     1e-5 * maxAbs(toDouble(gradRowReference)))
            results.append(out + gradH + gradRow)
        }
        XCTAssertEqual(results[1], results[0])
        XCTAssertEqual(results[2], results[0])
    }
}
