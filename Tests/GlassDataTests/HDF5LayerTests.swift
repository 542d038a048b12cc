import XCTest
@testable import GlassData

final class HDF5LayerTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testTypedDatasetsRoundTripWithConversion() throws {
        let path = directory + "/types.h5"
        do {
            let file = try HDF5File.create(path: path)
            let root = file.root
            try root.write("f", values: [Float(1.5), -2.25, 3e30], shape: [3])
            try root.write("d", values: [1.0 / 3.0, -1e-300, 4, 5, 6, 7], shape: [2, 3], chunkRows: 1)
            try root.write("i32", values: [Int32.min, 0, Int32.max], shape: [3])
            try root.write("i64", values: [Int64(1) << 40, -7], shape: [2])
            let group = try root.createGroup("g")
            try group.write("x", values: [Int32(9)], shape: [1, 1])
        }
        let file = try HDF5File(path: path)
        let root = file.root
        XCTAssertEqual(try root.dataset("f").read(as: Float.self), [1.5, -2.25, 3e30])
        XCTAssertEqual(try root.dataset("d").read(as: Double.self), [1.0 / 3.0, -1e-300, 4, 5, 6, 7])
        XCTAssertEqual(try root.dataset("d").shape, [2, 3])
        XCTAssertEqual(try root.dataset("i32").read(as: Int32.self), [Int32.min, 0, Int32.max])
        XCTAssertEqual(try root.dataset("i64").read(as: Int64.self), [1 << 40, -7])
        // HDF5 converts on read: int32 → double, double → float, int32 → int64.
        XCTAssertEqual(try root.dataset("i32").read(as: Double.self), [Double(Int32.min), 0, Double(Int32.max)])
        XCTAssertEqual(try root.dataset("d").read(as: Float.self), [Float(1.0 / 3.0), 0, 4, 5, 6, 7])
        XCTAssertEqual(try root.dataset("g/x").read(as: Int64.self), [9])
        XCTAssertEqual(try root.dataset("i32").valueClass, .integer)
        XCTAssertEqual(try root.dataset("f").valueClass, .float)
        XCTAssertTrue(root.contains("g/x"))
        XCTAssertTrue(root.containsGroup("g"))
        XCTAssertFalse(root.containsGroup("d"))
        XCTAssertTrue(root.containsDataset("d"))
        XCTAssertFalse(root.contains("g/y"))
        XCTAssertFalse(root.contains("nope/x"))
        XCTAssertEqual(try root.childNames(), ["d", "f", "g", "i32", "i64"])
    }

    func testHyperslabRowsReadAndWrite() throws {
        let path = directory + "/rows.h5"
        let values = (0..<30).map { Double($0) }
        do {
            let file = try HDF5File.create(path: path)
            let data = try file.root.createDataset("m", of: Double.self, shape: [10, 3], chunkRows: 4)
            try data.write(values)
            try data.writeRows([-1.0, -2, -3, -4, -5, -6], at: 8)
        }
        let data = try HDF5File(path: path).root.dataset("m")
        XCTAssertEqual(try data.readRows(2..<4, as: Double.self), [6, 7, 8, 9, 10, 11])
        XCTAssertEqual(try data.readRows(8..<10, as: Double.self), [-1, -2, -3, -4, -5, -6])
        XCTAssertEqual(try data.readRows(5..<5, as: Double.self), [])
        assertThrows(try data.readRows(9..<11, as: Double.self), containing: ["rows.h5", "/m", "outside 0..<10"])
        assertThrows(try data.write([1.0]), containing: ["/m", "1 values for shape [10, 3]"])
    }

    func testAttributesAllKinds() throws {
        let path = directory + "/attrs.h5"
        do {
            let file = try HDF5File.create(path: path)
            try file.root.writeAttribute("n", Int64(-42))
            try file.root.writeAttribute("x", 0.125)
            try file.root.writeAttribute("s", "héllo, wörld")
            try file.root.writeAttribute("s", "replaced")  // replacing an attribute works
            let data = try file.root.write("d", values: [1.0], shape: [1])
            try data.writeAttribute("unit", "tau")
        }
        let root = try HDF5File(path: path).root
        XCTAssertEqual(try root.readInt64Attribute("n"), -42)
        XCTAssertEqual(try root.readDoubleAttribute("n"), -42)  // converted
        XCTAssertEqual(try root.readDoubleAttribute("x"), 0.125)
        XCTAssertEqual(try root.readStringAttribute("s"), "replaced")
        XCTAssertEqual(try root.dataset("d").readStringAttribute("unit"), "tau")
        XCTAssertTrue(root.hasAttribute("x"))
        XCTAssertFalse(root.hasAttribute("y"))
        assertThrows(try root.readStringAttribute("x"), containing: ["attrs.h5", "@x", "not a string"])
        assertThrows(try root.readDoubleAttribute("s"), containing: ["@s", "not a number"])
        assertThrows(try root.readInt64Attribute("missing"), containing: ["@missing", "missing"])
    }

    func testFixedAndVariableLengthStringsFromH5py() throws {
        let path = directory + "/py.h5"
        _ = try runPython("""
        import sys, h5py, numpy as np
        with h5py.File(sys.argv[1], 'w') as f:
            f.attrs['vlen'] = 'variable λ'
            f.attrs['fixed'] = np.bytes_(b'fixed-bytes')
            f.attrs['i'] = np.int32(7)
            f.attrs['arr1'] = np.array([2.5])
        """, [path])
        let root = try HDF5File(path: path).root
        XCTAssertEqual(try root.readStringAttribute("vlen"), "variable λ")
        XCTAssertEqual(try root.readStringAttribute("fixed"), "fixed-bytes")
        XCTAssertEqual(try root.readInt64Attribute("i"), 7)
        XCTAssertEqual(try root.readDoubleAttribute("arr1"), 2.5)
    }

    func testErrorsNameFileObjectAndOperation() throws {
        let missing = directory + "/none.h5"
        assertThrows(try HDF5File(path: missing), containing: ["none.h5", "open", "no such file"])
        let text = directory + "/text.h5"
        try "not hdf5 at all".write(toFile: text, atomically: true, encoding: .utf8)
        assertThrows(try HDF5File(path: text), containing: ["text.h5", "not an HDF5 file"])
        let path = directory + "/e.h5"
        let file = try HDF5File.create(path: path)
        try file.root.write("d", values: [1.0], shape: [1])
        assertThrows(try file.root.dataset("missing"), containing: ["e.h5", "/missing", "open dataset"])
        assertThrows(try file.root.group("d"), containing: ["e.h5", "/d", "open group"])
        assertThrows(try file.root.write("d", values: [2.0], shape: [1]), containing: ["e.h5", "/d", "create dataset"])
        assertThrows(try HDF5File.create(path: directory + "/no/such/dir.h5"), containing: ["dir.h5", "create file"])
    }
}
