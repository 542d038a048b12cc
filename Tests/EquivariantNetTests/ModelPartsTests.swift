import Foundation
import XCTest
@testable import EquivariantNet

/// The parts of `PropensityModel` on their own: an interaction layer with and without its
/// scalar output, and the layer's and the decoder's backward against finite differences
/// (with respect to their inputs too, which the whole-model check sees only through the
/// parameters).
final class ModelPartsTests: XCTestCase {
    /// Layer 1 of a two-layer network (input of every l) on a small periodic snapshot, with
    /// random features and parameters, one thread.
    final class LayerHarness {
        let layer: PropensityModel.InteractionLayer
        let layout: ParameterLayout
        let pass: PropensityModel.InteractionLayer.Pass
        let senders: PropensityModel.InteractionLayer.SenderOrder
        var theta: [Float], features: [Float]
        var radialTape = FullyConnectedNet.Tape(), messages: [Float] = [], gateInput: [Float] = []
        var work = PropensityModel.InteractionLayer.Buffers()

        init(channels: Int, residual: Bool) {
            var config = smallConfig(residual: residual)
            config.channels = channels
            config.layers = 2
            layout = ParameterLayout(config: config)
            layer = PropensityModel.InteractionLayer(config: config, layout: layout, index: 1, scalarOutput: true)
            let snap = latticeSnapshot(cells: 3, density: 0.42, seed: 11)
            let input = ModelInput.allPairs(positions: snap.positions, box: (snap.box, snap.box, snap.box),
                                            cutoff: config.cutoff, species: snap.species)
            let (n, e, r) = (input.nodeCount, input.edgeCount, input.pairs.rowCount)
            var lengths: [Float] = [], basis: [Float] = [], harmonics: [Float] = []
            PropensityModel.EdgeGeometry(config: config).forward(
                input: input, lengths: &lengths, radialBasis: &basis, sphericalHarmonics: &harmonics,
                edges: RowBlocks(rows: e, size: 100, threads: 1), pairs: RowBlocks(rows: r, size: 100, threads: 1))
            pass = .init(input: input, harmonics: harmonics, radialBasis: basis, nodes: RowBlocks(rows: n, size: 8, threads: 1),
                         pairs: RowBlocks(rows: r, size: 100, threads: 1), threads: 1, scale: 0.3)
            senders = .init(input)
            var rng = RandomSource(seed: 31)
            theta = layout.initialParameters(using: &rng)
            features = rng.normalFloats(n * layer.featureWidth)
            work.edgeWeights = [Float](repeating: 0, count: r * layer.tensorProduct.weightsPerEdge)
            work.gradEdgeWeights = [Float](repeating: 0, count: e * layer.tensorProduct.weightsPerEdge)
        }

        var nodeCount: Int { pass.nodeCount }

        func forward(scalarsOnly: Bool) -> [Float] {
            var output: [Float] = []
            layer.forward(parameters: theta, features: features, pass: pass, scalarsOnly: scalarsOnly, radialTape: &radialTape,
                          messages: &messages, gateInput: &gateInput, output: &output, work: &work)
            return output
        }

        /// ∂(Σ gradOutput · output)/∂θ and /∂h after `forward(scalarsOnly:)`.
        func backward(scalarsOnly: Bool, gradOutput: [Float]) -> (parameters: [Float], features: [Float]) {
            var gradient = [Float](repeating: 0, count: theta.count), gradFeatures = [Float](repeating: 0, count: features.count)
            layer.backward(parameters: theta, features: features, pass: pass, senders: senders, scalarsOnly: scalarsOnly,
                           radialTape: radialTape, messages: messages, gateInput: gateInput, gradOutput: gradOutput,
                           gradInput: &gradFeatures, recomputeEdgeWeights: true, gradient: &gradient, work: &work)
            return (gradient, gradFeatures)
        }
    }

    func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        maxAbsDiff(toDouble(a), toDouble(b)) / max(1e-30, maxAbs(toDouble(b)))
    }

    /// With the scalar output the layer gives the full layer's C output scalars, and for a loss
    /// of those scalars the same gradients (to rounding: the radial MLP's product has fewer
    /// columns); the radial weights of the l ≥ 1 paths get exact zeros both ways. C = 8 runs the
    /// fast tensor-product kernels, C = 3 the reference loops.
    func testScalarOutputGivesTheFullLayersScalarsAndGradients() {
        for channels in [8, 3] {
            let run = LayerHarness(channels: channels, residual: true)
            let (n, dim, c) = (run.nodeCount, run.layer.featureWidth, channels)
            let scalars = { (h: [Float]) in (0..<n).flatMap { h[($0 * dim)..<($0 * dim + c)] } }
            var rng = RandomSource(seed: 32)
            var gradOutput = [Float](repeating: 0, count: n * dim)
            for i in 0..<n { for u in 0..<c { gradOutput[i * dim + u] = Float(rng.normal()) } }

            let full = run.forward(scalarsOnly: false)
            let fullGradient = run.backward(scalarsOnly: false, gradOutput: gradOutput)
            let scalarOnly = run.forward(scalarsOnly: true)
            let scalarGradient = run.backward(scalarsOnly: true, gradOutput: gradOutput)

            XCTAssertLessThanOrEqual(relativeDifference(scalars(scalarOnly), scalars(full)), 1e-6, "C = \(c): scalars")
            XCTAssertGreaterThan(maxAbs(toDouble(Array(full[c..<dim]))), 0, "C = \(c): the full layer computes l ≥ 1")
            XCTAssertLessThanOrEqual(relativeDifference(scalarGradient.parameters, fullGradient.parameters), 1e-6,
                                     "C = \(c): parameter gradient")
            XCTAssertLessThanOrEqual(relativeDifference(scalarGradient.features, fullGradient.features), 1e-6,
                                     "C = \(c): feature gradient")
            let lay = run.layout.layers[1], radial = run.layer.radial, k = radial.layerCount - 1
            let dead = lay.paths.indices.filter { lay.paths[$0].l3 > 0 }.flatMap { p in (0..<c).map { p * c + $0 } }
            let deadIndices = (0..<radial.sizes[k]).flatMap { r in
                dead.map { lay.radialOffset + radial.weightOffsets[k] + r * radial.outputSize + $0 }
            }
            XCTAssertFalse(deadIndices.isEmpty)
            XCTAssertTrue(deadIndices.allSatisfy { fullGradient.parameters[$0] == 0 && scalarGradient.parameters[$0] == 0 })
        }
    }

    /// The layer's ∂L/∂h and ∂L/∂θ (residual on, every feature) against central finite
    /// differences of L = Σ g · h_out.
    func testInteractionLayerBackwardMatchesFiniteDifferences() {
        for channels in [8, 3] {
            let run = LayerHarness(channels: channels, residual: true)
            var rng = RandomSource(seed: 33)
            let gradOutput = rng.normalFloats(run.nodeCount * run.layer.featureWidth)
            _ = run.forward(scalarsOnly: false)
            let analytic = run.backward(scalarsOnly: false, gradOutput: gradOutput)
            let features = run.features, theta = run.theta
            checkGradient("C = \(channels): ∂L/∂h", x: features, analytic: analytic.features,
                          indices: sampleIndices(features.count), step: 1e-2, tolerance: 2e-3) { h in
                run.features = h
                defer { run.features = features }
                return dot(gradOutput, run.forward(scalarsOnly: false))
            }
            let layerParameters = Array(run.layout.layers[1].selfLinear[0]!.offset..<run.layout.decoderOffset)
            checkGradient("C = \(channels): ∂L/∂θ", x: theta, analytic: analytic.parameters,
                          indices: sampleIndices(layerParameters.count, 40).map { layerParameters[$0] }, step: 1e-2,
                          tolerance: 2e-3) { p in
                run.theta = p
                defer { run.theta = theta }
                return dot(gradOutput, run.forward(scalarsOnly: false))
            }
        }
    }

    /// The decoder's ∂L/∂(input scalars) and ∂L/∂weights against finite differences of a loss of
    /// the predictions, each particle reading its own species' outputs.
    func testDecoderBackwardMatchesFiniteDifferences() {
        let config = smallConfig()
        let layout = ParameterLayout(config: config)
        let dim = Irreps(uniform: config.channels, lmax: config.lmax).dimension
        let decoder = PropensityModel.Decoder(config: config, layout: layout, featureWidth: dim)
        let n = 10
        var rng = RandomSource(seed: 34)
        let species = (0..<n).map { Int32($0 % 2) }
        let theta = layout.initialParameters(using: &rng)
        let features = rng.normalFloats(n * dim)
        let gradPredictions = rng.normalFloats(n * config.times.count)
        let blocks = RowBlocks(rows: n, size: 4, threads: 1)
        func loss(_ p: [Float], _ h: [Float]) -> Double {
            var input: [Float] = [], output: [Float] = [], tape = FullyConnectedNet.Tape()
            return dot(gradPredictions, decoder.forward(parameters: p, features: h, species: species, input: &input,
                                                        tape: &tape, output: &output, blocks: blocks))
        }
        var input: [Float] = [], output: [Float] = [], tape = FullyConnectedNet.Tape()
        _ = decoder.forward(parameters: theta, features: features, species: species, input: &input, tape: &tape,
                            output: &output, blocks: blocks)
        XCTAssertEqual(input, (0..<n).flatMap { features[($0 * dim)..<($0 * dim + config.channels)] })
        var gradOutput: [Float] = [], gradScalars: [Float] = []
        var gradient = [Float](repeating: 0, count: theta.count)
        decoder.backward(parameters: theta, species: species, gradPredictions: gradPredictions, input: input, tape: tape,
                         gradOutput: &gradOutput, gradInput: &gradScalars, gradient: &gradient, blocks: blocks)
        // ∂L/∂h: the scalars' gradient in the first C numbers of each row, zero elsewhere.
        var gradFeatures = [Float](repeating: 0, count: features.count)
        for i in 0..<n { for u in 0..<config.channels { gradFeatures[i * dim + u] = gradScalars[i * config.channels + u] } }
        checkGradient("decoder ∂L/∂h", x: features, analytic: gradFeatures, indices: sampleIndices(features.count, 40),
                      step: 1e-2, tolerance: 1e-3) { loss(theta, $0) }
        let weights = Array(layout.decoderOffset..<theta.count)
        checkGradient("decoder ∂L/∂θ", x: theta, analytic: gradient, indices: sampleIndices(weights.count, 40).map { weights[$0] },
                      step: 1e-2, tolerance: 1e-3) { loss($0, features) }
        XCTAssertTrue(gradient[..<layout.decoderOffset].allSatisfy { $0 == 0 })
    }
}
