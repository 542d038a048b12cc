import Foundation
import XCTest
@testable import EquivariantNet

/// The network with extra per-particle vectors (l = 1 inputs of the embedding, e.g. r_IS − r):
/// e3nn parity of predictions and gradient (tools/e3nn_model.py --scalars 1 --vectors 1,
/// Fixtures/model-vectors), and invariance when positions and vectors rotate together.
final class ModelVectorInputTests: XCTestCase {
    struct Fixture {
        let json: [String: Any], parameters: [Float], gradient: [Float]
        let config: ModelConfig, input: ModelInput, species: [Int32]
    }

    func fixture() throws -> Fixture {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/model-vectors")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("parity.json"))) as! [String: Any]
        func floats(_ name: String) throws -> [Float] { try fixtureFloats(dir.appendingPathComponent(name)) }
        var config = ModelConfig()
        config.extraScalars = ["s"]
        config.extraVectors = ["v"]
        let box = json.doubles("box")
        let species = json.ints("species").map(Int32.init)
        let scalars = (json["extra_scalars"] as! [[Double]]).flatMap { $0 }.map(Float.init)
        let vectors = (json["extra_vectors"] as! [[[Double]]]).flatMap { $0.flatMap { $0 } }.map(Float.init)
        let input = ModelInput.allPairs(positions: (json["positions"] as! [[Double]]).flatMap { $0 }, box: (box[0], box[1], box[2]),
                                        cutoff: config.cutoff, species: species, scalars: scalars, extraVectors: vectors)
        return Fixture(json: json, parameters: try floats("parameters.f32"), gradient: try floats("gradient.f32"),
                       config: config, input: input, species: species)
    }

    func testLayoutHasTheVectorBlocks() throws {
        let f = try fixture()
        let layout = ParameterLayout(config: f.config)
        XCTAssertEqual(layout.count, f.json.int("parameter_count"))
        XCTAssertEqual(layout.count, 43_936)
        XCTAssertEqual(layout.embeddingVectors?.rows, 1)
        XCTAssertEqual(layout.embeddingVectors?.offset, layout.embedding.range.upperBound)
        XCTAssertEqual(layout.layers[0].inputOrders, [0, 1])
        XCTAssertNotNil(layout.layers[0].selfLinear[1])
        XCTAssertEqual(layout.layers[0].paths.count, 4 + 9)
    }

    func testPredictionsAndGradientReproduceE3nn() throws {
        let f = try fixture()
        let model = PropensityModel(config: f.config, avgNeighbors: f.json.double("avg_neighbors"))
        let predictions = model.forward(parameters: f.parameters, input: f.input)
        let reference = (f.json["predictions"] as! [[Double]]).flatMap { $0 }
        let error = maxAbsDiff(toDouble(predictions), reference) / maxAbs(reference)
        print("e3nn parity with extra vectors: max |Δ| / max |prediction| = \(error)")
        XCTAssertLessThanOrEqual(error, 2e-6)  // achieved 7.6e-7 (Float against e3nn's float64)
        // The embedding's output, C scalars and C vectors (e3nn's layout in the fixture).
        let head = (f.json["features_head"] as! [[[Double]]])[0].flatMap { $0 }
        let first = Irreps(channels: [f.config.channels, f.config.channels])
        let ours = toDouble(Array(model.tape.features[0][0..<(3 * first.dimension)]))
        XCTAssertLessThanOrEqual(maxAbsDiff(ours, first.fromE3nn(batch: head, count: 3)), 1e-6 * maxAbs(head))

        let t = f.config.times.count
        let targets = (0..<(f.species.count * t)).map { Float(sin(Double($0 / t) + 2 * Double($0 % t))) }
        var gPred = [Float](repeating: 0, count: predictions.count)
        let count = PropensityLoss.termCount(species: f.species, trainSpecies: [0], times: t)
        let loss = PropensityLoss.evaluate(predictions: predictions, targets: targets, species: f.species, trainSpecies: [0],
                                           times: t, globalCount: count, gradient: &gPred)
        XCTAssertEqual(loss, f.json.double("loss"), accuracy: 1e-5 * f.json.double("loss"))
        var gradient = [Float](repeating: 0, count: f.parameters.count)
        model.backward(parameters: f.parameters, input: f.input, gradPredictions: gPred, gradient: &gradient)
        let g = toDouble(gradient), reference2 = toDouble(f.gradient)
        let gradientError = maxAbsDiff(g, reference2) / maxAbs(reference2)
        print("e3nn gradient parity with extra vectors: max |Δ| / max |g| = \(gradientError)")
        XCTAssertLessThanOrEqual(gradientError, 2e-6)  // achieved 6.2e-7
        for name in ["embedding", "embedding.l1", "layer0.self.l1", "layer0.radial.w3"] {
            let block = model.layout.block(named: name)!
            let d = maxAbsDiff(Array(g[block.range]), Array(reference2[block.range]))
            XCTAssertLessThanOrEqual(d, 1e-4 * maxAbs(Array(reference2[block.range])), name)
        }
    }

    /// Rotating the snapshot about the box centre by each of the 24 cube rotations, and the
    /// vectors with it, and translating it, leaves the predictions unchanged.
    func testPredictionsInvariantWhenPositionsAndVectorsRotateTogether() {
        var config = smallConfig()
        config.layers = 2
        config.extraVectors = ["v"]
        let snap = latticeSnapshot(cells: 4, density: 0.9, seed: 3)
        let l = snap.box, n = snap.species.count
        var rng = RandomSource(seed: 21)
        let vectors = (0..<(3 * n)).map { _ in Float(rng.normal()) }
        let model = PropensityModel(config: config, avgNeighbors: 15)
        let theta = model.layout.initialParameters(using: &rng)
        func wrap(_ x: Double) -> Double { x - l * (x / l).rounded(.down) }
        func predict(_ positions: [Double], _ v: [Float]) -> [Double] {
            let input = ModelInput.allPairs(positions: positions, box: (l, l, l), cutoff: config.cutoff, species: snap.species,
                                            extraVectors: v)
            return toDouble(model.forward(parameters: theta, input: input))
        }
        let reference = predict(snap.positions, vectors)
        var worst = 0.0
        for m in ModelInvarianceTests.cubeRotations() {
            var moved = [Double](repeating: 0, count: 3 * n), turned = [Float](repeating: 0, count: 3 * n)
            for i in 0..<n {
                let x = (0..<3).map { snap.positions[3 * i + $0] - l / 2 }
                let v = (0..<3).map { Double(vectors[3 * i + $0]) }
                for row in 0..<3 {
                    let r = [m[3 * row], m[3 * row + 1], m[3 * row + 2]]
                    let y: Double = r[0] * x[0] + r[1] * x[1] + r[2] * x[2]
                    let w: Double = r[0] * v[0] + r[1] * v[1] + r[2] * v[2]
                    moved[3 * i + row] = wrap(y + l / 2 + 0.31 * Double(row + 1))
                    turned[3 * i + row] = Float(w)
                }
            }
            worst = max(worst, maxAbsDiff(predict(moved, turned), reference))
        }
        print("cube rotations with extra vectors: worst |Δ prediction| = \(worst), max |prediction| = \(maxAbs(reference))")
        XCTAssertLessThanOrEqual(worst, 4e-6 * max(1, maxAbs(reference)))  // achieved 7.6e-6 of 5.4
        // The vectors matter: rotating them alone changes the predictions.
        var turnedAlone = vectors
        for i in 0..<n { (turnedAlone[3 * i], turnedAlone[3 * i + 1], turnedAlone[3 * i + 2]) = (vectors[3 * i + 1], vectors[3 * i + 2], vectors[3 * i]) }
        XCTAssertGreaterThan(maxAbsDiff(predict(snap.positions, turnedAlone), reference), 1e-3 * maxAbs(reference))
    }
}
