import XCTest
@testable import GlassData

/// The format is shared with h5py: files h5py writes are read here, files written here read in h5py.
final class SnapshotInteropTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// h5py writes with its own defaults (variable-length str attributes, int64 species,
    /// float64 propensity, a fixed-length bytes attribute) and prints the values as JSON.
    func testReadsFileWrittenByH5py() throws {
        let path = directory + "/py.h5"
        let printed = try runPython("""
        import sys, json, h5py, numpy as np
        rng = np.random.default_rng(7)
        counts = [5, 9, 4]
        off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        n = int(off[-1]); T = 3
        box = np.array([[6.0, 6.5, 7.0], [8.0, 8.0, 8.0], [5.0, 9.0, 6.0]])
        pos = rng.uniform(-3, 12, (n, 3))
        inh = pos + rng.normal(0, 0.1, (n, 3))
        spe = rng.integers(0, 2, n).astype(np.int64)
        times = np.array([0.1, 1.0, 10.0])
        prop = rng.uniform(0, 2, (n, T))
        epot = rng.normal(-7, 0.3, n)
        with h5py.File(sys.argv[1], 'w') as f:
            f.attrs['format'] = 'equiglass-snapshots'
            f.attrs['format_version'] = np.int64(1)
            f.attrs['temperature'] = 0.6
            f.attrs['density'] = 1.2
            f.attrs['species_names'] = np.bytes_(b'A,B')
            f.attrs['time_unit'] = 'tau_LJ'
            f.attrs['propensity_definition'] = 'mean |dr|'
            f.attrs['propensity_runs'] = np.int64(32)
            f.attrs['source'] = 'h5py-test'
            f.attrs['provenance'] = json.dumps({'seed': 7})
            f['snapshot_offsets'] = off
            f['box'] = box
            f['positions'] = pos
            f['positions_inherent'] = inh
            f['species'] = spe
            f['times'] = times
            f.create_dataset('propensity', data=prop, chunks=(4, T), compression='gzip')
            f['scalars/epot_inherent'] = epot
        H = lambda a: [float(x).hex() for x in np.ravel(a)]  # exact, unlike decimal JSON
        print(json.dumps(dict(box=H(box), pos=H(pos), inh=H(inh), spe=H(spe), prop=H(prop), epot=H(epot))))
        """, [path])
        let expected = try parseJSON(printed)
        let data = try SnapshotFile(path: path)
        XCTAssertEqual(data.snapshotCount, 3)
        XCTAssertEqual(data.particleCount, 18)
        XCTAssertEqual(data.offsets, [0, 5, 14, 18])
        XCTAssertEqual(data.times, [0.1, 1.0, 10.0])
        XCTAssertEqual(data.scalarNames, ["epot_inherent"])
        XCTAssertEqual(data.attributes, SnapshotAttributes(
            temperature: 0.6, density: 1.2, speciesNames: ["A", "B"], timeUnit: "tau_LJ",
            propensityDefinition: "mean |dr|", propensityRuns: 32, source: "h5py-test",
            provenance: "{\"seed\": 7}"))
        let box = hexDoubles(expected["box"]), pos = hexDoubles(expected["pos"])
        let inh = hexDoubles(expected["inh"]), spe = hexDoubles(expected["spe"])
        let prop = hexDoubles(expected["prop"]), epot = hexDoubles(expected["epot"])
        for k in 0..<3 {
            let rows = data.offsets[k] ..< data.offsets[k + 1]
            let snapshot = try data.readSnapshot(k)
            XCTAssertEqual(snapshot.box, Array(box[3 * k ..< 3 * k + 3]))
            XCTAssertEqual(snapshot.positions, Array(pos[3 * rows.lowerBound ..< 3 * rows.upperBound]))
            XCTAssertEqual(snapshot.inherentPositions!, Array(inh[3 * rows.lowerBound ..< 3 * rows.upperBound]))
            XCTAssertEqual(snapshot.species.map { Double($0) }, Array(spe[rows]))
            XCTAssertEqual(snapshot.scalars["epot_inherent"]!, Array(epot[rows]))
            // float64 in the file, converted by HDF5 to Float: exact to Float rounding.
            XCTAssertEqual(snapshot.propensity!, prop[3 * rows.lowerBound ..< 3 * rows.upperBound].map { Float($0) })
        }
    }

    /// The writer's output read back by h5py: dtypes, shapes, attributes and values.
    func testFileWrittenHereIsReadByH5py() throws {
        let path = directory + "/swift.h5"
        var snapshots: [Snapshot] = []
        for k in 0..<3 {
            let n = 4 + 3 * k
            snapshots.append(Snapshot(
                box: [5 + Double(k), 6, 7.5],
                positions: (0..<(3 * n)).map { Double($0) * 0.37 + Double(k) },
                inherentPositions: (0..<(3 * n)).map { Double($0) * 0.37 + Double(k) + 0.05 },
                species: (0..<n).map { Int32(($0 + k) % 2) },
                scalars: ["epot_inherent": (0..<n).map { -6 + Double($0) / 8 }, "q": (0..<n).map { Double($0 * k) }],
                propensity: (0..<(2 * n)).map { Float($0) * 0.125 + Float(k) }))
        }
        let attributes = SnapshotAttributes(temperature: 0.6, density: 1.2, propensityDefinition: "def",
                                            propensityRuns: 32, source: "test", provenance: "{\"seed\":1}")
        try SnapshotFileWriter.write(path: path, attributes: attributes, times: [0.5, 12], snapshots: snapshots)

        let printed = try runPython("""
        import sys, json, h5py, numpy as np
        with h5py.File(sys.argv[1], 'r') as f:
            out = {}
            out['attrs'] = {k: (v.decode() if isinstance(v, bytes) else v.item()) for k, v in f.attrs.items()}
            out['attr_types'] = {k: type(v).__name__ for k, v in f.attrs.items()}
            out['dtypes'] = {}
            out['shapes'] = {}
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    out['dtypes'][name] = obj.dtype.str
                    out['shapes'][name] = list(obj.shape)
            f.visititems(visit)
            off = f['snapshot_offsets'][:]
            k = 1  # read snapshot k as docs/data-format.md shows
            a, b = off[k], off[k + 1]
            H = lambda a: [float(x).hex() for x in np.ravel(a)]  # exact, unlike decimal JSON
            out['k_positions'] = H(f['positions'][a:b])
            out['k_species'] = H(f['species'][a:b])
            out['k_propensity'] = H(f['propensity'][a:b])
            out['k_epot'] = H(f['scalars/epot_inherent'][a:b])
            out['k_box'] = H(f['box'][k])
            out['times'] = H(f['times'][:])
            out['offsets'] = H(off)
        print(json.dumps(out))
        """, [path])
        let result = try parseJSON(printed)
        let attrs = result["attrs"] as! [String: Any]
        XCTAssertEqual(attrs["format"] as? String, "equiglass-snapshots")
        XCTAssertEqual((attrs["format_version"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual((attrs["temperature"] as? NSNumber)?.doubleValue, 0.6)
        XCTAssertEqual((attrs["density"] as? NSNumber)?.doubleValue, 1.2)
        XCTAssertEqual(attrs["species_names"] as? String, "A,B")
        XCTAssertEqual(attrs["time_unit"] as? String, "tau_LJ")
        XCTAssertEqual(attrs["propensity_definition"] as? String, "def")
        XCTAssertEqual((attrs["propensity_runs"] as? NSNumber)?.intValue, 32)
        XCTAssertEqual(attrs["provenance"] as? String, "{\"seed\":1}")
        XCTAssertEqual((result["attr_types"] as! [String: String])["format"], "bytes_")  // fixed-length UTF-8
        XCTAssertEqual(result["dtypes"] as! [String: String], [
            "snapshot_offsets": "<i8", "box": "<f8", "positions": "<f8", "positions_inherent": "<f8",
            "species": "<i4", "times": "<f8", "propensity": "<f4",
            "scalars/epot_inherent": "<f8", "scalars/q": "<f8"])
        let shapes = (result["shapes"] as! [String: [Int]])
        XCTAssertEqual(shapes["positions"], [21, 3])
        XCTAssertEqual(shapes["propensity"], [21, 2])
        XCTAssertEqual(shapes["box"], [3, 3])
        XCTAssertEqual(shapes["snapshot_offsets"], [4])
        XCTAssertEqual(hexDoubles(result["offsets"]), [0, 4, 11, 21])
        XCTAssertEqual(hexDoubles(result["times"]), [0.5, 12])
        XCTAssertEqual(hexDoubles(result["k_positions"]), snapshots[1].positions)
        XCTAssertEqual(hexDoubles(result["k_species"]), snapshots[1].species.map { Double($0) })
        XCTAssertEqual(hexDoubles(result["k_propensity"]), snapshots[1].propensity!.map { Double($0) })
        XCTAssertEqual(hexDoubles(result["k_epot"]), snapshots[1].scalars["epot_inherent"]!)
        XCTAssertEqual(hexDoubles(result["k_box"]), [6, 6, 7.5])

        // And the project reads its own file back identically.
        let data = try SnapshotFile(path: path)
        XCTAssertEqual(data.attributes, attributes)
        for k in 0..<3 { XCTAssertEqual(try data.readSnapshot(k), snapshots[k]) }
    }

    func testFileWithoutOptionalDatasetsForPrediction() throws {
        let path = directory + "/predict.h5"
        let snapshot = Snapshot(box: [4, 4, 4], positions: [0, 0, 0, 1, 1, 1], species: [0, 1])
        try SnapshotFileWriter.write(path: path, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2),
                                     times: [], snapshots: [snapshot])
        let data = try SnapshotFile(path: path)
        XCTAssertFalse(data.hasPropensity)
        XCTAssertFalse(data.hasInherentPositions)
        XCTAssertEqual(data.times, [])
        XCTAssertEqual(try data.readSnapshot(0), snapshot)
        assertThrows(try data.readSnapshot(1), containing: ["predict.h5", "snapshot 1 requested, the file has 1"])
    }
}
