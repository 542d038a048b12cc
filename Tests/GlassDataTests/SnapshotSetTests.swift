import Foundation
import XCTest
@testable import GlassData

/// Several files read as one (`SnapshotSet`).
final class SnapshotSetTests: XCTestCase {
    var folder = ""
    let bundled = BundledDatasetTests.dataFolder.appendingPathComponent("ka-N1000-T0.60-test.h5").path

    override func setUpWithError() throws { folder = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// The bundled test file's 8 snapshots split 3 + 5 into a folder of two parts.
    func writeParts(_ whole: SnapshotFile, at: Int = 3) throws -> String {
        let parts = (folder as NSString).appendingPathComponent("parts")
        try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: true)
        let snapshots = try (0..<whole.snapshotCount).map { try whole.readSnapshot($0) }
        // Named so that sorting by name gives the order: part-2 is written first.
        try SnapshotFileWriter.write(path: parts + "/part-2.h5", attributes: whole.attributes, times: whole.times,
                                     snapshots: Array(snapshots[at...]))
        try SnapshotFileWriter.write(path: parts + "/part-1.h5", attributes: whole.attributes, times: whole.times,
                                     snapshots: Array(snapshots[..<at]))
        return parts
    }

    func testAFolderOfPartsReadsAsTheWholeFile() throws {
        let whole = try SnapshotFile(path: bundled)
        let set = try SnapshotSet(paths: [try writeParts(whole)])
        XCTAssertEqual(set.files.map { ($0.path as NSString).lastPathComponent }, ["part-1.h5", "part-2.h5"])
        XCTAssertEqual(set.snapshotCount, whole.snapshotCount)
        XCTAssertEqual(set.offsets, whole.offsets)
        XCTAssertEqual(set.times, whole.times)
        XCTAssertEqual(set.scalarNames, whole.scalarNames)
        XCTAssertEqual(set.attributes, whole.attributes)
        for k in 0..<whole.snapshotCount {
            XCTAssertEqual(try set.readSnapshot(k), try whole.readSnapshot(k), "snapshot \(k)")
            XCTAssertEqual(set.box(ofSnapshot: k), whole.box(ofSnapshot: k))
        }
        XCTAssertEqual(set.location(ofSnapshot: 3).index, 0)
        XCTAssertTrue(set.location(ofSnapshot: 3).file.path.hasSuffix("part-2.h5"))
        assertThrows(try set.readSnapshot(8), containing: ["snapshot 8 requested", "hold 8"])
    }

    func testFilesThatDisagreeAreRefusedNamingBoth() throws {
        let whole = try SnapshotFile(path: bundled)
        let s = try whole.readSnapshot(0)
        let other = (folder as NSString).appendingPathComponent("other-times.h5")
        var p = s
        p.propensity = Array(s.propensity![..<(1000 * 2)])
        try SnapshotFileWriter.write(path: other, attributes: whole.attributes, times: [0.5, 2], snapshots: [p])
        assertThrows(try SnapshotSet(paths: [bundled, other]), containing: ["other-times.h5", "times", bundled, "must agree"])
        let noPropensity = (folder as NSString).appendingPathComponent("no-propensity.h5")
        var q = s
        q.propensity = nil
        try SnapshotFileWriter.write(path: noPropensity, attributes: whole.attributes, times: whole.times, snapshots: [q])
        assertThrows(try SnapshotSet(paths: [bundled, noPropensity]), containing: ["no-propensity.h5", "propensity", "absent"])
    }

    func testScalarsAreThoseEveryFileHolds() throws {
        let whole = try SnapshotFile(path: bundled)
        var s = try whole.readSnapshot(0)
        s.scalars = [:]
        let bare = (folder as NSString).appendingPathComponent("bare.h5")
        try SnapshotFileWriter.write(path: bare, attributes: whole.attributes, times: whole.times, snapshots: [s])
        let set = try SnapshotSet(paths: [bundled, bare])
        XCTAssertEqual(whole.scalarNames, ["epot_inherent"])
        XCTAssertEqual(set.scalarNames, [])
        XCTAssertEqual(try set.readSnapshot(0).scalars, [:])
        XCTAssertEqual(set.snapshotCount, 9)
    }

    func testMissingPathsAndEmptyFoldersAreErrors() throws {
        assertThrows(try SnapshotSet(paths: [folder + "/nothing.h5"]), containing: ["nothing.h5", "no such file"])
        assertThrows(try SnapshotSet(paths: [folder]), containing: [folder, "no .h5 file"])
        assertThrows(try SnapshotSet(paths: []), containing: ["no snapshot file given"])
    }
}
