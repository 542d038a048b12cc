import XCTest
@testable import EquivariantNet

final class EquivariantLinearTests: XCTestCase {
    func run(_ lin: EquivariantLinear, _ w: [Float], _ x: [Float], _ n: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: n * lin.output.dimension)
        lin.forward(weights: w, input: x, count: n, output: &y)
        return y
    }

    /// e3nn's o3.Linear("3x0e+3x1e+3x2e+3x3e" → "12x0e+3x1e+2x2e+3x3e") with fixed weights.
    func testMatchesE3nn() {
        let f = E3nnFixture.section("linear")
        let lin = EquivariantLinear(input: Irreps(channels: f.ints("channels_in")), output: Irreps(channels: f.ints("channels_out")))
        let w = f.doubles("weights")
        XCTAssertEqual(w.count, lin.parameterCount)
        let n = f.int("count")
        let x = lin.input.fromE3nn(batch: f.doubles("input"), count: n)
        let y = run(lin, toFloat(w), toFloat(x), n)
        let reference = lin.output.fromE3nn(batch: f.doubles("output"), count: n)
        let err = maxAbsDiff(toDouble(y), reference)
        print("o3.Linear parity (Float): max abs error \(err), relative \(err / maxAbs(reference))")
        XCTAssertLessThan(err / maxAbs(reference), 1e-5)
    }

    /// An output l absent from the input is zero; rotating the input rotates the output.
    func testEquivarianceAndMissingPaths() {
        var rng = RandomSource(seed: 21)
        let lin = EquivariantLinear(input: Irreps(channels: [4, 4, 0, 4]), output: Irreps(channels: [16, 4, 3, 2]))
        XCTAssertFalse(lin.hasPath(2))
        let n = 5
        let w = lin.initialWeights(using: &rng)
        let x = rng.normalDoubles(n * lin.input.dimension)
        let y = run(lin, w, toFloat(x), n)
        for i in 0..<n { for k in lin.output.offset(2)..<lin.output.offset(3) { XCTAssertEqual(y[i * lin.output.dimension + k], 0) } }
        let rot = Rotation.random(using: &rng)
        let yRotatedInput = run(lin, w, toFloat(WignerD.rotate(x, irreps: lin.input, count: n, rotation: rot)), n)
        let expected = WignerD.rotate(toDouble(y), irreps: lin.output, count: n, rotation: rot)
        XCTAssertLessThan(maxAbsDiff(toDouble(yRotatedInput), expected) / max(1, maxAbs(expected)), 1e-5)
    }

    func testGradients() {
        var rng = RandomSource(seed: 22)
        let lin = EquivariantLinear(input: Irreps(channels: [3, 2, 3, 1]), output: Irreps(channels: [12, 2, 3, 1]))
        let n = 4
        let w = lin.initialWeights(using: &rng)
        let x = rng.normalFloats(n * lin.input.dimension)
        let g = rng.normalFloats(n * lin.output.dimension)
        var gx = [Float](repeating: .nan, count: x.count), gw = [Float](repeating: 0, count: w.count)
        lin.backward(weights: w, input: x, count: n, gradOutput: g, gradInput: &gx, gradWeights: &gw)
        checkGradient("∂/∂x", x: x, analytic: gx, indices: sampleIndices(x.count, 40), step: 0.05, tolerance: 1e-4) {
            dot(g, self.run(lin, w, $0, n))
        }
        checkGradient("∂/∂W", x: w, analytic: gw, indices: sampleIndices(w.count, 40), step: 0.05, tolerance: 1e-4) {
            dot(g, self.run(lin, $0, x, n))
        }
    }

    /// 45 rows in blocks of 4 on 1, 2, 3 threads: y, ∂L/∂x, ∂L/∂W bitwise equal; against one block
    /// of all rows to rounding (∂L/∂W accumulating onto a non-zero start).
    func testBlocksAndThreads() {
        var rng = RandomSource(seed: 23)
        let lin = EquivariantLinear(input: Irreps(channels: [3, 2, 0, 1]), output: Irreps(channels: [12, 2, 3, 1]))
        let n = 45
        let w = lin.initialWeights(using: &rng)
        let x = rng.normalFloats(n * lin.input.dimension), g = rng.normalFloats(n * lin.output.dimension)
        let start = rng.normalFloats(w.count)
        func run(_ blocks: RowBlocks) -> [[Float]] {
            var y = [Float](repeating: .nan, count: n * lin.output.dimension)
            var gx = [Float](repeating: .nan, count: x.count), gw = start
            lin.forward(weights: w, input: x, output: &y, blocks: blocks)
            lin.backward(weights: w, input: x, gradOutput: g, gradInput: &gx, gradWeights: &gw, blocks: blocks)
            return [y, gx, gw]
        }
        let one = run(RowBlocks(rows: n, size: 4, threads: 1))
        for threads in [2, 3] { XCTAssertEqual(run(RowBlocks(rows: n, size: 4, threads: threads)), one, "\(threads) threads") }
        let whole = run(RowBlocks(rows: n, size: 1000, threads: 1))
        for (a, b) in zip(whole, one) {
            XCTAssertLessThan(maxAbsDiff(toDouble(a), toDouble(b)), 1e-5 * maxAbs(toDouble(a)))
        }
    }
}
