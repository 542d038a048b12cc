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

    /// Finding 3 (FuzzSnapshot, stack smashing inside libhdf5's H5T__bit_get_d, and values that
    /// changed from run to run): HDF5 1.10 decodes a damaged numeric type without checking its
    /// bit layout, and converting values of such a type reads and writes out of bounds inside
    /// libhdf5. The readers now check the layout before any converting read: integer offset +
    /// precision within the size, float sign, exponent and mantissa within the precision. The
    /// files are h5py's oldest format (no checksums), one byte of a type changed in each.
    func testDamagedNumericTypes() throws {
        let script = """
        import sys, h5py, numpy as np
        base = sys.argv[1]
        def write(path):
            with h5py.File(path, 'w') as f:
                f.attrs['format'] = np.bytes_(b'equiglass-snapshots'); f.attrs['format_version'] = np.int64(1)
                f.attrs['temperature'] = 0.6; f.attrs['density'] = 1.2; f.attrs['species_names'] = np.bytes_(b'A,B')
                f['snapshot_offsets'] = np.array([0, 5]); f['box'] = np.full((1, 3), 5.0)
                f['positions'] = np.arange(15.0).reshape(5, 3) * 0.3; f['species'] = np.arange(5) % 2
                f['times'] = [1.0, 2.0]; f['propensity'] = np.arange(10, dtype='<f4').reshape(5, 2)
        def patch(path, name, pattern, at, value):
            data = bytearray(open(path, 'rb').read())
            start = data.index(name + b'\\0') + (len(name) + 8) // 8 * 8 if name else data.index(pattern)
            assert data[start:start + len(pattern)] == pattern, data[start:start + 16].hex()
            data[start + at] = value
            open(path, 'wb').write(data)
        write(base + '/valid.h5')
        i64 = bytes.fromhex('1008000008000000 00004000')
        f64 = bytes.fromhex('11203f0008000000 00004000340b0034')
        f32 = bytes.fromhex('11201f0004000000 00002000170800 17')
        write(base + '/int-attribute.h5'); patch(base + '/int-attribute.h5', b'format_version', i64, 10, 0xFF)
        write(base + '/float-attribute.h5'); patch(base + '/float-attribute.h5', b'temperature', f64, 13, 0x7F)
        write(base + '/float-dataset.h5'); patch(base + '/float-dataset.h5', None, f32, 13, 0x7F)
        """
        _ = try runPython(script, [directory])
        XCTAssertEqual(try SnapshotFile(path: directory + "/valid.h5").snapshotCount, 1)
        assertThrows(try SnapshotFile(path: directory + "/int-attribute.h5"), containing: [
            "int-attribute.h5", "attribute 'format_version'", "numeric type is damaged",
            "bit offset 0 + precision 255 outside its 64 bits"])
        assertThrows(try SnapshotFile(path: directory + "/float-attribute.h5"), containing: [
            "float-attribute.h5", "attribute 'temperature'", "float type is damaged", "exponent 127 bits at 52"])
        let file = try SnapshotFile(path: directory + "/float-dataset.h5", checkAllValues: false)
        assertThrows(try file.readSnapshot(0), containing: [
            "float-dataset.h5", "dataset 'propensity'", "read rows 0..<5", "float type is damaged"])
    }
}
