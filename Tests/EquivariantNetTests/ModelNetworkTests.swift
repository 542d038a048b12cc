import Foundation
import XCTest
@testable import EquivariantNet

final class ModelNetworkTests: XCTestCase {

    // MARK: parity with e3nn

    /// tools/e3nn_model.py builds the default network in e3nn (float64), exports its weights in
    /// our flat layout and its predictions on a 64-particle snapshot.
    func testDefaultNetworkReproducesE3nnPredictions() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/model")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("parity.json"))) as! [String: Any]
        let parameters = try fixtureFloats(dir.appendingPathComponent("parameters.f32"))
        let config = ModelConfig()
        XCTAssertEqual(parameters.count, ParameterLayout(config: config).count)
        XCTAssertEqual(json.int("parameter_count"), 42_704)

        let box = json.doubles("box")
        let positions = (json["positions"] as! [[Double]]).flatMap { $0 }
        let species = json.ints("species").map(Int32.init)
        let input = ModelInput.allPairs(positions: positions, box: (box[0], box[1], box[2]), cutoff: config.cutoff, species: species)
        XCTAssertEqual(input.edgeCount, json.int("edge_count"))
        let model = PropensityModel(config: config, avgNeighbors: json.double("avg_neighbors"))
        // The training path: the last layer computes its scalars only.
        let predictions = model.forward(parameters: parameters, input: input)
        XCTAssertFalse(model.tape.hasEveryFeature)
        model.computesEveryFeature = true
        let predictionsOfEveryFeature = model.forward(parameters: parameters, input: input)
        let switchError = maxAbsDiff(toDouble(predictions), toDouble(predictionsOfEveryFeature)) / maxAbs(toDouble(predictions))
        print("scalar-output last layer vs every feature: max |Δ| / max |prediction| = \(switchError)")
        XCTAssertLessThanOrEqual(switchError, 1e-6)

        // Features after the embedding and each layer, first 3 particles (e3nn layout there).
        let heads = json["features_head"] as! [[[Double]]]
        for (k, head) in heads.enumerated() {
            let irreps = k == 0 ? Irreps(channels: [config.channels]) : Irreps(uniform: config.channels, lmax: config.lmax)
            let ours = toDouble(Array(model.tape.features[k][0..<(3 * irreps.dimension)]))
            let theirs = irreps.fromE3nn(batch: head.flatMap { $0 }, count: 3)
            XCTAssertLessThanOrEqual(maxAbsDiff(ours, theirs), 1e-4 * max(maxAbs(theirs), 1e-3), "features after stage \(k)")
        }
        let reference = (json["predictions"] as! [[Double]]).flatMap { $0 }
        let error = maxAbsDiff(toDouble(predictions), reference) / maxAbs(reference)
        print("e3nn parity: max |Δ| / max |prediction| = \(error) over \(reference.count) values")
        XCTAssertLessThanOrEqual(error, 3e-6)  // achieved 1.3e-6 (portable build), 9.4e-7 (host-tuned)
    }

    /// The gradient of a training loss (species-A mean of (prediction − sin(i + 2t))²) against
    /// e3nn's autograd on the default network (tools/e3nn_model.py, gradient.f32).
    func testDefaultNetworkGradientReproducesE3nnAutograd() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/model")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("parity.json"))) as! [String: Any]
        func floats(_ name: String) throws -> [Float] { try fixtureFloats(dir.appendingPathComponent(name)) }
        let parameters = try floats("parameters.f32"), reference = try floats("gradient.f32")
        let config = ModelConfig()
        let box = json.doubles("box")
        let positions = (json["positions"] as! [[Double]]).flatMap { $0 }
        let species = json.ints("species").map(Int32.init)
        let input = ModelInput.allPairs(positions: positions, box: (box[0], box[1], box[2]), cutoff: config.cutoff, species: species)
        let model = PropensityModel(config: config, avgNeighbors: json.double("avg_neighbors"))
        let t = config.times.count
        let targets = (0..<(species.count * t)).map { Float(sin(Double($0 / t) + 2 * Double($0 % t))) }
        let predictions = model.forward(parameters: parameters, input: input)
        var gPred = [Float](repeating: 0, count: predictions.count)
        let count = PropensityLoss.termCount(species: species, trainSpecies: [0], times: t)
        let loss = PropensityLoss.evaluate(predictions: predictions, targets: targets, species: species, trainSpecies: [0],
                                           times: t, globalCount: count, gradient: &gPred)
        XCTAssertEqual(loss, json.double("loss"), accuracy: 1e-5 * json.double("loss"))
        var gradient = [Float](repeating: 0, count: parameters.count)
        model.backward(parameters: parameters, input: input, gradPredictions: gPred, gradient: &gradient)
        let ours = toDouble(gradient), theirs = toDouble(reference)
        let error = maxAbsDiff(ours, theirs) / maxAbs(theirs)
        let normError = zip(ours, theirs).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            / theirs.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        print("e3nn gradient parity: max |Δ| / max |g| = \(error), ‖Δ‖ / ‖g‖ = \(normError) over \(ours.count) parameters")
        XCTAssertLessThanOrEqual(error, 2e-6)       // achieved 7.4e-7
        XCTAssertLessThanOrEqual(normError, 2e-6)   // achieved 6.0e-7
        // Every block's gradient, not just the large ones.
        for block in model.layout.blocks {
            let d = maxAbsDiff(Array(ours[block.range]), Array(theirs[block.range]))
            XCTAssertLessThanOrEqual(d, 1e-3 * max(maxAbs(Array(theirs[block.range])), 1e-6), block.name)
        }
        // The pass above ran the last layer's l = 0 paths only; with every feature computed, the
        // gradient is the same (the l ≥ 1 part feeds nothing the loss reads: e3nn's autograd
        // gives its weights exact zeros, and so do we, both ways).
        let lastLayer = model.layout.layers[config.layers - 1]
        let deadRadialColumns = lastLayer.paths.enumerated().filter { $0.element.l3 > 0 }.flatMap { p in
            (0..<config.channels).map { p.offset * config.channels + $0 }
        }
        let lastRadial = model.layout.block(named: "layer\(config.layers - 1).radial.w\(lastLayer.radialSizes.count - 1)")!
        let deadIndices = (0..<lastRadial.rows).flatMap { r in deadRadialColumns.map { lastRadial.offset + r * lastRadial.cols + $0 } }
        XCTAssertEqual(deadIndices.count, 16 * 30 * config.channels)
        XCTAssertEqual(deadIndices.map { reference[$0] }.filter { $0 != 0 }.count, 0, "e3nn: dead radial weights")
        XCTAssertEqual(deadIndices.map { gradient[$0] }.filter { $0 != 0 }.count, 0, "ours: dead radial weights")
        model.computesEveryFeature = true
        _ = model.forward(parameters: parameters, input: input)
        var fullGradient = [Float](repeating: 0, count: parameters.count)
        model.backward(parameters: parameters, input: input, gradPredictions: gPred, gradient: &fullGradient)
        let switchError = maxAbsDiff(toDouble(fullGradient), ours) / maxAbs(ours)
        print("gradient, scalar-output last layer vs every feature: max |Δ| / max |g| = \(switchError)")
        XCTAssertLessThanOrEqual(switchError, 1e-6)
        XCTAssertEqual(deadIndices.map { fullGradient[$0] }.filter { $0 != 0 }.count, 0, "ours, every feature: dead radial weights")
    }

    // MARK: gradient

    /// ∂loss/∂θ against central finite differences of the Float forward pass, along a random unit
    /// direction inside every parameter block (so every block's gradient is checked), plus single
    /// coordinates of the smaller blocks.
    func checkWholeModelGradient(config: ModelConfig, periodic: Bool) {
        let snap = latticeSnapshot(cells: 3, density: 0.42, seed: 11)  // L ≈ 4, ~20 neighbors
        var rng = RandomSource(seed: 5)
        let extra = config.extraScalars.count
        let scalars = (0..<(snap.species.count * extra)).map { _ in Float(rng.normal()) }
        let vectors = (0..<(3 * snap.species.count * config.extraVectors.count)).map { _ in Float(rng.normal()) }
        let input = ModelInput.allPairs(positions: snap.positions, box: periodic ? (snap.box, snap.box, snap.box) : nil,
                                        cutoff: config.cutoff, species: snap.species, scalars: scalars, extraVectors: vectors)
        let model = PropensityModel(config: config, avgNeighbors: Double(input.edgeCount) / Double(input.nodeCount))
        let theta = model.layout.initialParameters(using: &rng)
        let t = config.times.count
        let targets = (0..<(snap.species.count * t)).map { _ in Float(rng.normal()) }
        let trainSpecies = [0, 1]
        let count = PropensityLoss.termCount(species: snap.species, trainSpecies: trainSpecies, times: t)

        func loss(_ p: [Float]) -> Double {
            let pred = model.forward(parameters: p, input: input)
            var g = [Float](repeating: 0, count: pred.count)
            return PropensityLoss.evaluate(predictions: pred, targets: targets, species: snap.species,
                                           trainSpecies: trainSpecies, times: t, globalCount: count, gradient: &g)
        }
        let pred = model.forward(parameters: theta, input: input)
        var gPred = [Float](repeating: 0, count: pred.count)
        _ = PropensityLoss.evaluate(predictions: pred, targets: targets, species: snap.species,
                                    trainSpecies: trainSpecies, times: t, globalCount: count, gradient: &gPred)
        var gradient = [Float](repeating: 0, count: theta.count)
        model.backward(parameters: theta, input: input, gradPredictions: gPred, gradient: &gradient)

        // Float noise of the central difference is ~1e-7·loss/ε; blocks with a tiny gradient are
        // measured against 1 % of the whole gradient's norm so that noise does not dominate.
        let eps: Float = 1e-2
        let floor = 1e-2 * Adam.norm(gradient)
        var worst = 0.0
        for block in model.layout.blocks {
            var v = [Float](repeating: 0, count: theta.count)
            var norm = 0.0
            for i in block.range { v[i] = Float(rng.normal()); norm += Double(v[i] * v[i]) }
            for i in block.range { v[i] /= Float(norm.squareRoot()) }
            let plus = zip(theta, v).map { $0 + eps * $1 }, minus = zip(theta, v).map { $0 - eps * $1 }
            let numeric = (loss(plus) - loss(minus)) / (2 * Double(eps))
            let analytic = dot(gradient, v)
            let gNorm = block.range.reduce(0.0) { $0 + Double(gradient[$1] * gradient[$1]) }.squareRoot()
            let err = abs(numeric - analytic) / (gNorm + floor)
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, 2e-3, "\(block.name): numeric \(numeric) analytic \(analytic) |g| \(gNorm)")
        }
        print("gradient check (\(config.residual ? "residual" : "plain"), \(periodic ? "periodic" : "cluster")): "
              + "worst |Δ directional derivative| / (|g_block| + 0.01 |g|) = \(worst) over \(model.layout.blocks.count) blocks")
        XCTAssertGreaterThan(Adam.norm(gradient), 0)
    }

    func testWholeModelGradientMatchesFiniteDifferences() {
        checkWholeModelGradient(config: smallConfig(), periodic: true)
    }

    /// lmax is a configuration choice: the gate then needs (1 + lmax)·C scalars.
    func testWholeModelGradientMatchesFiniteDifferencesForLmax1And2() {
        for lmax in [1, 2] {
            var config = smallConfig()
            config.lmax = lmax
            checkWholeModelGradient(config: config, periodic: true)
        }
    }

    func testWholeModelGradientWithResidualAndExtraScalars() {
        checkWholeModelGradient(config: smallConfig(residual: true, extraScalars: ["epot_inherent"]), periodic: false)
    }

    /// Extra vectors: the embedding's l = 1 block and layer 0's l = 1 input paths.
    func testWholeModelGradientWithExtraVectors() {
        var config = smallConfig(extraScalars: ["displacement_inherent"])
        config.extraVectors = ["to_inherent", "other"]
        checkWholeModelGradient(config: config, periodic: true)
    }

    // MARK: threads and buffer reuse

    /// Predictions and the flat gradient of a loss, for `model` on `input` with `theta`.
    func predictionsAndGradient(_ model: PropensityModel, _ theta: [Float], _ input: ModelInput) -> (prediction: [Float], gradient: [Float]) {
        let t = model.config.times.count
        let pred = model.forward(parameters: theta, input: input)
        let targets = (0..<pred.count).map { Float(sin(Double($0 / t) + 2 * Double($0 % t))) }
        var gPred = [Float](repeating: 0, count: pred.count)
        let count = PropensityLoss.termCount(species: input.species, trainSpecies: [0, 1], times: t)
        _ = PropensityLoss.evaluate(predictions: pred, targets: targets, species: input.species, trainSpecies: [0, 1],
                                    times: t, globalCount: count, gradient: &gPred)
        var gradient = [Float](repeating: 0, count: theta.count)
        model.backward(parameters: theta, input: input, gradPredictions: gPred, gradient: &gradient)
        return (pred, gradient)
    }

    /// Forward and backward on 1, 2 and 3 threads give bitwise the same predictions and gradient,
    /// with C = 8 (the fast tensor-product kernels) and C = 3 (the reference loops), residual on,
    /// in row blocks small enough that every pass has many blocks (64 particles, ~17 neighbors:
    /// 8 node blocks of 8, 11 edge blocks of 100). The default blocks give the same numbers to
    /// rounding.
    func testPredictionsAndGradientBitwiseIndependentOfThreads() {
        let snap = latticeSnapshot(cells: 4, density: 0.5, seed: 12)
        var c8 = smallConfig(residual: true)
        c8.channels = 8
        c8.lmax = 2
        c8.layers = 2
        for config in [c8, smallConfig(residual: true)] {
            let input = ModelInput.allPairs(positions: snap.positions, box: (snap.box, snap.box, snap.box),
                                            cutoff: config.cutoff, species: snap.species)
            XCTAssertGreaterThan(input.edgeCount, 1000)
            let model = PropensityModel(config: config, avgNeighbors: Double(input.edgeCount) / Double(input.nodeCount))
            var rng = RandomSource(seed: 8)
            let theta = model.layout.initialParameters(using: &rng)
            model.nodeBlockSize = 8
            model.edgeBlockSize = 100
            model.threads = 1
            let one = predictionsAndGradient(model, theta, input)
            for threads in [2, 3] {
                model.threads = threads
                let r = predictionsAndGradient(model, theta, input)
                XCTAssertEqual(r.prediction, one.prediction, "C = \(config.channels), predictions, \(threads) threads")
                XCTAssertEqual(r.gradient, one.gradient, "C = \(config.channels), gradient, \(threads) threads")
            }
            model.nodeBlockSize = RowBlocks.nodeBlockSize
            model.edgeBlockSize = RowBlocks.edgeBlockSize
            let whole = predictionsAndGradient(model, theta, input)
            let dp = maxAbsDiff(toDouble(whole.prediction), toDouble(one.prediction))
            let dg = maxAbsDiff(toDouble(whole.gradient), toDouble(one.gradient))
            print("C = \(config.channels): small vs default blocks, max |Δ prediction| \(dp), max |Δ gradient| \(dg)")
            XCTAssertLessThanOrEqual(dp, 1e-5 * maxAbs(toDouble(one.prediction)))
            XCTAssertLessThanOrEqual(dg, 1e-4 * maxAbs(toDouble(one.gradient)))
            XCTAssertGreaterThan(maxAbs(toDouble(one.gradient)), 0)
        }
    }

    /// `backward(firstTrained:)` stops below the lowest stage holding a wanted parameter: every
    /// parameter of that stage and above gets the full pass's gradient bitwise, the stages below
    /// are left untouched (NaN sentinels survive).
    func testBackwardFromAFirstTrainedParameterMatchesTheFullPass() {
        let config = smallConfig(residual: true)
        let snap = latticeSnapshot(cells: 3, density: 0.5, seed: 21)
        let input = ModelInput.allPairs(positions: snap.positions, box: (snap.box, snap.box, snap.box),
                                        cutoff: config.cutoff, species: snap.species)
        let model = PropensityModel(config: config, avgNeighbors: 15)
        var rng = RandomSource(seed: 6)
        let theta = model.layout.initialParameters(using: &rng)
        let full = predictionsAndGradient(model, theta, input)
        let t = config.times.count
        var gPred = [Float](repeating: 0, count: full.prediction.count)
        let targets = (0..<gPred.count).map { Float(sin(Double($0 / t) + 2 * Double($0 % t))) }
        let count = PropensityLoss.termCount(species: input.species, trainSpecies: [0, 1], times: t)
        _ = PropensityLoss.evaluate(predictions: full.prediction, targets: targets, species: input.species,
                                    trainSpecies: [0, 1], times: t, globalCount: count, gradient: &gPred)
        let layout = model.layout
        let layerStart = { (k: Int) in layout.layers[k].selfLinear.compactMap { $0 }[0].offset }
        // (first trained parameter, where the computed part starts): the decoder; the middle of
        // the last layer's radial MLP (the whole layer is computed); layer 1; the embedding's last.
        let cases = [(layout.decoderOffset, layout.decoderOffset),
                     (layout.layers[2].radialOffset + 3, layerStart(2)),
                     (layerStart(1), layerStart(1)),
                     (layout.embedding.range.upperBound - 1, 0)]
        for (first, computedFrom) in cases {
            var gradient = [Float](repeating: .nan, count: theta.count)
            for i in computedFrom..<theta.count { gradient[i] = 0 }
            _ = model.forward(parameters: theta, input: input)
            model.backward(parameters: theta, input: input, gradPredictions: gPred, gradient: &gradient, firstTrained: first)
            XCTAssertEqual(Array(gradient[computedFrom...]), Array(full.gradient[computedFrom...]), "first trained \(first)")
            XCTAssertTrue(gradient[..<computedFrom].allSatisfy { $0.isNaN }, "first trained \(first): a skipped stage was written")
        }
        XCTAssertGreaterThan(maxAbs(toDouble(Array(full.gradient[layout.decoderOffset...]))), 0)
    }

    /// The work buffers are reused between snapshots: A, then B (other N and E), then A again
    /// gives bitwise A's first predictions and gradient, and B's equal a fresh model's.
    func testBufferReuseAcrossSnapshotsOfDifferentSize() {
        let config = smallConfig(residual: true)
        let a = latticeSnapshot(cells: 3, density: 0.42, seed: 11), b = latticeSnapshot(cells: 4, density: 0.6, seed: 13)
        let inputA = ModelInput.allPairs(positions: a.positions, box: (a.box, a.box, a.box), cutoff: config.cutoff, species: a.species)
        let inputB = ModelInput.allPairs(positions: b.positions, box: (b.box, b.box, b.box), cutoff: config.cutoff, species: b.species)
        let model = PropensityModel(config: config, avgNeighbors: 20)
        var rng = RandomSource(seed: 4)
        let theta = model.layout.initialParameters(using: &rng)
        let first = predictionsAndGradient(model, theta, inputA)
        let onB = predictionsAndGradient(model, theta, inputB)
        let again = predictionsAndGradient(model, theta, inputA)
        XCTAssertEqual(again.prediction, first.prediction)
        XCTAssertEqual(again.gradient, first.gradient)
        let fresh = predictionsAndGradient(PropensityModel(config: config, avgNeighbors: 20), theta, inputB)
        XCTAssertEqual(onB.prediction, fresh.prediction)
        XCTAssertEqual(onB.gradient, fresh.gradient)
    }
}
