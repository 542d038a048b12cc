// libFuzzer target: the snapshot-file reader on well-formed HDF5 files with fuzzed contents.
// The input bytes choose, one decision at a time, a snapshot file's attributes (present,
// type, value), its datasets (present, element type, shape, chunking, values) and groups;
// the file is written with the project's HDF5 layer and read back like FuzzSnapshot does.
// Bytes run out as zeros, and zero always means "as a valid file has it": the empty input is
// a valid file. Where FuzzSnapshot mostly exercises libhdf5's parsing of damaged metadata,
// this exercises the reader's own checks of what a readable file holds.
import FuzzSupport
import GlassData

/// The decisions, read from the input bytes.
struct Choices {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8 {
        defer { index += 1 }
        return index < bytes.count ? bytes[index] : 0
    }
    /// 0 ..< count; 0 when the bytes have run out.
    mutating func pick(_ count: Int) -> Int { Int(byte()) % count }
    mutating func raw64() -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(byte()) << (8 * $1) } }

    static let doubles: [Double] = [0, 1, -1, 0.5, 5, 1e-3, 4e-4, 1e300, -1e300, .nan, .infinity, -.infinity,
                                    .leastNonzeroMagnitude, 5000, 6001, -5000, 2.5, 1e9]
    static let integers: [Int64] = [0, 1, 2, 3, -1, -2, 7, 8, Int64.max, Int64.min, 1 << 31, (1 << 31) - 1,
                                    1 << 32, 1 << 40, 500_000_000, 1 << 62, 4096, 1 << 20]

    /// `valid` (choice 0), a value from the table of edge cases, or raw bits.
    mutating func double(_ valid: Double) -> Double {
        let c = pick(24)
        if c == 0 || c > Choices.doubles.count + 1 { return valid }
        if c == Choices.doubles.count + 1 { return Double(bitPattern: raw64()) }
        return Choices.doubles[c - 1]
    }
    mutating func integer(_ valid: Int64) -> Int64 {
        let c = pick(24)
        if c == 0 || c > Choices.integers.count + 1 { return valid }
        if c == Choices.integers.count + 1 { return Int64(bitPattern: raw64()) }
        return Choices.integers[c - 1]
    }
}

enum ElementType: CaseIterable { case double, float, int32, int64 }

/// Writes `values` (as Double) as a dataset of `type` and `shape`; when the shape's element
/// count differs from the values' (or is large), the dataset is created and left unwritten.
func write(_ root: HDF5Group, _ name: String, _ values: [Double], shape: [Int], type: ElementType, chunked: Bool) throws {
    let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
    let chunkRows = chunked ? 2 : nil
    guard count == values.count else {
        let element: HDF5Element.Type
        switch type {
        case .double: element = Double.self
        case .float: element = Float.self
        case .int32: element = Int32.self
        case .int64: element = Int64.self
        }
        _ = try root.createDataset(name, of: element, shape: shape, chunkRows: chunkRows)
        return
    }
    func int<T: FixedWidthInteger>(_ x: Double) -> T { x.isFinite ? T(clamping: Int64(exactly: x.rounded()) ?? (x < 0 ? Int64.min : Int64.max)) : 0 }
    switch type {
    case .double: try root.write(name, values: values, shape: shape, chunkRows: chunkRows)
    case .float: try root.write(name, values: values.map { Float($0) }, shape: shape, chunkRows: chunkRows)
    case .int32: try root.write(name, values: values.map { int($0) as Int32 }, shape: shape, chunkRows: chunkRows)
    case .int64: try root.write(name, values: values.map { int($0) as Int64 }, shape: shape, chunkRows: chunkRows)
    }
}

/// Builds the snapshot file the choices describe at `path`.
func buildFile(_ path: String, _ c: inout Choices) throws {
    let file = try HDF5File.create(path: path)
    let root = file.root

    // Attributes: absent, the valid value, or a value of another type or content.
    let strings: [(String, String)] = [("format", "equiglass-snapshots"), ("species_names", "A,B"),
                                       ("time_unit", "tau_LJ"), ("propensity_definition", "fuzz"),
                                       ("source", "fuzz"), ("provenance", "{}")]
    let odd = ["", ",", "A,,B", " , ", "equiglass-snapshots ", "A", "A,B,C,D,E,F,G,H", "\u{0}A,B", "é,ß"]
    for (name, valid) in strings {
        switch c.pick(16) {
        case 1: break
        case 2: try root.writeAttribute(name, odd[c.pick(odd.count)])
        case 3: try root.writeAttribute(name, c.integer(1))
        case 4: try root.writeAttribute(name, c.double(1))
        default: try root.writeAttribute(name, valid)
        }
    }
    let numbers: [(String, Double, Bool)] = [("format_version", 1, true), ("temperature", 0.6, false),
                                             ("density", 1.2, false), ("propensity_runs", 4, true)]
    for (name, valid, integer) in numbers {
        switch c.pick(16) {
        case 1: break
        case 2: try root.writeAttribute(name, "1")
        case 3: try root.writeAttribute(name, c.integer(Int64(valid)))
        case 4: try root.writeAttribute(name, c.double(valid))
        default: if integer { try root.writeAttribute(name, Int64(valid)) } else { try root.writeAttribute(name, valid) }
        }
    }

    // snapshot_offsets: S snapshots of 1...6 particles, then maybe damaged.
    let snapshots = 1 + c.pick(4)
    var offsets: [Int64] = [0]
    for _ in 0..<snapshots { offsets.append(offsets.last! + Int64(1 + c.pick(6))) }
    switch c.pick(8) {
    case 1: let k = c.pick(offsets.count); offsets[k] = c.integer(offsets[k])
    case 2: offsets = Array(offsets.prefix(c.pick(offsets.count)))
    case 3: offsets[offsets.count - 1] = c.integer(500_000_000)
    default: break
    }
    let total = Int(clamping: offsets.last ?? 0)
    let s = max(0, offsets.count - 1)

    /// The dataset's shape: the expected one, or one dimension off, another rank, or empty.
    func shape(_ expected: [Int]) -> [Int] {
        switch c.pick(12) {
        case 1: var s = expected; s[0] = s[0] &+ 1; return s
        case 2: var s = expected; s[0] = max(0, s[0] &- 1); return s
        case 3: return expected + [1]
        case 4: return expected.count > 1 ? Array(expected.prefix(1)) : expected + [3]
        case 5: var s = expected; s[s.count - 1] = Int(clamping: c.integer(Int64(s[s.count - 1]))) & 0xFFFF_FFFF; return s
        default: return expected
        }
    }
    func type(_ valid: ElementType) -> ElementType {
        c.pick(6) == 1 ? ElementType.allCases[c.pick(4)] : valid
    }
    /// `values`, with up to three of them replaced by edge cases.
    func damage(_ values: [Double]) -> [Double] {
        var values = values
        for _ in 0..<c.pick(4) where !values.isEmpty {
            let i = c.pick(256) % values.count
            values[i] = c.double(values[i])
        }
        return values
    }
    func dataset(_ name: String, _ values: [Double], _ expected: [Int], _ valid: ElementType, optional: Bool = false) throws {
        if c.pick(optional ? 4 : 16) == 1 { return }  // absent
        try write(root, name, damage(values), shape: shape(expected), type: type(valid), chunked: c.pick(3) == 1)
    }

    if c.pick(16) != 1 {
        try write(root, "snapshot_offsets", offsets.map { Double($0) }, shape: shape([offsets.count]),
                  type: type(.int64), chunked: c.pick(3) == 1)
    }
    try dataset("box", [Double](repeating: 5, count: 3 * s), [s, 3], .double)
    // Positions on a lattice of spacing 0.7 inside the box, the inherent ones shifted by 0.01.
    let n = max(0, min(total, 4096))
    var lattice: [Double] = []
    for i in 0..<n {
        let x = Double(i % 7), y = Double(i / 7 % 7), z = Double(i / 49)
        lattice += [0.7 * x, 0.7 * y, 0.7 * z]
    }
    try dataset("positions", lattice, [total, 3], .double)
    try dataset("positions_inherent", lattice.map { $0 + 0.01 }, [total, 3], .double, optional: true)
    try dataset("species", (0..<n).map { Double($0 % 2) }, [total], .int32)
    let t = c.pick(4)
    if t > 0 {
        try dataset("times", (0..<t).map { Double($0 + 1) * 0.5 }, [t], .double)
        try dataset("propensity", [Double](repeating: 0.25, count: n * t), [total, t], .float, optional: true)
    } else if c.pick(4) == 1 {
        try dataset("propensity", [Double](repeating: 0.25, count: n), [total, 1], .float)
    }
    switch c.pick(4) {
    case 1:
        _ = try root.createGroup("scalars")
        for name in ["epot", "epot_inherent"].prefix(c.pick(3)) {
            try dataset("scalars/" + name, (0..<n).map { -5 + 0.01 * Double($0) }, [total], .double)
        }
    case 2:
        try write(root, "scalars", [1], shape: [1], type: .double, chunked: false)
    default: break
    }
}

let scratchPath = ScratchFile.path(suffix: ".h5")
ScratchFile.removeAtExit(scratchPath)

runFuzzer { bytes, count in
    let path = ScratchFile.path(suffix: ".h5")
    var choices = Choices([UInt8](inputData(bytes, count)))
    // A layout the writer refuses (a negative dimension) ends the file there; it is read as is.
    try? buildFile(path, &choices)
    readSnapshotFile(path)
    return 0
}
