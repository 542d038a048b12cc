import XCTest
@testable import GlassData

/// Every validation rule of docs/data-format.md, each triggered on an otherwise valid file,
/// with the message checked for the file, the dataset and the problem.
final class SnapshotValidationTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes the raw file after `change`, opens it, and checks the error message.
    func assertInvalid(_ name: String, _ change: (inout RawSnapshotFile) -> Void, _ fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var raw = RawSnapshotFile()
        change(&raw)
        let path = directory + "/\(name).h5"
        try raw.write(to: path)
        assertThrows(try SnapshotFile(path: path), containing: ["\(name).h5"] + fragments, file: file, line: line)
    }

    func testBaselineFileIsValid() throws {
        let path = directory + "/valid.h5"
        try RawSnapshotFile().write(to: path)
        let data = try SnapshotFile(path: path)
        XCTAssertEqual(data.snapshotCount, 2)
        XCTAssertEqual(data.particleCount(ofSnapshot: 1), 4)
        XCTAssertEqual(data.box(ofSnapshot: 1), [6, 5.5, 7])
        let snapshot = try data.readSnapshot(1)
        XCTAssertEqual(snapshot.positions, (9..<21).map { Double($0) * 0.25 })
        XCTAssertEqual(snapshot.propensity!, (6..<14).map { Float($0) * 0.1 })
        XCTAssertEqual(snapshot.species, [0, 0, 1, 1])
    }

    func testMissingOrMisshapedDatasets() throws {
        try assertInvalid("no-positions", { $0.datasets["positions"] = nil }, ["dataset 'positions'", "missing"])
        try assertInvalid("no-species", { $0.datasets["species"] = nil }, ["dataset 'species'", "missing"])
        try assertInvalid("no-box", { $0.datasets["box"] = nil }, ["dataset 'box'", "missing"])
        try assertInvalid("no-offsets", { $0.datasets["snapshot_offsets"] = nil }, ["dataset 'snapshot_offsets'", "missing"])
        try assertInvalid("positions-2col", { $0.datasets["positions"] = (.double(Array(repeating: 0, count: 14)), [7, 2]) },
                          ["dataset 'positions'", "has shape [7, 2], expected [7, 3]"])
        try assertInvalid("positions-1d", { $0.datasets["positions"] = (.double(Array(repeating: 0, count: 21)), [21]) },
                          ["dataset 'positions'", "has shape [21], expected 2 dimensions"])
        try assertInvalid("inherent-short", { $0.datasets["positions_inherent"] = (.double(Array(repeating: 0, count: 18)), [6, 3]) },
                          ["dataset 'positions_inherent'", "expected [7, 3]"])
        try assertInvalid("species-float", { $0.datasets["species"] = (.double([0, 1, 0, 0, 0, 1, 1]), [7]) },
                          ["dataset 'species'", "must hold integers"])
        try assertInvalid("scalar-short", { $0.datasets["scalars/epot"] = (.double([1, 2, 3]), [3]) },
                          ["dataset 'scalars/epot'", "has shape [3], expected [7]"])
    }

    func testMismatchedCounts() throws {
        try assertInvalid("offsets-end", { $0.datasets["snapshot_offsets"] = (.int64([0, 3, 6]), [3]) },
                          ["dataset 'positions'", "expected [6, 3]", "snapshot_offsets ends at 6"])
        try assertInvalid("box-rows", { $0.datasets["box"] = (.double([5, 5, 5, 6, 6, 6, 7, 7, 7]), [3, 3]) },
                          ["dataset 'box'", "has shape [3, 3], expected [2, 3]", "2 snapshots"])
        try assertInvalid("propensity-rows", { $0.datasets["propensity"] = (.float(Array(repeating: 0, count: 12)), [6, 2]) },
                          ["dataset 'propensity'", "has 6 rows, expected 7"])
        try assertInvalid("one-offset", { $0.datasets["snapshot_offsets"] = (.int64([0]), [1]) },
                          ["dataset 'snapshot_offsets'", "at least one snapshot"])
    }

    func testNonMonotonicOffsets() throws {
        try assertInvalid("offsets-decrease", {
            $0.datasets["snapshot_offsets"] = (.int64([0, 5, 3, 7]), [4])
        }, ["dataset 'snapshot_offsets'", "strictly increasing", "offsets[1] = 5, offsets[2] = 3"])
        try assertInvalid("offsets-repeat", {
            $0.datasets["snapshot_offsets"] = (.int64([0, 3, 3, 7]), [4])
        }, ["dataset 'snapshot_offsets'", "strictly increasing"])
        try assertInvalid("offsets-start", { $0.datasets["snapshot_offsets"] = (.int64([1, 3, 7]), [3]) },
                          ["dataset 'snapshot_offsets'", "must start at 0"])
    }

    func testNonFiniteValues() throws {
        var positions = (0..<21).map { Double($0) * 0.25 }
        positions[13] = .nan  // particle 4 = snapshot 1, particle 1 of it, column 1
        try assertInvalid("nan-positions", { $0.datasets["positions"] = (.double(positions), [7, 3]) },
                          ["dataset 'positions'", "non-finite value nan at particle 4 (snapshot 1, particle 1 of it), column 1"])
        var inherent = (0..<21).map { Double($0) }
        inherent[2] = .infinity
        try assertInvalid("inf-inherent", { $0.datasets["positions_inherent"] = (.double(inherent), [7, 3]) },
                          ["dataset 'positions_inherent'", "non-finite value inf at particle 0"])
        try assertInvalid("inf-box", { $0.datasets["box"] = (.double([5, 5, 5, 6, .infinity, 7]), [2, 3]) },
                          ["dataset 'box'", "snapshot 1 has edge Ly = inf", "finite and positive"])
        var propensity = (0..<14).map { Float($0) }
        propensity[5] = -.nan
        try assertInvalid("nan-propensity", { $0.datasets["propensity"] = (.float(propensity), [7, 2]) },
                          ["dataset 'propensity'", "non-finite value", "particle 2 (snapshot 0"])
        try assertInvalid("nan-scalar", { $0.datasets["scalars/epot"] = (.double([0, 0, 0, 0, 0, 0, .nan]), [7]) },
                          ["dataset 'scalars/epot'", "non-finite value nan at particle 6"])
        try assertInvalid("nan-times", { $0.datasets["times"] = (.double([0.5, .nan]), [2]) },
                          ["dataset 'times'", "times[1] = nan"])
    }

    /// Two particles within 1e-3 of each other (here across the periodic boundary of snapshot 1,
    /// box 6 × 5.5 × 7) are an error naming the snapshot and both particles.
    func testCoincidentParticles() throws {
        var positions = (0..<21).map { Double($0) * 0.25 }
        positions[15 ..< 18] = [5.9999, 5.5 + 1e-4, 7]     // particle 5 = snapshot 1, particle 2
        positions[18 ..< 21] = [-1e-4, 0, 14 + 2e-4]       // particle 6, 3e-4 from particle 5
        try assertInvalid("coincident", { $0.datasets["positions"] = (.double(positions), [7, 3]) },
                          ["dataset 'positions'", "particles 5 and 6 (snapshot 1, particles 2 and 3 of it)", "coincident"])
        var inherent = (0..<21).map { Double($0) * 0.25 + 0.01 }
        inherent[3 ..< 6] = inherent[0 ..< 3]
        try assertInvalid("coincident-inherent", { $0.datasets["positions_inherent"] = (.double(inherent), [7, 3]) },
                          ["dataset 'positions_inherent'", "particles 0 and 1 (snapshot 0", "are 0.0 apart"])
        // 2e-3 apart is two particles.
        positions[18 ..< 21] = [-2e-3, 0, 14]
        positions[15 ..< 18] = [6, 5.5, 7]
        let path = directory + "/close.h5"
        var raw = RawSnapshotFile()
        raw.datasets["positions"] = (.double(positions), [7, 3])
        try raw.write(to: path)
        XCTAssertNoThrow(try SnapshotFile(path: path))
    }

    /// A coordinate beyond 1000 box lengths is an error naming the particle; unwrapped
    /// coordinates within the bound are read.
    func testCoordinatesFarFromTheBox() throws {
        var positions = (0..<21).map { Double($0) * 0.25 }
        positions[4] = 1e30                                 // particle 1 (snapshot 0), y; box 5
        try assertInvalid("far", { $0.datasets["positions"] = (.double(positions), [7, 3]) },
                          ["dataset 'positions'", "coordinate 1e+30 of particle 1 (snapshot 0, particle 1 of it)", "1000 box lengths"])
        positions[4] = -5001
        try assertInvalid("far-negative", { $0.datasets["positions"] = (.double(positions), [7, 3]) },
                          ["coordinate -5001.0 of particle 1"])
        positions[4] = -4999                                // 999.8 box lengths: an unwrapped trajectory
        let path = directory + "/unwrapped.h5"
        var raw = RawSnapshotFile()
        raw.datasets["positions"] = (.double(positions), [7, 3])
        try raw.write(to: path)
        XCTAssertEqual(try SnapshotFile(path: path).readSnapshot(0).positions[4], -4999)
    }

    func testNonPositiveBox() throws {
        try assertInvalid("zero-box", { $0.datasets["box"] = (.double([5, 0, 5, 6, 6, 6]), [2, 3]) },
                          ["dataset 'box'", "snapshot 0 has edge Ly = 0.0"])
        try assertInvalid("negative-box", { $0.datasets["box"] = (.double([5, 5, 5, 6, 6, -6]), [2, 3]) },
                          ["dataset 'box'", "snapshot 1 has edge Lz = -6.0"])
    }

    func testSpeciesOutOfRange() throws {
        try assertInvalid("species-2", { $0.datasets["species"] = (.int32([0, 1, 0, 0, 2, 1, 1]), [7]) },
                          ["dataset 'species'", "value 2 at particle 4 (snapshot 1) is out of range 0..<2", "\"A,B\""])
        try assertInvalid("species-neg", { $0.datasets["species"] = (.int64([0, -1, 0, 0, 0, 1, 1]), [7]) },
                          ["dataset 'species'", "value -1 at particle 1"])
        // With three names, species 2 is fine.
        var raw = RawSnapshotFile()
        raw.stringAttributes["species_names"] = "A,B,C"
        raw.datasets["species"] = (.int32([0, 1, 0, 0, 2, 1, 1]), [7])
        try raw.write(to: directory + "/three.h5")
        XCTAssertEqual(try SnapshotFile(path: directory + "/three.h5").attributes.speciesNames, ["A", "B", "C"])
    }

    func testTargetsOfTheWrongLength() throws {
        try assertInvalid("prop-cols", { $0.datasets["propensity"] = (.float(Array(repeating: 0, count: 21)), [7, 3]) },
                          ["dataset 'propensity'", "targets of the wrong length: 3 columns, but times has 2 values"])
        try assertInvalid("no-times", { $0.datasets["times"] = nil }, ["dataset 'times'", "missing, but propensity is present"])
        try assertInvalid("times-order", { $0.datasets["times"] = (.double([2, 0.5]), [2]) },
                          ["dataset 'times'", "strictly increasing"])
        try assertInvalid("times-zero", { $0.datasets["times"] = (.double([0, 0.5]), [2]) },
                          ["dataset 'times'", "must be finite and > 0"])
    }

    func testFormatAttribute() throws {
        try assertInvalid("no-format", { $0.stringAttributes["format"] = nil },
                          ["attribute 'format'", "missing: not an EquiGlass snapshot file"])
        try assertInvalid("wrong-format", { $0.stringAttributes["format"] = "something-else" },
                          ["attribute 'format'", "is \"something-else\", expected \"equiglass-snapshots\""])
        try assertInvalid("no-version", { $0.integerAttributes["format_version"] = nil },
                          ["attribute 'format_version'", "missing"])
        try assertInvalid("version-2", { $0.integerAttributes["format_version"] = 2 },
                          ["attribute 'format_version'", "is 2.0, this reader supports version 1"])
        try assertInvalid("no-species-names", { $0.stringAttributes["species_names"] = nil },
                          ["attribute 'species_names'", "missing"])
        try assertInvalid("no-temperature", { $0.doubleAttributes["temperature"] = nil },
                          ["attribute 'temperature'", "missing"])
        try assertInvalid("string-density", { $0.doubleAttributes["density"] = nil; $0.stringAttributes["density"] = "1.2" },
                          ["attribute 'density'", "must be a number"])
    }

    func testNonHDF5AndMissingFiles() throws {
        let text = directory + "/notes.h5"
        try "x,y,z\n1,2,3\n".write(toFile: text, atomically: true, encoding: .utf8)
        assertThrows(try SnapshotFile(path: text), containing: ["notes.h5", "not an HDF5 file"])
        assertThrows(try SnapshotFile(path: directory + "/absent.h5"), containing: ["absent.h5", "no such file"])
    }

    /// A rank opening without the full value check still gets the error for the snapshot it reads.
    func testLazyValueCheckStillCatchesBadSnapshot() throws {
        var raw = RawSnapshotFile()
        var positions = (0..<21).map { Double($0) }
        positions[20] = .nan
        raw.datasets["positions"] = (.double(positions), [7, 3])
        let path = directory + "/lazy.h5"
        try raw.write(to: path)
        let data = try SnapshotFile(path: path, checkAllValues: false)
        XCTAssertEqual(try data.readSnapshot(0).positions, Array(positions[0..<9]))
        assertThrows(try data.readSnapshot(1), containing: ["lazy.h5", "dataset 'positions'", "particle 6 (snapshot 1"])
    }

    func testWriterRejectsInvalidSnapshots() throws {
        let attributes = SnapshotAttributes(temperature: 0.6, density: 1.2)
        let good = Snapshot(box: [4, 4, 4], positions: [0, 0, 0, 1, 1, 1], species: [0, 1], propensity: [1, 2])
        let path = directory + "/w.h5"
        var bad = good; bad.species = [0, 5]
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [bad]),
                     containing: ["w.h5", "species", "out of range"])
        bad = good; bad.propensity = [1, 2, 3]
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [bad]),
                     containing: ["propensity", "targets of the wrong length"])
        bad = good; bad.box = [4, -1, 4]
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [bad]),
                     containing: ["box"])
        bad = good; bad.positions[4] = .nan
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [bad]),
                     containing: ["positions", "non-finite"])
        bad = good; bad.positions = [0, 0, 0, 4, 4, 4]      // the same place across the boundary
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [good, bad]),
                     containing: ["positions", "particles 2 and 3 (snapshot 1, particles 0 and 1 of it)", "coincident"])
        bad = good; bad.inherentPositions = [0, 0, 0, 1, 1, 4e4]
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: [bad]),
                     containing: ["positions_inherent", "coordinate 40000.0 of particle 1", "1000 box lengths"])
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [], snapshots: [good]),
                     containing: ["times", "propensity"])
        assertThrows(try SnapshotFileWriter.write(path: path, attributes: attributes, times: [1], snapshots: []),
                     containing: ["no snapshots"])
    }
}
