import XCTest
@testable import GlassData

/// Damaged files (truncated, bytes flipped) must give errors or valid reads, never a crash.
final class SnapshotFuzzTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Opens `bytes` as a snapshot file and reads everything; returns whether it was valid.
    func openAndReadAll(_ bytes: [UInt8], name: String) -> Bool {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let data = try SnapshotFile(path: path)
            for k in 0..<data.snapshotCount { _ = try data.readSnapshot(k) }
            return true
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.contains(name), "error does not name the file: \(message)")
            return false
        }
    }

    func sampleFile(gzip: Bool) throws -> [UInt8] {
        let path = directory + "/sample.h5"
        var snapshots: [Snapshot] = []
        for k in 0..<3 {
            let n = 6 + k
            snapshots.append(Snapshot(box: [5, 5, 5], positions: (0..<(3 * n)).map { Double($0) * 0.3 },
                                      inherentPositions: (0..<(3 * n)).map { Double($0) * 0.3 + 0.01 },
                                      species: (0..<n).map { Int32($0 % 2) }, scalars: ["epot": (0..<n).map { Double($0) }],
                                      propensity: (0..<(2 * n)).map { Float($0) }))
        }
        try SnapshotFileWriter.write(path: path, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2),
                                     times: [1, 2], snapshots: snapshots)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func testTruncatedFiles() throws {
        let bytes = try sampleFile(gzip: true)
        XCTAssertTrue(openAndReadAll(bytes, name: "whole.h5"))
        var valid = 0
        // Every length from 0 in steps covering the whole file (about 150 variants).
        let step = max(1, bytes.count / 150)
        for length in stride(from: 0, to: bytes.count, by: step) {
            if openAndReadAll(Array(bytes[0..<length]), name: "trunc-\(length).h5") { valid += 1 }
        }
        XCTAssertEqual(valid, 0, "a truncated file opened as valid")
    }

    func testFlippedBytes() throws {
        let bytes = try sampleFile(gzip: true)
        var generator = SplitMix64(seed: 20261127)
        var valid = 0, invalid = 0
        for variant in 0..<300 {
            var damaged = bytes
            let flips = 1 + Int(generator.next() % 4)
            for _ in 0..<flips {
                let position = Int(generator.next() % UInt64(damaged.count))
                damaged[position] ^= UInt8(1 + generator.next() % 255)
            }
            if openAndReadAll(damaged, name: "flip-\(variant).h5") { valid += 1 } else { invalid += 1 }
        }
        // Both outcomes occur: flips in metadata are caught, some flips in unused bytes are harmless.
        XCTAssertGreaterThan(invalid, 0)
        XCTAssertEqual(valid + invalid, 300)
    }

    /// Files written by h5py in the oldest HDF5 format (no metadata checksums): still no crash.
    /// String attributes are fixed-length (np.bytes_), as docs/data-format.md asks of writers:
    /// HDF5 1.10 itself can crash on a corrupted global heap, where variable-length strings live.
    func testFlippedBytesInH5pyFile() throws {
        let path = directory + "/py.h5"
        _ = try runPython("""
        import sys, h5py, numpy as np
        with h5py.File(sys.argv[1], 'w') as f:
            f.attrs['format'] = np.bytes_(b'equiglass-snapshots'); f.attrs['format_version'] = 1
            f.attrs['temperature'] = 0.6; f.attrs['density'] = 1.2; f.attrs['species_names'] = np.bytes_(b'A,B')
            f['snapshot_offsets'] = np.array([0, 5, 12]); f['box'] = np.full((2, 3), 5.0)
            f['positions'] = np.arange(36.0).reshape(12, 3) * 0.1; f['species'] = np.arange(12) % 2
            f['times'] = [1.0, 3.0]; f['propensity'] = np.arange(24.0).reshape(12, 2)
        """, [path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertTrue(openAndReadAll(bytes, name: "py-whole.h5"))
        var generator = SplitMix64(seed: 7)
        var invalid = 0
        for variant in 0..<200 {
            var damaged = bytes
            let position = Int(generator.next() % UInt64(damaged.count))
            damaged[position] ^= UInt8(1 + generator.next() % 255)
            if !openAndReadAll(damaged, name: "pyflip-\(variant).h5") { invalid += 1 }
        }
        XCTAssertGreaterThan(invalid, 0)
    }
}
