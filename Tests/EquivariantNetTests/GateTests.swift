import XCTest
@testable import EquivariantNet

final class GateTests: XCTestCase {
    func run(_ gate: Gate, _ x: [Float], _ n: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: n * gate.output.dimension)
        gate.forward(input: x, count: n, output: &y)
        return y
    }

    /// e3nn's nn.Gate("3x0e", [silu], "9x0e", [sigmoid], "3x1e+3x2e+3x3e").
    func testMatchesE3nn() {
        let f = E3nnFixture.section("gate")
        let gate = Gate(output: Irreps(channels: [f.int("scalars")] + f.ints("gated")))
        XCTAssertEqual(f["irreps_in"] as? String, gate.input.description)
        XCTAssertEqual(f["irreps_out"] as? String, gate.output.description)
        let n = f.int("count")
        let y = run(gate, toFloat(gate.input.fromE3nn(batch: f.doubles("input"), count: n)), n)
        let reference = gate.output.fromE3nn(batch: f.doubles("output"), count: n)
        let err = maxAbsDiff(toDouble(y), reference)
        print("Gate parity (Float): max abs error \(err), relative \(err / maxAbs(reference))")
        XCTAssertLessThan(err / maxAbs(reference), 1e-5)
    }

    func testEquivariance() {
        var rng = RandomSource(seed: 31)
        let gate = Gate(output: Irreps(uniform: 4, lmax: 3))
        let n = 5
        let x = rng.normalDoubles(n * gate.input.dimension)
        let rot = Rotation.random(using: &rng)
        let y = run(gate, toFloat(x), n)
        let yr = run(gate, toFloat(WignerD.rotate(x, irreps: gate.input, count: n, rotation: rot)), n)
        let expected = WignerD.rotate(toDouble(y), irreps: gate.output, count: n, rotation: rot)
        XCTAssertLessThan(maxAbsDiff(toDouble(yr), expected) / max(1, maxAbs(expected)), 1e-5)
    }

    func testGradient() {
        var rng = RandomSource(seed: 32)
        let gate = Gate(output: Irreps(channels: [3, 2, 3, 1]))
        let n = 4
        let x = rng.normalFloats(n * gate.input.dimension)
        let g = rng.normalFloats(n * gate.output.dimension)
        var gx = [Float](repeating: .nan, count: x.count)
        gate.backward(input: x, count: n, gradOutput: g, gradInput: &gx)
        checkGradient("∂/∂x", x: x, analytic: gx, indices: Array(0..<x.count), step: 1e-2, tolerance: 2e-3) {
            dot(g, self.run(gate, $0, n))
        }
    }

    /// Blocks of 3 rows on 2 and 3 threads give bitwise the one-thread output and ∂L/∂x.
    func testBlocksAndThreads() {
        var rng = RandomSource(seed: 33)
        let gate = Gate(output: Irreps(channels: [3, 2, 3, 1]))
        let n = 20
        let x = rng.normalFloats(n * gate.input.dimension), g = rng.normalFloats(n * gate.output.dimension)
        var y1 = [Float](repeating: .nan, count: n * gate.output.dimension), gx1 = [Float](repeating: .nan, count: x.count)
        gate.forward(input: x, count: n, output: &y1)
        gate.backward(input: x, count: n, gradOutput: g, gradInput: &gx1)
        for threads in [2, 3] {
            let blocks = RowBlocks(rows: n, size: 3, threads: threads)
            var y = [Float](repeating: .nan, count: y1.count), gx = [Float](repeating: .nan, count: x.count)
            gate.forward(input: x, output: &y, blocks: blocks)
            gate.backward(input: x, gradOutput: g, gradInput: &gx, blocks: blocks)
            XCTAssertEqual(y, y1)
            XCTAssertEqual(gx, gx1)
        }
    }
}
