import XCTest
@testable import GlassData

/// A GlassBench-style folder made with NumPy (np.savez and np.savez_compressed) imports into
/// the snapshot format with its values intact.
final class GlassBenchImportTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `count` configurations of n particles into dir/gb; prints the arrays as float.hex.
    func makeFolder(count: Int = 3, n: Int = 50, times: Int = 4, extra: String = "") throws -> [[String: Any]] {
        let printed = try runPython("""
        import sys, os, json, numpy as np
        d = sys.argv[1] + '/gb'; os.makedirs(d, exist_ok=True)
        count, n, T = \(count), \(n), \(times)
        rng = np.random.default_rng(3)
        H = lambda a: [float(x).hex() for x in np.ravel(a)]
        out = []
        for k in range(count):
            types = np.where(rng.uniform(size=n) < 0.8, 1, 2).astype(np.int64)
            pos = rng.uniform(-4.0, 4.0, (n, 3)).astype(np.float32 if k == 1 else np.float64)
            inh = pos + rng.normal(0, 0.05, (n, 3))
            prop = rng.uniform(0, 3, (T, n)).astype(np.float32)
            epot = rng.normal(-7, 0.2, n)
            save = np.savez_compressed if k % 2 else np.savez
            save(f'{d}/config_{k:03d}.npz', types=types, initial_positions=pos,
                 initial_positions_inherent=inh, md_prop=prop, EPOT=epot)
            out.append(dict(types=H(types), pos=H(pos), inh=H(inh), prop=H(prop), epot=H(epot)))
        \(extra)
        print(json.dumps(out))
        """, [directory])
        return try JSONSerialization.jsonObject(with: Data(printed.utf8)) as! [[String: Any]]
    }

    func testImportRoundTripsValues() throws {
        let expected = try makeFolder()
        let output = directory + "/gb.h5"
        let count = try GlassBenchImporter.importFolder(
            directory: directory + "/gb", output: output, box: .density(1.2), times: [0.5, 1, 5, 20],
            temperature: 0.44, commandLine: "launcher import glassbench test")
        XCTAssertEqual(count, 3)
        let data = try SnapshotFile(path: output)
        XCTAssertEqual(data.snapshotCount, 3)
        XCTAssertEqual(data.times, [0.5, 1, 5, 20])
        XCTAssertEqual(data.attributes.temperature, 0.44)
        XCTAssertEqual(data.attributes.source, "glassbench")
        XCTAssertEqual(data.attributes.speciesNames, ["A", "B"])
        XCTAssertEqual(data.attributes.density, 1.2, accuracy: 1e-12)
        XCTAssertEqual(data.scalarNames, ["epot"])
        XCTAssertTrue(data.attributes.provenance.contains("config_002.npz"))
        for k in 0..<3 {
            let snapshot = try data.readSnapshot(k)
            let file = expected[k]
            XCTAssertEqual(snapshot.box, [Foundation.cbrt(50 / 1.2), Foundation.cbrt(50 / 1.2), Foundation.cbrt(50 / 1.2)])
            XCTAssertEqual(snapshot.species.map { Double($0) }, hexDoubles(file["types"]).map { $0 - 1 })
            XCTAssertEqual(snapshot.positions, hexDoubles(file["pos"]))
            XCTAssertEqual(snapshot.inherentPositions!, hexDoubles(file["inh"]))
            XCTAssertEqual(snapshot.scalars["epot"]!, hexDoubles(file["epot"]))
            // md_prop is [T, n]; the file stores [n, T].
            let prop = hexDoubles(file["prop"])
            for i in 0..<50 {
                for t in 0..<4 { XCTAssertEqual(Double(snapshot.propensity![i * 4 + t]), prop[t * 50 + i]) }
            }
        }
        // An explicit box edge.
        try GlassBenchImporter.importFolder(directory: directory + "/gb", output: output + "-boxed", box: .edge(3.5),
                                            times: [0.5, 1, 5, 20], temperature: nil, commandLine: "test")
        let boxed = try SnapshotFile(path: output + "-boxed")
        XCTAssertEqual(boxed.box(ofSnapshot: 2), [3.5, 3.5, 3.5])
        XCTAssertEqual(boxed.attributes.density, 50 / (3.5 * 3.5 * 3.5), accuracy: 1e-12)
        XCTAssertTrue(boxed.attributes.temperature.isNaN)
    }

    func testErrorsNameFileAndKey() throws {
        _ = try makeFolder(count: 2, extra: """
        np.savez(d + '/config_005_bad.npz', types=np.array([1, 3]), initial_positions=np.zeros((2, 3)),
                 md_prop=np.zeros((4, 2)))
        """)
        let output = directory + "/x.h5"
        assertThrows(try GlassBenchImporter.importFolder(directory: directory + "/gb", output: output, box: .edge(9),
                                                         times: [1, 2, 3, 4], temperature: nil, commandLine: ""),
                     containing: ["config_005_bad.npz", "key 'types'", "particle 1 has type 3"])
        assertThrows(try GlassBenchImporter.importFolder(directory: directory + "/gb", output: output, box: .edge(9),
                                                         times: [1, 2, 3], temperature: nil, commandLine: ""),
                     containing: ["config_000.npz", "key 'md_prop'", "targets of the wrong length: 4 times in the file, 3 given"])
        assertThrows(try GlassBenchImporter.importFolder(directory: directory + "/none", output: output, box: .edge(9),
                                                         times: [1], temperature: nil, commandLine: ""),
                     containing: ["none", "cannot list directory"])
    }

    func testMissingKeyAndBadZip() throws {
        _ = try runPython("""
        import sys, numpy as np
        np.savez(sys.argv[1] + '/nomd.npz', types=np.array([1, 2]), initial_positions=np.zeros((2, 3)))
        np.savez(sys.argv[1] + '/shape.npz', types=np.array([1, 2]), initial_positions=np.zeros((3, 3)), md_prop=np.zeros((1, 2)))
        open(sys.argv[1] + '/junk.npz', 'wb').write(b'PK' + bytes(range(200)))
        """, [directory])
        assertThrows(try GlassBenchImporter.readSnapshot(path: directory + "/nomd.npz", box: .edge(5), timeCount: 1),
                     containing: ["nomd.npz", "key 'md_prop'", "missing", "initial_positions, types"])
        assertThrows(try GlassBenchImporter.readSnapshot(path: directory + "/shape.npz", box: .edge(5), timeCount: 1),
                     containing: ["shape.npz", "key 'initial_positions'", "has shape [3, 3], expected [2, 3]"])
        assertThrows(try GlassBenchImporter.readSnapshot(path: directory + "/junk.npz", box: .edge(5), timeCount: 1),
                     containing: ["junk.npz"])
        let archive = try NpzArchive(path: directory + "/nomd.npz")
        XCTAssertEqual(archive.keys, ["initial_positions", "types"])
    }
}
