import XCTest
@testable import GlassData

/// What the fuzzers (Fuzz/README.md) found in the readers, each input rebuilt here and its
/// error asserted: every bad file gives a thrown error naming the file and the problem.
final class FuzzRegressionTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// The baseline file with `removed` datasets left out, then `change` applied to it open
    /// read-write through the HDF5 layer.
    func file(_ name: String, without removed: [String], _ change: (HDF5Group) throws -> Void) throws -> String {
        var raw = RawSnapshotFile()
        for key in removed { raw.datasets[key] = nil }
        let path = directory + "/" + name
        try raw.write(to: path)
        try change(HDF5File(path: path, mode: .readWrite).root)
        return path
    }

    /// Finding 1 (FuzzSnapshotLayout, out-of-memory): a dataset that was created but never
    /// written reads as fill values, without an error from HDF5. A 10 kB file declaring
    /// snapshot_offsets of 2^31 values had the reader allocate (and fill) 16 GiB before it
    /// could see that the values were all zeros; now the read is refused before allocating.
    func testNeverWrittenDatasetOfHugeExtent() throws {
        let path = try file("unwritten-offsets.h5", without: ["snapshot_offsets"]) { root in
            _ = try root.createDataset("snapshot_offsets", of: Int64.self, shape: [1 << 31])
        }
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int, 100_000)
        assertThrows(try SnapshotFile(path: path), containing: [
            "unwritten-offsets.h5", "dataset 'snapshot_offsets'", "[2147483648] was never written",
            "the file does not hold its values"])
    }

    /// The same for the per-particle datasets, which are read a snapshot at a time: a snapshot
    /// of 5·10^8 particles whose positions were never written had each read allocate 12 GB.
    func testNeverWrittenPositionsOfAHugeSnapshot() throws {
        let n = 500_000_000
        let path = try file("unwritten-positions.h5", without: [
            "snapshot_offsets", "box", "positions", "positions_inherent", "species", "propensity", "scalars/epot",
        ]) { root in
            try root.write("snapshot_offsets", values: [Int64(0), Int64(n)], shape: [2])
            try root.write("box", values: [5.0, 5, 5], shape: [1, 3])
            _ = try root.createDataset("positions", of: Double.self, shape: [n, 3], chunkRows: 4096)
            _ = try root.createDataset("species", of: Int32.self, shape: [n], chunkRows: 4096)
        }
        let file = try SnapshotFile(path: path, checkAllValues: false)  // the layout is consistent
        assertThrows(try file.readSnapshot(0), containing: [
            "unwritten-positions.h5", "dataset 'positions'", "read rows 0..<500000000", "never written"])
        assertThrows(try SnapshotFile(path: path), containing: ["unwritten-positions.h5", "never written"])
    }

    /// A chunked dataset with some chunks never written (an interrupted writer) read its
    /// missing rows as zeros; now it is an error naming the dataset.
    func testPartlyWrittenDataset() throws {
        let path = try file("partly-written.h5", without: ["positions"]) { root in
            let positions = try root.createDataset("positions", of: Double.self, shape: [7, 3], chunkRows: 2)
            try positions.writeRows((0..<6).map { Double($0) * 0.25 }, at: 0)  // the first chunk only
        }
        assertThrows(try SnapshotFile(path: path), containing: [
            "partly-written.h5", "dataset 'positions'", "[7, 3] was only partly written"])
    }

    /// Finding 2 (FuzzSnapshotLayout, arithmetic overflow trap): creating a chunked dataset
    /// whose element count overflows Int trapped in the element-count product instead of
    /// returning HDF5's refusal as an error.
    func testChunkedDatasetWhoseElementCountOverflows() throws {
        let path = directory + "/overflow.h5"
        let root = try HDF5File.create(path: path).root
        assertThrows(try root.createDataset("d", of: Double.self, shape: [1 << 40, 1 << 40], chunkRows: 2),
                     containing: ["overflow.h5", "object '/d'", "create dataset failed"])
        // Unchunked, HDF5 creates it (late allocation, nothing written); reading is refused.
        let huge = try root.createDataset("e", of: Double.self, shape: [1 << 40, 1 << 30])
        assertThrows(try huge.readRows(0..<1, as: Double.self), containing: ["overflow.h5", "never written"])
    }
}
