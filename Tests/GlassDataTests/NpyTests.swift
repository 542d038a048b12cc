import XCTest
@testable import GlassData

/// The .npy parser on files NumPy writes, and on hand-made edge cases.
final class NpyTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func load(_ name: String) throws -> NpyArray {
        let path = directory + "/" + name
        return try NpyArray(npyData: try Data(contentsOf: URL(fileURLWithPath: path)), source: path)
    }

    /// Builds a .npy by hand: magic, version, header dict, data.
    func npy(header: String, data: [UInt8], major: UInt8 = 1) -> Data {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        var text = header
        let prefix = (major == 1 ? 10 : 12)
        while (prefix + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        let length = text.utf8.count
        bytes += major == 1 ? [UInt8(length & 255), UInt8(length >> 8)]
                            : [UInt8(length & 255), UInt8((length >> 8) & 255), 0, 0]
        return Data(bytes + Array(text.utf8) + data)
    }

    func testDtypesWrittenByNumPy() throws {
        _ = try runPython("""
        import sys, numpy as np
        d = sys.argv[1]
        np.save(d + '/f8.npy', np.array([[1.5, -2.0, 3.25], [1e-300, np.pi, -0.0]]))
        np.save(d + '/f4.npy', np.array([0.1, 2.5], dtype='<f4'))
        np.save(d + '/i8.npy', np.array([-(2**62), 5], dtype='<i8'))
        np.save(d + '/i4.npy', np.array([[1, 2]], dtype='<i4'))
        np.save(d + '/i2.npy', np.array([-300], dtype='<i2'))
        np.save(d + '/u1.npy', np.array([255, 0], dtype='u1'))
        np.save(d + '/b1.npy', np.array([True, False]))
        np.save(d + '/scalar.npy', np.float64(7.0))
        np.save(d + '/empty.npy', np.zeros((0, 3)))
        np.save(d + '/fortran.npy', np.asfortranarray(np.arange(24.0).reshape(2, 3, 4)))
        np.save(d + '/transposed.npy', np.arange(6, dtype='<i4').reshape(2, 3).T)
        np.save(d + '/big.npy', np.array([1.0, 2.0], dtype='>f8'))
        np.save(d + '/obj.npy', np.array([{'a': 1}], dtype=object), allow_pickle=True)
        np.save(d + '/c16.npy', np.array([1j]))
        np.save(d + '/v2.npy', np.zeros(3, dtype=[('x' * 70000, '<f8')]))
        """, [directory])
        let f8 = try load("f8.npy")
        XCTAssertEqual(f8.shape, [2, 3])
        XCTAssertEqual(f8.descr, "<f8")
        XCTAssertEqual(f8.doubles, [1.5, -2.0, 3.25, 1e-300, Double.pi, -0.0])
        XCTAssertEqual(try load("f4.npy").doubles, [Double(Float(0.1)), 2.5])
        XCTAssertEqual(try load("i8.npy").integers, [-(1 << 62), 5])
        XCTAssertEqual(try load("i4.npy").shape, [1, 2])
        XCTAssertEqual(try load("i4.npy").integers, [1, 2])
        XCTAssertEqual(try load("i2.npy").integers, [-300])
        XCTAssertEqual(try load("u1.npy").integers, [255, 0])
        XCTAssertEqual(try load("b1.npy").integers, [1, 0])
        XCTAssertEqual(try load("scalar.npy").shape, [])
        XCTAssertEqual(try load("scalar.npy").doubles, [7.0])
        XCTAssertEqual(try load("empty.npy").shape, [0, 3])
        XCTAssertEqual(try load("empty.npy").doubles, [])
        // Fortran order (what numpy writes for a transposed array) is read into C order.
        XCTAssertTrue(String(decoding: try Data(contentsOf: URL(fileURLWithPath: directory + "/transposed.npy")), as: UTF8.self)
            .contains("'fortran_order': True"))
        XCTAssertEqual(try load("fortran.npy").shape, [2, 3, 4])
        XCTAssertEqual(try load("fortran.npy").doubles, (0..<24).map(Double.init))
        XCTAssertEqual(try load("transposed.npy").shape, [3, 2])
        XCTAssertEqual(try load("transposed.npy").integers, [0, 3, 1, 4, 2, 5])
        assertThrows(try load("big.npy"), containing: ["big.npy", "'>f8'", "big-endian"])
        assertThrows(try load("obj.npy"), containing: ["obj.npy", "unsupported dtype '|O'"])
        assertThrows(try load("c16.npy"), containing: ["c16.npy", "unsupported dtype '<c16'"])
        // A structured dtype with a >65 kB header is written as format version 2.0.
        assertThrows(try load("v2.npy"), containing: ["v2.npy", "structured dtypes are not supported"])
    }

    func testHandMadeHeaders() throws {
        let eight: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]  // 1.0 as little-endian f8
        // Version 2.0 header, double quotes, no trailing comma, spaces.
        let v2 = npy(header: "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1,)}", data: eight, major: 2)
        XCTAssertEqual(try NpyArray(npyData: v2, source: "v2").doubles, [1.0])
        // Keys in another order, Python-2 long suffix.
        let reordered = npy(header: "{'shape': (1L,), 'fortran_order': False, 'descr': '<f8', }", data: eight)
        XCTAssertEqual(try NpyArray(npyData: reordered, source: "r").shape, [1])
        assertThrows(try NpyArray(npyData: Data("hello".utf8), source: "x.npy"), containing: ["x.npy", "bad magic"])
        let truncated = npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data: eight)
        assertThrows(try NpyArray(npyData: truncated, source: "t.npy"), containing: ["t.npy", "truncated data", "needs 16 bytes, file has 8"])
        let cut = npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: eight).prefix(20)
        assertThrows(try NpyArray(npyData: Data(cut), source: "c.npy"), containing: ["c.npy", "truncated header"])
        let noShape = npy(header: "{'descr': '<f8', 'fortran_order': False, }", data: eight)
        assertThrows(try NpyArray(npyData: noShape, source: "s.npy"), containing: ["s.npy", "no 'shape'"])
        let huge = npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", data: eight)
        assertThrows(try NpyArray(npyData: huge, source: "h.npy"), containing: ["h.npy", "too large"])
        let version9 = npy(header: "{}", data: [], major: 9)
        assertThrows(try NpyArray(npyData: version9, source: "9.npy"), containing: ["unsupported .npy format version 9.0"])
    }

    /// Random truncations and byte flips of a .npy never crash the parser.
    func testDamagedNpyNeverCrashes() throws {
        let good = npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }",
                       data: (0..<12).flatMap { withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init) })
        XCTAssertEqual(try NpyArray(npyData: good, source: "g").doubles, (0..<12).map { Double($0) })
        var generator = SplitMix64(seed: 99)
        var errors = 0
        for variant in 0..<400 {
            var bytes = [UInt8](good)
            if variant % 2 == 0 {
                bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            } else {
                bytes[Int(generator.next() % 128)] ^= UInt8(1 + generator.next() % 255)  // the header
            }
            do { _ = try NpyArray(npyData: Data(bytes), source: "v\(variant)") } catch { errors += 1 }
        }
        XCTAssertGreaterThan(errors, 200)
    }
}
