import Foundation
import XCTest
@testable import EquivariantNet

/// The network's predictions are invariant under translations, rotations and axis permutations
/// of the snapshot, and its internal l-features rotate with their Wigner matrices.
final class ModelInvarianceTests: XCTestCase {
    /// Predictions of a small random network on a snapshot given as positions and box.
    func predict(_ model: PropensityModel, _ theta: [Float], positions: [Double], box: (Double, Double, Double)?,
                 species: [Int32]) -> [Double] {
        let input = ModelInput.allPairs(positions: positions, box: box, cutoff: model.config.cutoff, species: species)
        return toDouble(model.forward(parameters: theta, input: input))
    }

    func invariantSetup() -> (PropensityModel, [Float], (positions: [Double], box: Double, species: [Int32])) {
        var config = smallConfig()
        config.layers = 2
        let snap = latticeSnapshot(cells: 4, density: 0.9, seed: 3)  // L ≈ 4.2 ≥ 2 r_c
        var rng = RandomSource(seed: 9)
        let model = PropensityModel(config: config, avgNeighbors: 15)
        return (model, model.layout.initialParameters(using: &rng), snap)
    }

    func wrap(_ x: Double, _ l: Double) -> Double { x - l * (x / l).rounded(.down) }

    func testPredictionsInvariantUnderTranslation() {
        let (model, theta, snap) = invariantSetup()
        let l = snap.box
        let reference = predict(model, theta, positions: snap.positions, box: (l, l, l), species: snap.species)
        let shift = [0.37 * l, -1.21, 2.9]
        let moved = snap.positions.enumerated().map { wrap($0.element + shift[$0.offset % 3], l) }
        let out = predict(model, theta, positions: moved, box: (l, l, l), species: snap.species)
        XCTAssertLessThanOrEqual(maxAbsDiff(out, reference), 1e-5 * max(1, maxAbs(reference)))
    }

    /// The 24 proper rotations of the cube, as signed axis permutations with determinant +1
    /// (the even axis permutations among them are the cyclic ones).
    static func cubeRotations() -> [[Double]] {
        var out: [[Double]] = []
        let perms = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]]
        for (pi, p) in perms.enumerated() {
            let parity = pi < 3 ? 1.0 : -1.0
            for signs in 0..<8 {
                let s = [(signs & 1) == 0 ? 1.0 : -1.0, (signs & 2) == 0 ? 1.0 : -1.0, (signs & 4) == 0 ? 1.0 : -1.0]
                guard parity * s[0] * s[1] * s[2] == 1 else { continue }
                var m = [Double](repeating: 0, count: 9)
                for row in 0..<3 { m[3 * row + p[row]] = s[row] }
                out.append(m)
            }
        }
        return out
    }

    func testPredictionsInvariantUnderTheCubeRotationsAndCyclicAxisPermutations() {
        let (model, theta, snap) = invariantSetup()
        let l = snap.box
        let reference = predict(model, theta, positions: snap.positions, box: (l, l, l), species: snap.species)
        let rotations = Self.cubeRotations()
        XCTAssertEqual(rotations.count, 24)
        var worst = 0.0
        for m in rotations {
            var moved = [Double](repeating: 0, count: snap.positions.count)
            for i in 0..<(snap.positions.count / 3) {
                let x = (0..<3).map { snap.positions[3 * i + $0] - l / 2 }
                for row in 0..<3 {
                    let y = m[3 * row] * x[0] + m[3 * row + 1] * x[1] + m[3 * row + 2] * x[2]
                    moved[3 * i + row] = wrap(y + l / 2, l)
                }
            }
            let out = predict(model, theta, positions: moved, box: (l, l, l), species: snap.species)
            worst = max(worst, maxAbsDiff(out, reference))
        }
        print("cube rotations: worst |Δ prediction| = \(worst), max |prediction| = \(maxAbs(reference))")
        XCTAssertLessThanOrEqual(worst, 1e-5 * max(1, maxAbs(reference)))
    }

    /// An orthorhombic box with a cyclic permutation of its axes and of every coordinate.
    func testPredictionsInvariantUnderCyclicPermutationOfAxesOfAnOrthorhombicBox() {
        let (model, theta, snap) = invariantSetup()
        let box = (snap.box, snap.box * 1.1, snap.box * 1.2)
        let pos = snap.positions.enumerated().map { $0.element * [1, 1.1, 1.2][$0.offset % 3] }
        let reference = predict(model, theta, positions: pos, box: box, species: snap.species)
        var cyc = pos
        for i in 0..<(pos.count / 3) { (cyc[3 * i], cyc[3 * i + 1], cyc[3 * i + 2]) = (pos[3 * i + 1], pos[3 * i + 2], pos[3 * i]) }
        let out = predict(model, theta, positions: cyc, box: (box.1, box.2, box.0), species: snap.species)
        XCTAssertLessThanOrEqual(maxAbsDiff(out, reference), 1e-5 * max(1, maxAbs(reference)))
    }

    /// A random continuous rotation of a non-periodic cluster: predictions unchanged, and every
    /// internal l-feature rotated by its Wigner matrix.
    func testClusterRotatedContinuouslyGivesTheSamePredictionsAndRotatedFeatures() {
        let (model, theta, snap) = invariantSetup()
        var rng = RandomSource(seed: 21)
        let rotation = Rotation.random(using: &rng)
        let n = snap.species.count
        var rotated = [Double](repeating: 0, count: 3 * n)
        for i in 0..<n {
            let y = rotation.apply((snap.positions[3 * i], snap.positions[3 * i + 1], snap.positions[3 * i + 2]))
            (rotated[3 * i], rotated[3 * i + 1], rotated[3 * i + 2]) = y
        }
        let reference = predict(model, theta, positions: snap.positions, box: nil, species: snap.species)
        let featuresBefore = toDouble(model.tape.features[1])
        let out = predict(model, theta, positions: rotated, box: nil, species: snap.species)
        let featuresAfter = toDouble(model.tape.features[1])
        let error = maxAbsDiff(out, reference)
        print("continuous rotation of a cluster: max |Δ prediction| = \(error), max |prediction| = \(maxAbs(reference))")
        XCTAssertLessThanOrEqual(error, 1e-5 * max(1, maxAbs(reference)))
        let hidden = Irreps(uniform: model.config.channels, lmax: model.config.lmax)
        let expected = WignerD.rotate(featuresBefore, irreps: hidden, count: n, rotation: rotation)
        XCTAssertLessThanOrEqual(maxAbsDiff(featuresAfter, expected), 1e-5 * max(1, maxAbs(expected)))
        XCTAssertGreaterThan(maxAbs(Array(featuresBefore)), 1e-3)
    }
}
