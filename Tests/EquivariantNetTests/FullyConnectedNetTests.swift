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

        // e3nn's constants as the fixture's text prints them (Python's shortest round-trip repr),
        // parsed by Swift's correctly rounded Double(String): equal to the last bit (Foundation's
        // JSON parser on Linux reads "1.8467055342154763" one ulp low, so it is not used here).
        for (activation, name) in [(NormalizedActivation.silu, "silu"), (.sigmoid, "sigmoid")] {
            let text = try! XCTUnwrap(E3nnFixture.numberText(section: "normalize2mom", key: name))
            XCTAssertEqual(activation.constant, Double(text), name)
            XCTAssertEqual(Float(activation.constant), Float(Double(text)!), name)
        }
    }

    func testGradients() {
        var rng = RandomSource(seed: 41)
        for activation in [NormalizedActivation.silu, .sigmoid] {
            let net = FullyConnectedNet(sizes: [4, 6, 5, 3], activation: activation)
            let rows = 3
            let w = net.initialWeights(using: &rng)
            let x = rng.normalFloats(rows * net.inputSize)
            let g = rng.normalFloats(rows * net.outputSize)
            var gx = [Float](repeating: .nan, count: x.count), gw = [Float](repeating: 0, count: w.count)
            net.backward(weights: w, input: x, rows: rows, gradOutput: g, gradInput: &gx, gradWeights: &gw)
            checkGradient("\(activation) ∂/∂x", x: x, analytic: gx, indices: Array(0..<x.count), step: 1e-2, tolerance: 2e-3) {
                dot(g, self.run(net, w, $0, rows))
            }
            checkGradient("\(activation) ∂/∂W", x: w, analytic: gw, indices: sampleIndices(w.count, 40), step: 1e-2, tolerance: 2e-3) {
                dot(g, self.run(net, $0, x, rows))
            }
        }
    }

    /// Rows cut into blocks of 7 (so 10 blocks and a short last one) on 1, 2 and 3 threads: output,
    /// ∂L/∂x and ∂L/∂W bitwise equal; they agree with one block of all rows to rounding, the output
    /// recomputed from the tape equals the forward's bitwise, and gradients accumulate.
    func testBlocksAndThreads() {
        var rng = RandomSource(seed: 42)
        let net = FullyConnectedNet(sizes: [5, 6, 4, 9], activation: .silu)
        let rows = 66
        let w = net.initialWeights(using: &rng)
        let x = rng.normalFloats(rows * net.inputSize), g = rng.normalFloats(rows * net.outputSize)
        let start = rng.normalFloats(w.count)
        func run(_ blocks: RowBlocks) -> (y: [Float], again: [Float], gx: [Float], gw: [Float]) {
            var tape = FullyConnectedNet.Tape()
            var y = [Float](repeating: .nan, count: rows * net.outputSize), again = y
            var gx = [Float](repeating: .nan, count: x.count), gw = start
            net.forward(weights: w, input: x, output: &y, tape: &tape, blocks: blocks)
            net.recomputeOutput(weights: w, input: x, tape: tape, output: &again, blocks: blocks)
            net.backward(weights: w, input: x, tape: tape, gradOutput: g, gradInput: &gx, gradWeights: &gw, blocks: blocks)
            // ∂L/∂output handed over block by block instead: the same numbers, bitwise.
            var gxBlocks = [Float](repeating: .nan, count: x.count), gwBlocks = start
            let calls = Counter()
            g.withUnsafeBufferPointer { gb in
                let source = gb.baseAddress!, width = net.outputSize
                net.backward(weights: w, input: x, tape: tape,
                             gradOutput: .perBlock { r, target in
                                 calls.add()
                                 target.update(from: source + r.lowerBound * width, count: r.count * width)
                             },
                             gradInput: &gxBlocks, gradWeights: &gwBlocks, blocks: blocks)
            }
            XCTAssertEqual(calls.value, blocks.count)
            XCTAssertEqual(gxBlocks, gx)
            XCTAssertEqual(gwBlocks, gw)
            return (y, again, gx, gw)
        }
        let one = run(RowBlocks(rows: rows, size: 7, threads: 1))
        XCTAssertEqual(one.again, one.y)
        for threads in [2, 3] {
            let r = run(RowBlocks(rows: rows, size: 7, threads: threads))
            XCTAssertEqual(r.y, one.y, "output, \(threads) threads")
            XCTAssertEqual(r.gx, one.gx, "∂L/∂x, \(threads) threads")
            XCTAssertEqual(r.gw, one.gw, "∂L/∂W, \(threads) threads")
        }
        let whole = run(RowBlocks(rows: rows, size: 1024, threads: 1))
        XCTAssertLessThan(maxAbsDiff(toDouble(whole.y), toDouble(one.y)), 1e-5 * maxAbs(toDouble(one.y)))
        XCTAssertLessThan(maxAbsDiff(toDouble(whole.gx), toDouble(one.gx)), 1e-5 * maxAbs(toDouble(one.gx)))
        XCTAssertLessThan(maxAbsDiff(toDouble(whole.gw), toDouble(one.gw)), 1e-5 * maxAbs(toDouble(one.gw)))
        // ∂L/∂W accumulates onto `start`: against a gradient computed from zero.
        var fromZero = [Float](repeating: 0, count: w.count), gx = x
        net.backward(weights: w, input: x, rows: rows, gradOutput: g, gradInput: &gx, gradWeights: &fromZero)
        let expected = zip(start, fromZero).map { Double($0 + $1) }
        XCTAssertLessThan(maxAbsDiff(toDouble(whole.gw), expected), 1e-5 * maxAbs(expected))
    }
}

/// A call counter the per-block closures of several threads can share.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
