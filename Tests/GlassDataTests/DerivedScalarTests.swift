import XCTest
@testable import GlassData

/// Scalars computed from a snapshot's configurations (`DerivedScalar`).
final class DerivedScalarTests: XCTestCase {
    /// |r − r_IS| by hand, with the minimum image across each face of a 2 × 3 × 4 box.
    func testInherentDisplacementUsesTheMinimumImage() throws {
        let box = [2.0, 3.0, 4.0]
        let thermal: [Double] = [0.1, 0.2, 0.3,   // x: 0.1 − 1.9 = −1.8 → +0.2
                                 1.0, 1.0, 1.0,   // inside: (0.3, 0.4, 0) → 0.5
                                 0.0, 2.9, 3.9,   // y: 2.9 − 0.1 → −0.2, z: 3.9 − 0.1 → −0.2
                                 5.0, 0.0, 0.0]   // another image of the same place: 5 − 1 − 2·2 = 0
        let inherent: [Double] = [1.9, 0.2, 0.3,
                                  1.3, 1.4, 1.0,
                                  0.0, 0.1, 0.1,
                                  1.0, 0.0, 0.0]
        let s = Snapshot(box: box, positions: thermal, inherentPositions: inherent, species: [0, 0, 1, 1])
        let d = try XCTUnwrap(DerivedScalar.inherentDisplacement.values(s))
        let expected = [0.2, 0.5, (0.04 + 0.04).squareRoot(), 0]
        for (got, want) in zip(d, expected) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        XCTAssertEqual(d.count, 4)
        XCTAssertNil(DerivedScalar.inherentDisplacement.values(Snapshot(box: box, positions: thermal, species: [0, 0, 1, 1])))
    }

    /// On the bundled T = 0.6 files: the particles' mean distance from the inherent structure,
    /// against the value the data's own positions give in numpy (0.1723 for A on the training file,
    /// `np.linalg.norm` of the minimum-image difference).
    func testInherentDisplacementOnTheBundledData() throws {
        let path = BundledDatasetTests.dataFolder.appendingPathComponent("ka-N1000-T0.60-train.h5").path
        let file = try SnapshotSet(paths: [path], checkAllValues: false)
        XCTAssertTrue(DerivedScalar.inherentDisplacement.isComputable(from: file))
        var sum = 0.0, count = 0
        for k in 0..<file.snapshotCount {
            let s = try file.readSnapshot(k)
            let d = try XCTUnwrap(DerivedScalar.inherentDisplacement.values(s))
            for i in 0..<s.particleCount where s.species[i] == 0 { sum += d[i]; count += 1 }
        }
        XCTAssertEqual(sum / Double(count), 0.17233, accuracy: 5e-5)
    }
}

/// The Kob–Andersen inherent-structure energy (`DerivedScalar.inherentEnergy`).
final class InherentEnergyTests: XCTestCase {
    /// Two particles at a known distance, for each species pair: 4ε((σ/r)¹² − (σ/r)⁶) minus the
    /// same at 2.5σ, half to each particle; nothing beyond the cutoff.
    func testPairEnergyByHand() throws {
        let box = [10.0, 10.0, 10.0]
        for (species, eps, sigma) in [([Int32(0), 0], 1.0, 1.0), ([0, 1], 1.5, 0.8), ([1, 1], 0.5, 0.88)] {
            for r in [0.9 * sigma, 1.2 * sigma, 2.4 * sigma, 2.6 * sigma] {
                // Across the periodic boundary: 9.9 + r wraps to r − 0.1 from 9.9.
                let positions = [9.9, 5.0, 5.0, (9.9 + r).truncatingRemainder(dividingBy: 10), 5.0, 5.0]
                let e = KobAndersenEnergy.perParticle(positions: positions, species: species, box: box)
                func lj(_ x: Double) -> Double { 4 * eps * (pow(sigma / x, 12) - pow(sigma / x, 6)) }
                let expected = r < 2.5 * sigma ? 0.5 * (lj(r) - lj(2.5 * sigma)) : 0
                XCTAssertEqual(e[0], expected, accuracy: 1e-12 * max(1, abs(expected)), "species \(species) r \(r)")
                XCTAssertEqual(e[1], e[0], accuracy: 1e-15)
            }
        }
    }

    /// On the bundled files, against the generator's stored LAMMPS `pe/atom` values.
    func testEqualsTheStoredValuesOfTheBundledFiles() throws {
        var worst = 0.0, count = 0
        for name in ["ka-N1000-T0.60-test.h5", "ka-N1000-T0.70-test.h5"] {
            let path = BundledDatasetTests.dataFolder.appendingPathComponent(name).path
            let file = try SnapshotSet(paths: [path], checkAllValues: false)
            XCTAssertTrue(DerivedScalar.inherentEnergy.isComputable(from: file))
            for k in 0..<file.snapshotCount {
                let s = try file.readSnapshot(k)
                let stored = try XCTUnwrap(s.scalars["epot_inherent"])
                let computed = try XCTUnwrap(DerivedScalar.inherentEnergy.values(s))
                for (a, b) in zip(stored, computed) { worst = max(worst, abs(a - b)); count += 1 }
            }
        }
        XCTAssertEqual(count, 8 * 1000 + 3 * 1000)
        // LAMMPS sums the same pair terms in another order: 1.2e-14 is the largest difference
        // found (energies ≈ −7), asserted at 1e-13.
        XCTAssertLessThan(worst, 1e-13, "largest difference \(worst)")
    }

    func testNotComputableWithoutInherentStructuresOrForThreeSpecies() {
        let s = Snapshot(box: [10, 10, 10], positions: [0, 0, 0, 1, 1, 1], species: [0, 1])
        XCTAssertNil(DerivedScalar.inherentEnergy.values(s))
        var three = s
        three.inherentPositions = s.positions
        XCTAssertNotNil(DerivedScalar.inherentEnergy.values(three))
        three.species = [0, 2]
        XCTAssertNil(DerivedScalar.inherentEnergy.values(three))
        var small = s
        small.inherentPositions = s.positions
        small.box = [4, 10, 10]
        XCTAssertNil(DerivedScalar.inherentEnergy.values(small))
    }
}
