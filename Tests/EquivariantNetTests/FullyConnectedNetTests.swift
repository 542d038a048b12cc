import XCTest
@testable import EquivariantNet

final class FullyConnectedNetTests: XCTestCase {
    func run(_ net: FullyConnectedNet, _ w: [Float], _ x: [Float], _ rows: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * net.outputSize)
        net.forward(weights: w, input: x, rows: rows, output: &y)
        return y
    }

    /// e3nn's nn.FullyConnectedNet([5, 7, 6, 4], silu) with fixed weights; and e3nn's normalize2mom
    /// constants.
    func testMatchesE3nn() {
        let f = E3nnFixture.section("fully_connected")
        let net = FullyConnectedNet(sizes: f.ints("sizes"), activation: .silu)
        let w = f.doubles("weights")
        XCTAssertEqual(w.count, net.parameterCount)
        let rows = f.int("rows")
        let y = run(net, toFloat(w), toFloat(f.doubles("input")), rows)
        let reference = f.doubles("output")
        let err = maxAbsDiff(toDouble(y), reference)
        print("FullyConnectedNet parity (Float): max abs error \(err), relative \(err / maxAbs(reference))")
        XCTAssertLessThan(err / maxAbs(reference), 1e-5)

        let constants = E3nnFixture.section("normalize2mom")
        XCTAssertEqual(NormalizedActivation.silu.constant, constants.double("silu"))
        XCTAssertEqual(NormalizedActivation.sigmoid.constant, constants.double("sigmoid"))
    }

    func testGradients() {
        var rng = RandomSource(seed: 41)
        for activation in [NormalizedActivation.silu, .sigmoid] {
            let net = FullyConnectedNet(sizes: [4, 6, 5, 3], activation: activation)
            let rows = 3
            let w = net.initialWeights(using: &rng)
            let x = rng.normalFloats(rows * net.inputSize)
            let g = rng.normalFloats(rows * net.outputSize)
            var tape = FullyConnectedNet.Tape()
            var y = [Float](repeating: 0, count: rows * net.outputSize)
            net.forward(weights: w, input: x, rows: rows, output: &y, tape: &tape)
            var gx = [Float](repeating: .nan, count: x.count), gw = [Float](repeating: 0, count: w.count)
            net.backward(weights: w, tape: tape, gradOutput: g, gradInput: &gx, gradWeights: &gw)
            checkGradient("\(activation) ∂/∂x", x: x, analytic: gx, indices: Array(0..<x.count), step: 1e-2, tolerance: 2e-3) {
                dot(g, self.run(net, w, $0, rows))
            }
            checkGradient("\(activation) ∂/∂W", x: w, analytic: gw, indices: sampleIndices(w.count, 40), step: 1e-2, tolerance: 2e-3) {
                dot(g, self.run(net, $0, x, rows))
            }
        }
    }
}
