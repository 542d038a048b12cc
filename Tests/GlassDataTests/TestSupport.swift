import Foundation
import XCTest
@testable import GlassData

/// A fresh temporary directory per test case, removed afterwards.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "glassdata-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a Python 3 script (with numpy and h5py; CI installs them) with `arguments`, returning
/// stdout. Fails the test clearly if Python or the modules are missing.
func runPython(_ script: String, _ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    do { try process.run() } catch {
        XCTFail("python3 is required for this test (with numpy and h5py): \(error)", file: file, line: line)
        throw error
    }
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let stderr = String(decoding: errData, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        let hint = stderr.contains("No module named") ? " — install numpy and h5py (pip install numpy h5py)" : ""
        XCTFail("python3 failed\(hint):\n\(stderr)", file: file, line: line)
        throw NSError(domain: "python", code: Int(process.terminationStatus))
    }
    return String(decoding: outData, as: UTF8.self)
}

/// Parses the JSON a Python script printed.
func parseJSON(_ text: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
}

/// Flattens a nested JSON list of numbers into [Double].
func flatDoubles(_ value: Any?) -> [Double] {
    if let number = value as? NSNumber { return [number.doubleValue] }
    if let list = value as? [Any] { return list.flatMap { flatDoubles($0) } }
    return []
}

/// Parses a JSON list of Python `float.hex()` strings (exact round trip) into [Double].
func hexDoubles(_ value: Any?) -> [Double] {
    (value as? [String] ?? []).map { Double($0)! }
}

/// Deterministic pseudo-random numbers (SplitMix64), so fuzz variants are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Asserts that `body` throws an error whose description contains every one of `fragments`.
func assertThrows<T>(_ body: @autoclosure () throws -> T, containing fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch {
        let message = "\(error)"
        for fragment in fragments where !message.contains(fragment) {
            XCTFail("error message \"\(message)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }
}

/// A small valid snapshot file, as raw datasets and attributes, that tests break one piece at
/// a time. Two snapshots of 3 and 4 particles, 2 times, one scalar.
struct RawSnapshotFile {
    enum Values { case double([Double]), int64([Int64]), int32([Int32]), float([Float]) }
    var stringAttributes: [String: String] = [
        "format": "equiglass-snapshots", "species_names": "A,B", "time_unit": "tau_LJ",
        "propensity_definition": "test", "source": "test", "provenance": "{}",
    ]
    var integerAttributes: [String: Int64] = ["format_version": 1, "propensity_runs": 4]
    var doubleAttributes: [String: Double] = ["temperature": 0.6, "density": 1.2]
    var datasets: [String: (values: Values, shape: [Int])] = [
        "snapshot_offsets": (.int64([0, 3, 7]), [3]),
        "box": (.double([5, 5, 5, 6, 5.5, 7]), [2, 3]),
        "positions": (.double((0..<21).map { Double($0) * 0.25 }), [7, 3]),
        "positions_inherent": (.double((0..<21).map { Double($0) * 0.25 + 0.01 }), [7, 3]),
        "species": (.int32([0, 1, 0, 0, 0, 1, 1]), [7]),
        "times": (.double([0.5, 2]), [2]),
        "propensity": (.float((0..<14).map { Float($0) * 0.1 }), [7, 2]),
        "scalars/epot": (.double((0..<7).map { -5 + Double($0) * 0.1 }), [7]),
    ]

    func write(to path: String) throws {
        let file = try HDF5File.create(path: path)
        let root = file.root
        for (name, value) in stringAttributes { try root.writeAttribute(name, value) }
        for (name, value) in integerAttributes { try root.writeAttribute(name, value) }
        for (name, value) in doubleAttributes { try root.writeAttribute(name, value) }
        for name in datasets.keys.sorted() {
            let (values, shape) = datasets[name]!
            if name.contains("/") {
                let group = String(name.split(separator: "/")[0])
                if !root.contains(group) { _ = try root.createGroup(group) }
            }
            switch values {
            case .double(let v): try root.write(name, values: v, shape: shape)
            case .int64(let v): try root.write(name, values: v, shape: shape)
            case .int32(let v): try root.write(name, values: v, shape: shape)
            case .float(let v): try root.write(name, values: v, shape: shape)
            }
        }
    }
}
