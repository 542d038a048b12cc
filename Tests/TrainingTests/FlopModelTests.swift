import EquivariantNet
import Training
import XCTest

/// `NetworkFlops` against the formula and the totals of docs/benchmarks.md ("FLOP count").
final class FlopModelTests: XCTestCase {
    /// The default network's documented coupling and path counts: T_0 = 16, P_0 = 4 (scalar
    /// input), T_k = 611, P_k = 34 for k ≥ 1.
    func testDocumentedCouplingCounts() {
        let first = TensorProductUVU(channels: 8, inputLmax: 0, shLmax: 3, outputLmax: 3)
        let other = TensorProductUVU(channels: 8, inputLmax: 3, shLmax: 3, outputLmax: 3)
        XCTAssertEqual(first.couplings.count, 16)
        XCTAssertEqual(other.couplings.count, 611)
        XCTAssertEqual(first.weightsPerEdge, 4 * 8)
        XCTAssertEqual(other.weightsPerEdge, 34 * 8)
    }

    /// Per edge, a training step costs Σ_k [6·T_k·C + 6·A_k − 2·8·16] FLOP, with the radial MLP's
    /// A_k = 8·16 + 16·16 + 16·P_k·C (forward 2·A_k, backward 2·A_k for ∂W plus 2·A_k minus the
    /// first matrix for ∂input): 408,304 for the default network.
    func testEdgeTermsFollowTheFormula() {
        let config = ModelConfig()
        let c = 8.0
        func perEdge(t: Double, p: Double) -> Double {
            let a = 8.0 * 16 + 16 * 16 + 16 * p * c
            return 6 * t * c + 6 * a - 2 * 8 * 16
        }
        let expected = perEdge(t: 16, p: 4) + 7 * perEdge(t: 611, p: 34)
        XCTAssertEqual(expected, 408_304)
        let a = NetworkFlops(config: config, nodes: 1000, edges: 39_334)
        let b = NetworkFlops(config: config, nodes: 1000, edges: 49_334)
        XCTAssertEqual(b.trainStep - a.trainStep, 10_000 * expected, accuracy: 1)
        // Forward alone per edge: 2·T_k·C + 2·A_k.
        let forwardFirst: Double = 2 * 16 * c + 2 * 896
        let forwardOther: Double = 2 * 611 * c + 2 * 4736
        let forward = forwardFirst + 7 * forwardOther
        XCTAssertEqual(b.forward - a.forward, 10_000 * forward, accuracy: 1)
    }

    /// The documented totals: 16.18 GFLOP per training step at N = 1000 (E = 39,334), 5.42 of
    /// them forward, 66.20 at N = 4096 (E = 160,914); executed (radial MLPs on E/2 pair rows,
    /// the last layer's l = 0 paths only): 10.63 and 43.47.
    func testDocumentedTotals() {
        let config = ModelConfig()
        func gflop(_ x: Double) -> Double { (x / 1e7).rounded() / 100 }
        let n1000 = NetworkFlops(config: config, nodes: 1000, edges: 39_334)
        XCTAssertEqual(gflop(n1000.trainStep), 16.18)
        XCTAssertEqual(gflop(n1000.forward), 5.42)
        XCTAssertEqual(gflop(NetworkFlops(config: config, nodes: 4096, edges: 160_914).trainStep), 66.20)
        let executed1000 = NetworkFlops(config: config, nodes: 1000, edges: 39_334, radialRows: 39_334 / 2,
                                        scalarOutputLastLayer: true)
        XCTAssertEqual(gflop(executed1000.trainStep), 10.63)
        let executed4096 = NetworkFlops(config: config, nodes: 4096, edges: 160_914, radialRows: 160_914 / 2,
                                        scalarOutputLastLayer: true)
        XCTAssertEqual(gflop(executed4096.trainStep), 43.47)
    }

    /// The node terms by hand: embedding 2·N·S·C both ways; per layer the self linear (input
    /// orders 0 only in layer 0, else 0…3) and the post linear onto [4C, C, C, C], backward 2×;
    /// the decoder [C, 32, 32, T·S] as an MLP on N rows.
    func testNodeTermsFollowTheFormula() {
        let config = ModelConfig()
        let c = 8.0, n = 10.0
        let z: [Double] = [4 * c, c, c, c]
        func linear(_ input: [Double]) -> Double {
            var products = 0.0
            for l in 0..<input.count { products += Double(2 * l + 1) * input[l] * z[l] }
            return 2 * n * products
        }
        let post = linear([c, c, c, c])
        let layers = (linear([c]) + post) + 7 * (linear([c, c, c, c]) + post)
        let decoderProducts: Double = c * 32 + 32 * 32 + 32 * 12
        let decoder: Double = 2 * n * decoderProducts
        let embedding: Double = 2 * n * 2 * c
        let forward: Double = embedding + layers + decoder
        let decoderBackward: Double = 2 * decoder - 2 * n * c * 32
        let backward: Double = embedding + 2 * layers + decoderBackward
        let f = NetworkFlops(config: config, nodes: 10, edges: 0)
        XCTAssertEqual(f.forward, forward, accuracy: 1e-6)
        XCTAssertEqual(f.backward, backward, accuracy: 1e-6)
    }
}
