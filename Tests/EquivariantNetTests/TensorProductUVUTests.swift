import XCTest
@testable import EquivariantNet

final class TensorProductUVUTests: XCTestCase {
    /// A random graph with edges grouped by receiver.
    struct Graph {
        var offsets: [Int], senders: [Int], vectors: [Float]
        var edgeCount: Int { senders.count }
    }

    func randomGraph(nodes: Int, rng: inout RandomSource) -> Graph {
        var offsets = [0], senders: [Int] = [], vectors: [Float] = []
        for _ in 0..<nodes {
            let degree = Int(rng.uniform() * 4)  // 0…3 incoming edges (some nodes receive none)
            for _ in 0..<degree {
                senders.append(Int(rng.uniform() * Double(nodes)))
                vectors += [Float(rng.normal()), Float(rng.normal()), Float(rng.normal())]
            }
            offsets.append(senders.count)
        }
        return Graph(offsets: offsets, senders: senders, vectors: vectors)
    }

    func forward(_ tp: TensorProductUVU, h: [Float], y: [Float], w: [Float], graph: Graph, scale: Float) -> [Float] {
        let n = graph.offsets.count - 1
        var out = [Float](repeating: .nan, count: n * tp.output.dimension)
        tp.forward(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: graph.offsets,
                   senders: graph.senders, nodeCount: n, scale: scale, output: &out)
        return out
    }

    func harmonics(_ lmax: Int, _ vectors: [Float]) -> [Float] {
        let sh = SphericalHarmonics(lmax: lmax)
        var y = [Float](repeating: 0, count: vectors.count / 3 * sh.dimension)
        sh.forward(vectors: vectors, count: vectors.count / 3, output: &y)
        return y
    }

    func testPathsAndNormalization() {
        let tp = TensorProductUVU(channels: 8, inputLmax: 3, shLmax: 3, outputLmax: 3)
        XCTAssertEqual(tp.pathCount, 34)  // triangle-allowed (l1, l2, l3) with all l ≤ 3
        XCTAssertEqual(tp.output, Irreps(uniform: 8, lmax: 3))
        for l3 in 0...3 {
            let landing = tp.paths.filter { $0.l3 == l3 }
            for p in landing { XCTAssertEqual(p.alpha, Double(2 * l3 + 1) / Double(landing.count)) }
        }
    }

    /// e3nn's o3.TensorProduct (uvu, per-edge weights, component/element normalization) on a small
    /// graph, summed per receiver and scaled.
    func testMatchesE3nn() {
        let f = E3nnFixture.section("tensor_product")
        let c = f.int("channels"), lmax = f.int("lmax")
        let tp = TensorProductUVU(channels: c, inputLmax: lmax, shLmax: lmax, outputLmax: lmax)
        // Same path order as the fixture's instructions.
        let instructions = (f["instructions"] as! [[Any]]).map { $0.map { ($0 as! NSNumber).intValue } }
        XCTAssertEqual(instructions.count, tp.pathCount)
        for (p, ins) in zip(tp.paths, instructions) { XCTAssertEqual([p.l1, p.l2, p.l3], ins) }
        XCTAssertEqual(f.int("weight_numel"), tp.weightsPerEdge)
        XCTAssertEqual(f["irreps_in"] as? String, tp.input.description)

        let n = f.int("nodes")
        let receivers = f.ints("receivers"), senders = f.ints("senders")
        var offsets = [Int](repeating: 0, count: n + 1)
        for r in receivers { offsets[r + 1] += 1 }
        for i in 0..<n { offsets[i + 1] += offsets[i] }
        XCTAssertEqual(receivers, receivers.sorted())
        let graph = Graph(offsets: offsets, senders: senders, vectors: toFloat(f.doubles("vectors")))
        let h = toFloat(tp.input.fromE3nn(batch: f.doubles("features"), count: n))
        let y = harmonics(lmax, graph.vectors)
        let out = forward(tp, h: h, y: y, w: toFloat(f.doubles("weights")), graph: graph, scale: Float(f.double("scale")))
        let reference = tp.output.fromE3nn(batch: f.doubles("output"), count: n)
        let err = maxAbsDiff(toDouble(out), reference)
        print("uvu tensor product parity (Float): max abs error \(err), relative to max |out| \(err / maxAbs(reference))")
        XCTAssertLessThan(err / maxAbs(reference), 1e-5)
    }

    /// Rotating node features (by D^l per block) and edge vectors rotates each output block by D^l.
    func testEquivariance() {
        var rng = RandomSource(seed: 11)
        let tp = TensorProductUVU(channels: 8, inputLmax: 3, shLmax: 3, outputLmax: 3)
        let n = 6
        let graph = randomGraph(nodes: n, rng: &rng)
        let h = rng.normalDoubles(n * tp.input.dimension)
        let w = rng.normalFloats(graph.edgeCount * tp.weightsPerEdge)
        let rot = Rotation.random(using: &rng)
        let out = forward(tp, h: toFloat(h), y: harmonics(3, graph.vectors), w: w, graph: graph, scale: 0.5)

        var rotated = graph
        for e in 0..<graph.edgeCount {
            let v = rot.apply((Double(graph.vectors[3 * e]), Double(graph.vectors[3 * e + 1]), Double(graph.vectors[3 * e + 2])))
            rotated.vectors.replaceSubrange((3 * e)..<(3 * e + 3), with: [Float(v.0), Float(v.1), Float(v.2)])
        }
        let hr = WignerD.rotate(h, irreps: tp.input, count: n, rotation: rot)
        let outRotatedInputs = forward(tp, h: toFloat(hr), y: harmonics(3, rotated.vectors), w: w, graph: rotated, scale: 0.5)
        let expected = WignerD.rotate(toDouble(out), irreps: tp.output, count: n, rotation: rot)
        let err = maxAbsDiff(toDouble(outRotatedInputs), expected) / max(1, maxAbs(expected))
        XCTAssertLessThan(err, 1e-5)
    }

    /// uvu keeps channels apart: channel u of an 8-channel product (the SIMD path) equals a
    /// 1-channel product (the scalar path) of channel u's features and weights.
    func testChannelsAreIndependent() {
        var rng = RandomSource(seed: 13)
        let wide = TensorProductUVU(channels: 8, inputLmax: 2, shLmax: 3, outputLmax: 3)
        let narrow = TensorProductUVU(channels: 1, inputLmax: 2, shLmax: 3, outputLmax: 3)
        let n = 5
        let graph = randomGraph(nodes: n, rng: &rng)
        let y = harmonics(3, graph.vectors)
        let h = rng.normalFloats(n * wide.input.dimension)
        let w = rng.normalFloats(graph.edgeCount * wide.weightsPerEdge)
        let g = rng.normalFloats(n * wide.output.dimension)
        let out = forward(wide, h: h, y: y, w: w, graph: graph, scale: 0.5)
        var gh = [Float](repeating: 0, count: h.count), gy = y, gw = w
        wide.backward(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: graph.offsets,
                      senders: graph.senders, nodeCount: n, scale: 0.5, gradOutput: g,
                      gradFeatures: &gh, gradSphericalHarmonics: &gy, gradEdgeWeights: &gw)
        var gySum = [Float](repeating: 0, count: y.count)
        var worst = 0.0
        for u in 0..<8 {
            // Channel u in the 1-channel layouts.
            func pick(_ x: [Float], _ irreps: Irreps, _ count: Int) -> [Float] {
                (0..<count).flatMap { i in (0...irreps.lmax).flatMap { l in (0..<(2 * l + 1)).map { m in x[i * irreps.dimension + irreps.index(l: l, m: m, u: u)] } } }
            }
            let hu = pick(h, wide.input, n), gu = pick(g, wide.output, n)
            let wu = (0..<(graph.edgeCount * wide.pathCount)).map { w[$0 * 8 + u] }
            let outU = forward(narrow, h: hu, y: y, w: wu, graph: graph, scale: 0.5)
            worst = max(worst, maxAbsDiff(toDouble(outU), toDouble(pick(out, wide.output, n))))
            var ghU = [Float](repeating: 0, count: hu.count), gyU = y, gwU = wu
            narrow.backward(features: hu, sphericalHarmonics: y, edgeWeights: wu, receiverOffsets: graph.offsets,
                            senders: graph.senders, nodeCount: n, scale: 0.5, gradOutput: gu,
                            gradFeatures: &ghU, gradSphericalHarmonics: &gyU, gradEdgeWeights: &gwU)
            worst = max(worst, maxAbsDiff(toDouble(ghU), toDouble(pick(gh, wide.input, n))))
            worst = max(worst, maxAbsDiff(toDouble(gwU), (0..<wu.count).map { Double(gw[$0 * 8 + u]) }))
            for k in 0..<y.count { gySum[k] += gyU[k] }
        }
        worst = max(worst, maxAbsDiff(toDouble(gySum), toDouble(gy)))
        XCTAssertLessThan(worst, 1e-4)
    }

    /// Backward against central differences for features, harmonics and weights (8 channels: the
    /// SIMD path; 3 channels: the scalar path).
    func testGradients() {
        for channels in [3, 8] { checkGradients(channels: channels) }
    }

    func checkGradients(channels: Int) {
        var rng = RandomSource(seed: 12)
        let tp = TensorProductUVU(channels: channels, inputLmax: 3, shLmax: 3, outputLmax: 3)
        let n = 5
        let graph = randomGraph(nodes: n, rng: &rng)
        let h = rng.normalFloats(n * tp.input.dimension)
        let y = harmonics(3, graph.vectors)
        let w = rng.normalFloats(graph.edgeCount * tp.weightsPerEdge)
        let g = rng.normalFloats(n * tp.output.dimension)
        let scale: Float = 0.7

        var gh = [Float](repeating: 0, count: h.count)
        var gy = [Float](repeating: .nan, count: y.count), gw = [Float](repeating: .nan, count: w.count)
        tp.backward(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: graph.offsets,
                    senders: graph.senders, nodeCount: n, scale: scale, gradOutput: g,
                    gradFeatures: &gh, gradSphericalHarmonics: &gy, gradEdgeWeights: &gw)
        // The map is linear in each argument: central differences are exact up to rounding.
        checkGradient("∂/∂h", x: h, analytic: gh, indices: sampleIndices(h.count, 40), step: 0.05, tolerance: 1e-3) {
            dot(g, self.forward(tp, h: $0, y: y, w: w, graph: graph, scale: scale))
        }
        checkGradient("∂/∂Y", x: y, analytic: gy, indices: sampleIndices(y.count, 40), step: 0.05, tolerance: 1e-3) {
            dot(g, self.forward(tp, h: h, y: $0, w: w, graph: graph, scale: scale))
        }
        checkGradient("∂/∂w", x: w, analytic: gw, indices: sampleIndices(w.count, 40), step: 0.05, tolerance: 1e-3) {
            dot(g, self.forward(tp, h: h, y: y, w: $0, graph: graph, scale: scale))
        }
    }
}
