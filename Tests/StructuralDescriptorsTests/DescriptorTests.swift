import EquivariantNet
import Foundation
import XCTest
@testable import StructuralDescriptors

final class DescriptorTests: XCTestCase {
    /// Positions of a cubic lattice of `cells`³ conventional cells of edge `a` with the given basis.
    private func lattice(cells: Int, a: Double, basis: [(Double, Double, Double)]) -> (positions: [Double], box: [Double]) {
        var positions: [Double] = []
        for i in 0..<cells { for j in 0..<cells { for k in 0..<cells { for b in basis {
            positions += [(Double(i) + b.0) * a, (Double(j) + b.1) * a, (Double(k) + b.2) * a]
        } } } }
        let l = Double(cells) * a
        return (positions, [l, l, l])
    }

    /// Steinhardt's q_l of perfect crystals (Steinhardt, Nelson & Ronchetti 1983; Lechner &
    /// Dellago 2008): fcc q4 = 0.19094, q6 = 0.57452; simple cubic q4 = 0.76376, q6 = 0.35355.
    /// On a perfect lattice every particle has the same q_lm, so q̄_l = q_l.
    func testBondOrderOfFccAndSimpleCubicLattices() throws {
        let fcc = lattice(cells: 3, a: 1.6, basis: [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
        let fccGraph = try NeighborGraph(positions: fcc.positions, box: fcc.box, cutoff: 1.3)  // 12 neighbors at 1.131
        let q = bondOrientationalOrder(graph: fccGraph, cutoff: 1.3, degrees: [4, 6])
        XCTAssertEqual(q.names, ["q4", "q6", "qbar4", "qbar6"])
        for i in [0, 17, 107] {
            XCTAssertEqual(q[i, 0], 0.19094, accuracy: 1e-5)
            XCTAssertEqual(q[i, 1], 0.57452, accuracy: 1e-5)
            XCTAssertEqual(q[i, 2], 0.19094, accuracy: 1e-5)
            XCTAssertEqual(q[i, 3], 0.57452, accuracy: 1e-5)
        }
        let sc = lattice(cells: 4, a: 1.0, basis: [(0, 0, 0)])
        let scGraph = try NeighborGraph(positions: sc.positions, box: sc.box, cutoff: 1.2)  // 6 neighbors at 1
        let qs = bondOrientationalOrder(graph: scGraph, cutoff: 1.2, degrees: [2, 4, 6])
        for i in [0, 33, 63] {
            XCTAssertEqual(qs[i, 0], 0, accuracy: 1e-6)        // cubic symmetry: no l = 2 order
            XCTAssertEqual(qs[i, 1], 0.76376, accuracy: 1e-5)
            XCTAssertEqual(qs[i, 2], 0.35355, accuracy: 1e-5)
        }
    }

    /// q_l of one particle with two neighbors in opposite directions: Y_lm(−r̂) = (−1)^l Y_lm(r̂),
    /// so odd l cancel and for even l q_l = 1 (all bonds parallel: q_l = 1 for any single direction).
    func testBondOrderOfAStraightLineOfThree() throws {
        let positions: [Double] = [5, 5, 5, 6.1, 5.3, 4.6, 3.9, 4.7, 5.4]
        let graph = try NeighborGraph(positions: positions, box: [10, 10, 10], cutoff: 1.3)
        let q = bondOrientationalOrder(graph: graph, cutoff: 1.3, degrees: [2, 3, 4])
        XCTAssertEqual(q[0, 0], 1, accuracy: 1e-6)
        XCTAssertEqual(q[0, 1], 0, accuracy: 1e-6)
        XCTAssertEqual(q[0, 2], 1, accuracy: 1e-6)
        // The end particles see only the centre (one bond): q_l = 1 for every l.
        XCTAssertEqual(q[1, 1], 1, accuracy: 1e-6)
    }

    /// A hand-made configuration: particle 0 (A) at the centre of a box of 10 with neighbors at
    /// distances in the middle of the radial shells: B at 0.95, A at 1.15, A at 1.45, B at 1.85,
    /// A at 2.25.
    private func handMade() throws -> (graph: NeighborGraph, species: [Int32]) {
        let positions: [Double] = [5, 5, 5,  5.95, 5, 5,  5, 6.15, 5,  5, 5, 6.45,  3.15, 5, 5,  5, 2.75, 5]
        return (try NeighborGraph(positions: positions, box: [10, 10, 10], cutoff: 2.5), [0, 1, 0, 0, 1, 0])
    }

    func testLocalDensityCountsOnAHandMadeConfiguration() throws {
        let (graph, species) = try handMade()
        let d = localDensityCounts(graph: graph, species: species, speciesNames: ["A", "B"], radii: [1.0, 1.25, 1.5, 2.0, 2.5])
        XCTAssertEqual(d.columns, 10)
        XCTAssertEqual(d.names[2], "n_A(r<1.25)")
        XCTAssertEqual((0..<10).map { d[0, $0] }, [0, 1,  1, 1,  2, 1,  2, 2,  3, 2])
        // Particle 1 (B at 0.95 from 0): the A particle 0 within 1; particle 2 at √(0.95² + 1.15²) = 1.49.
        XCTAssertEqual(d[1, 0], 1)
        XCTAssertEqual(d[1, 2], 1)
        XCTAssertEqual(d[1, 4], 2)
    }

    func testRadialShellsOnAHandMadeConfiguration() throws {
        let (graph, species) = try handMade()
        let s = radialShellCounts(graph: graph, species: species, speciesNames: ["A", "B"], start: 0.5, width: 0.1, count: 20)
        XCTAssertEqual(s.columns, 40)
        XCTAssertEqual(s.names[8], "shell_A[0.9,1)")
        var expected = [Double](repeating: 0, count: 40)
        expected[4 * 2 + 1] = 1   // B at 0.95: shell [0.9, 1.0)
        expected[6 * 2 + 0] = 1   // A at 1.15
        expected[9 * 2 + 0] = 1   // A at 1.45
        expected[13 * 2 + 1] = 1  // B at 1.85
        expected[17 * 2 + 0] = 1  // A at 2.25
        XCTAssertEqual((0..<40).map { s[0, $0] }, expected)
    }

    func testNeighborAverageOverTheFirstShell() throws {
        let (graph, _) = try handMade()
        let e = FeatureMatrix(names: ["e"], values: [1, 2, 4, 8, 16, 32])
        let cg = neighborAverage(e, graph: graph, radius: 1.3)
        XCTAssertEqual(cg.names, ["cg_e"])
        XCTAssertEqual(cg[0, 0], (1 + 2 + 4) / 3, accuracy: 1e-12)  // itself, 0.95, 1.15
        XCTAssertEqual(cg[1, 0], (2 + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(cg[5, 0], 32)                                 // alone within 1.3
    }

    /// The assembled set: 2 energies + 10 densities + 40 shells + 40 averaged shells + 14 bond orders.
    func testParticleDescriptorsAssembleEveryBlock() throws {
        let (graph, species) = try handMade()
        _ = graph
        let positions: [Double] = [5, 5, 5,  5.95, 5, 5,  5, 6.15, 5,  5, 5, 6.45,  3.15, 5, 5,  5, 2.75, 5]
        let energy: [Double] = [-6, -5, -4, -3, -2, -1]
        let all = try ParticleDescriptors.compute(positions: positions, box: [10, 10, 10], species: species,
                                                  speciesNames: ["A", "B"], inherentEnergy: energy)
        XCTAssertEqual(all.columns, 106)
        XCTAssertEqual(Set(all.names).count, 106)
        XCTAssertEqual(all.column(0), energy)
        XCTAssertEqual(all[0, all.names.firstIndex(of: "n_B(r<1)")!], 1)
        XCTAssertEqual(all[0, all.names.firstIndex(of: "shell_A[2.2,2.3)")!], 1)
        let without = try ParticleDescriptors.compute(positions: positions, box: [10, 10, 10], species: species,
                                                      speciesNames: ["A", "B"], inherentEnergy: nil)
        XCTAssertEqual(without.columns, 104)
        XCTAssertThrowsError(try ParticleDescriptors.compute(positions: positions, box: [4, 4, 4], species: species,
                                                             speciesNames: ["A", "B"], inherentEnergy: nil))
    }
}
