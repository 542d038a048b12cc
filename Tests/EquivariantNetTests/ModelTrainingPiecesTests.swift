import Foundation
import XCTest
@testable import EquivariantNet

/// The pieces of training that do not need the network: configuration, parameter layout, Adam,
/// loss, standardization, metrics — each against an independent computation.
final class ModelTrainingPiecesTests: XCTestCase {

    func testDefaultLayoutHasTheParameterCountOfTheE3nnBuild() {
        // 42,704 is counted on the e3nn build (docs/model.md; tools/e3nn_model.py asserts it too).
        let layout = ParameterLayout(config: ModelConfig())
        XCTAssertEqual(layout.count, 42_704)
        XCTAssertEqual(layout.layers[0].paths.count, 4)
        XCTAssertEqual(layout.layers[1].paths.count, 34)
        // Blocks tile the buffer without gaps or overlaps.
        var next = 0
        for b in layout.blocks {
            XCTAssertEqual(b.offset, next, b.name)
            next += b.count
        }
        XCTAssertEqual(next, layout.count)
        XCTAssertEqual(layout.block(named: "layer0.radial.w3")?.cols, 4 * 8)
        XCTAssertNil(layout.layers[0].selfLinear[1])
        XCTAssertEqual(layout.decoderSizes, [8, 32, 32, 12])
    }

    func testConfigDefaultsForMissingKeysAndErrorOnUnknownKeys() throws {
        let json = #"{"model": {"channels": 4, "times": [1, 2]}, "training": {"learningRate": 0.01, "gradientClip": 5}}"#
        let c = try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.model.channels, 4)
        XCTAssertEqual(c.model.times, [1, 2])
        XCTAssertEqual(c.model.layers, 8)
        XCTAssertEqual(c.training.learningRate, 0.01)
        XCTAssertEqual(c.training.gradientClip, 5)
        XCTAssertEqual(c.training.trainSpecies, [0])
        // Round trip through the checkpoint's JSON.
        let back = try JSONDecoder().decode(RunConfig.self, from: Data(c.json().utf8))
        XCTAssertEqual(back, c)

        let typo = #"{"model": {"chanels": 4}}"#
        XCTAssertThrowsError(try JSONDecoder().decode(RunConfig.self, from: Data(typo.utf8))) { error in
            XCTAssertTrue("\(error)".contains("chanels"), "\(error)")
        }
        var bad = RunConfig()
        bad.model.times = [1, 0.5]
        XCTAssertThrowsError(try bad.validate())
    }

    func testAdamMatchesAHandComputationOfTwoSteps() {
        // Two steps of Adam on one parameter, written out from Kingma & Ba / PyTorch's formula.
        var config = TrainingConfig()
        config.learningRate = 0.1
        var adam = Adam(parameterCount: 2, config: config)
        var p: [Float] = [1.0, -2.0]
        let grads: [[Float]] = [[0.5, -1.0], [-0.25, 3.0]]
        var ref: [Double] = [1.0, -2.0]
        var m = [0.0, 0.0], v = [0.0, 0.0]
        for (t, g) in grads.enumerated() {
            var gg = g
            adam.update(parameters: &p, gradient: &gg, totalSteps: 2)
            for i in 0..<2 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                let mh = m[i] / (1 - pow(0.9, Double(t + 1)))
                let vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                ref[i] -= 0.1 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        for i in 0..<2 { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 1e-6) }
        // The first Adam step moves every parameter by the learning rate (sign of the gradient).
        XCTAssertEqual(adam.step, 2)
    }

    func testGradientClippingScalesToTheMaximumNorm() {
        var config = TrainingConfig()
        config.gradientClip = 1.0
        var adam = Adam(parameterCount: 2, config: config)
        var p: [Float] = [0, 0]
        var g: [Float] = [3, 4]
        let report = adam.update(parameters: &p, gradient: &g, totalSteps: 1)
        XCTAssertEqual(report.gradientNorm, 5, accuracy: 1e-12)
        XCTAssertTrue(report.clipped)
        XCTAssertEqual(Double(g[0]), 0.6, accuracy: 1e-6)
        XCTAssertEqual(Double(g[1]), 0.8, accuracy: 1e-6)
    }

    func testSchedules() {
        let cosine = LearningRateSchedule(kind: "cosine", warmupSteps: 10, minFactor: 0.1)
        XCTAssertEqual(cosine.factor(step: 0, totalSteps: 110), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cosine.factor(step: 9, totalSteps: 110), 1.0, accuracy: 1e-12)
        XCTAssertEqual(cosine.factor(step: 10, totalSteps: 110), 1.0, accuracy: 1e-12)
        XCTAssertEqual(cosine.factor(step: 60, totalSteps: 110), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cosine.factor(step: 110, totalSteps: 110), 0.1, accuracy: 1e-12)
        let exp = LearningRateSchedule(kind: "exponential", decay: 0.5, stepsPerDecay: 100)
        XCTAssertEqual(exp.factor(step: 200, totalSteps: 1000), 0.25, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule().factor(step: 123, totalSteps: 1000), 1)
    }

    func testLossIsTheMeanOverTheGlobalCountAndItsGradient() {
        let species: [Int32] = [0, 1, 0]
        let pred: [Float] = [1, 2, 3, 4, 5, 6]
        let target: [Float] = [0, 2, 3, 0, 5, 4]
        var grad = [Float](repeating: 9, count: 6)
        let count = PropensityLoss.termCount(species: species, trainSpecies: [0], times: 2)
        XCTAssertEqual(count, 4)
        // Pretend another rank holds 4 more terms: the global count is 8.
        let loss = PropensityLoss.evaluate(predictions: pred, targets: target, species: species, trainSpecies: [0],
                                           times: 2, globalCount: 8, gradient: &grad)
        XCTAssertEqual(loss, (1 + 0 + 0 + 4) / 8.0, accuracy: 1e-12)
        XCTAssertEqual(grad, [2.0 / 8, 0, 0, 0, 0, 4.0 / 8])
    }

    func testStandardizationRoundTripsAndUsesPopulationStatistics() {
        var sums = MomentSums(slots: 2 * 1)
        let species: [Int32] = [0, 0, 1, 0]
        let targets: [Float] = [1, 2, 10, 3]
        Normalization.accumulateTargets(targets, species: species, times: 1, into: &sums)
        let (mean, std) = sums.meanAndStd()
        XCTAssertEqual(mean, [2, 10])
        XCTAssertEqual(std[0], (2.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(std[1], 1)  // a single value: constant slot
        let norm = Normalization(targetMean: mean, targetStd: std)
        let z = norm.standardize(targets: targets, species: species, times: 1)
        XCTAssertEqual(Double(z[0]), -1 / (2.0 / 3).squareRoot(), accuracy: 1e-6)
        let back = norm.physical(predictions: z, species: species, times: 1)
        for i in 0..<4 { XCTAssertEqual(back[i], targets[i], accuracy: 1e-5) }
    }

    func testPearsonAgreesWithTheTwoPassFormula() {
        var rng = SystemRandomNumberGenerator()
        var x: [Double] = [], y: [Double] = []
        for _ in 0..<500 {
            let a = Double.random(in: 0...1, using: &rng)
            x.append(a + 100)  // an offset: the one-pass sums must not lose the correlation
            y.append(0.3 * a + Double.random(in: 0...1, using: &rng))
        }
        let mx = x.reduce(0, +) / 500, my = y.reduce(0, +) / 500
        var cxy = 0.0, cxx = 0.0, cyy = 0.0
        for i in 0..<500 {
            cxy += (x[i] - mx) * (y[i] - my); cxx += (x[i] - mx) * (x[i] - mx); cyy += (y[i] - my) * (y[i] - my)
        }
        let direct = cxy / (cxx * cyy).squareRoot()
        var s = PearsonSums()
        for i in 0..<500 { s.add(x[i], y[i]) }
        XCTAssertEqual(s.pearson, direct, accuracy: 1e-9)
    }

    func testMetricsPooledVersusPerSnapshotMeanAndMSE() {
        // Two snapshots, one time, species A only. Within each snapshot pred = target exactly
        // (per-snapshot ρ = 1), but the second is offset: pooled ρ < 1.
        var m = PropensityMetrics(species: 2, times: 1)
        m.add(predictions: [1, 2, 3], targets: [1, 2, 3], species: [0, 0, 0])
        m.add(predictions: [1, 2, 3], targets: [11, 12, 13], species: [0, 0, 0])
        XCTAssertEqual(m.pearsonMean(species: 0, time: 0), 1, accuracy: 1e-12)
        let x: [Double] = [1, 2, 3, 1, 2, 3], y: [Double] = [1, 2, 3, 11, 12, 13]
        var s = PearsonSums()
        for i in 0..<6 { s.add(x[i], y[i]) }
        XCTAssertEqual(m.pearsonPooled(species: 0, time: 0), s.pearson, accuracy: 1e-12)
        XCTAssertLessThan(m.pearsonPooled(species: 0, time: 0), 0.2)
        XCTAssertEqual(m.mse(species: 0, time: 0), 300.0 / 6, accuracy: 1e-12)
        XCTAssertTrue(m.pearsonPooled(species: 1, time: 0).isNaN)
        // Sums survive the flat round trip an all-reduce uses.
        let r = PropensityMetrics(species: 2, times: 1, flat: m.flat)
        XCTAssertEqual(r.pearsonPooled(species: 0, time: 0), m.pearsonPooled(species: 0, time: 0))
        XCTAssertEqual(r.snapshots, 2)
    }

    func testTimesMatchByValue() {
        let pairs = matchTimes(model: [0.1, 0.5, 2, 5, 12, 30], data: [0.5, 1, 12.0000000001, 100])
        XCTAssertEqual(pairs.map(\.model), [1, 4])
        XCTAssertEqual(pairs.map(\.data), [0, 2])
        XCTAssertTrue(matchTimes(model: [1, 2], data: [3]).isEmpty)
    }
}
