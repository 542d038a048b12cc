import EquivariantNet
import Foundation
import XCTest
@testable import StructuralDescriptors

final class NetworkEmbeddingTests: XCTestCase {
    /// A small complete network (every l ≤ 3 present) with random parameters.
    private func network() -> (PropensityModel, [Float]) {
        var config = ModelConfig()
        config.channels = 3
        config.layers = 2
        config.radialHidden = [6]
        config.decoderHidden = [5]
        config.times = [1, 2]
        let model = PropensityModel(config: config, avgNeighbors: 20)
        var rng = RandomSource(seed: 7)
        return (model, model.layout.initialParameters(using: &rng))
    }

    /// 125 particles on a jittered cubic lattice at density 1.2 (box 4.7 ≥ 2 r_c).
    private func snapshot() -> (positions: [Double], box: Double, species: [Int32]) {
        var rng = RandomSource(seed: 3)
        let cells = 5, l = pow(125 / 1.2, 1.0 / 3.0), a = l / Double(cells)
        var positions: [Double] = [], species: [Int32] = []
        for i in 0..<cells { for j in 0..<cells { for k in 0..<cells {
            for g in [i, j, k] { positions.append((Double(g) + 0.5 + 0.25 * (2 * rng.uniform() - 1)) * a) }
            species.append(rng.uniform() < 0.8 ? 0 : 1)
        } } }
        return (positions, l, species)
    }

    private func invariants(_ model: PropensityModel, _ parameters: [Float], positions: [Double], box: Double,
                            species: [Int32]) throws -> [LayerInvariants] {
        let graph = try NeighborGraph(positions: positions, box: [box, box, box], cutoff: model.config.cutoff)
        let input = ModelInput(species: species, receiverOffsets: graph.receiverOffsets, senders: graph.senders,
                               vectors: graph.edgeVectors)
        model.computesEveryFeature = true
        _ = model.forward(parameters: parameters, input: input)
        return LayerInvariants.ofLastForward(model)
    }

    /// The invariants are the l = 0 block and the per-channel norms of the forward pass's
    /// features, read here independently through e3nn's layout (each (l, u) block contiguous).
    func testInvariantsAreTheScalarsAndNormsOfTheForwardPass() throws {
        let (model, parameters) = network()
        let s = snapshot()
        let layers = try invariants(model, parameters, positions: s.positions, box: s.box, species: s.species)
        XCTAssertEqual(layers.count, 3)
        let c = 3, n = 125
        XCTAssertEqual(layers[0].scalars, model.tape.features[0])
        XCTAssertEqual(layers[0].normColumns, 0)
        let hidden = Irreps(uniform: c, lmax: 3)
        for k in 1...2 {
            let d = hidden.dimension
            let e3nn = hidden.toE3nn(batch: model.tape.features[k].map(Double.init), count: n)
            XCTAssertEqual(layers[k].normColumns, 9)
            for i in [0, 42, 124] {
                for u in 0..<c { XCTAssertEqual(Double(layers[k].scalars[i * c + u]), e3nn[i * d + u]) }
                for l in 1...3 {
                    for u in 0..<c {
                        let start = i * d + hidden.offset(l) + u * (2 * l + 1)
                        let norm = e3nn[start ..< start + 2 * l + 1].reduce(0) { $0 + $1 * $1 }.squareRoot()
                        XCTAssertEqual(Double(layers[k].norms[i * 9 + (l - 1) * c + u]), norm, accuracy: 1e-6 * max(1, norm))
                    }
                }
            }
            // Not all zero: the test would pass trivially on a dead network.
            XCTAssertGreaterThan(layers[k].norms.map(abs).max()!, 1e-3)
        }
        let features = layers[2].features(layer: 2)
        XCTAssertEqual(features.columns, 12)
        XCTAssertEqual(features.names[3], "layer2_l1_norm0")
    }

    /// Rotating the periodic snapshot by a symmetry of the cube (a quarter turn about z, then a
    /// cyclic permutation of the axes) leaves every layer's invariants unchanged.
    func testInvariantsAreUnchangedByCubeRotations() throws {
        let (model, parameters) = network()
        let s = snapshot()
        let reference = try invariants(model, parameters, positions: s.positions, box: s.box, species: s.species)
        let n = s.species.count
        // (x, y, z) → (L − y, x, z): a proper rotation about z, then wrapped.
        var quarter = s.positions
        for i in 0..<n { (quarter[3 * i], quarter[3 * i + 1]) = (s.box - s.positions[3 * i + 1], s.positions[3 * i]) }
        // (x, y, z) → (z, x, y): a rotation by 120° about (1, 1, 1).
        var cyclic = s.positions
        for i in 0..<n { (cyclic[3 * i], cyclic[3 * i + 1], cyclic[3 * i + 2]) = (s.positions[3 * i + 2], s.positions[3 * i], s.positions[3 * i + 1]) }
        for moved in [quarter, cyclic] {
            let rotated = try invariants(model, parameters, positions: moved, box: s.box, species: s.species)
            for k in 0..<reference.count {
                for (a, b) in zip(reference[k].scalars + reference[k].norms, rotated[k].scalars + rotated[k].norms) {
                    XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a)))
                }
            }
        }
        // While the l ≥ 1 features themselves do change (so the check is not vacuous).
        _ = try invariants(model, parameters, positions: quarter, box: s.box, species: s.species)
        let h = model.tape.features[1]
        _ = try invariants(model, parameters, positions: s.positions, box: s.box, species: s.species)
        let moved = zip(h, model.tape.features[1]).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(moved, 1e-3)
    }
}
