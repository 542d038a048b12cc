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
        let file = try SnapshotFile(path: path, checkAllValues: false)
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
