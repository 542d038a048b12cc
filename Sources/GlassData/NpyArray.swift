import Foundation

/// An array read from a NumPy `.npy` file (format versions 1.0, 2.0, 3.0).
///
/// Supported: little-endian (or byte-order-free) integers i1 i2 i4 i8 u1 u2 u4 u8, floats f4 f8
/// and booleans b1, in C or Fortran order (numpy saves a transposed array in Fortran order).
/// Values are kept as Double or Int64 (both exact for the data here), always in C order.
public struct NpyArray: Sendable {
    /// Dimensions, e.g. [4096, 3]; [] for a 0-d array.
    public let shape: [Int]
    /// The dtype descriptor from the header, e.g. "<f8".
    public let descr: String
    /// The values in C (row-major) order, as Double (floats) or Int64 (integers, booleans).
    public let values: Values

    public enum Values: Sendable {
        case float([Double])
        case integer([Int64])
    }

    /// Number of elements (product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// The values as Double (integers converted).
    public var doubles: [Double] {
        switch values {
        case .float(let v): return v
        case .integer(let v): return v.map { Double($0) }
        }
    }

    /// Whether the dtype is an integer (or boolean) type.
    public var isInteger: Bool { if case .integer = values { return true } else { return false } }

    /// The values as Int64; nil if the dtype is a float type.
    public var integers: [Int64]? {
        if case .integer(let v) = values { return v }
        return nil
    }
}

/// A `.npy` that cannot be read; `source` names the file (and the key inside a .npz).
public struct NpyError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let problem: String
    public var description: String { "\(source): \(problem)" }
}

extension NpyArray {
    /// Parses the bytes of a `.npy` file. `source` names it in errors ("run1.npz, key 'types'").
    public init(npyData data: Data, source: String) throws {
        func fail(_ problem: String) -> NpyError { NpyError(source: source, problem: problem) }
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy array (bad magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart ..< headerStart + headerLength], as: UTF8.self)
        let dictionary = try NpyHeader.parse(header, fail: fail)

        guard case .string(let descr)? = dictionary["descr"] else { throw fail("header has no 'descr' string: \(header)") }
        guard case .bool(let fortranOrder)? = dictionary["fortran_order"] else { throw fail("header has no 'fortran_order': \(header)") }
        guard case .tuple(let shape)? = dictionary["shape"] else { throw fail("header has no 'shape' tuple: \(header)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("negative dimension in shape \(shape)") }

        guard descr.count == 3 else { throw fail("unsupported dtype '\(descr)'") }
        let order = descr.first!
        let kind = descr[descr.index(after: descr.startIndex)]
        guard let size = Int(String(descr.suffix(1))) else { throw fail("unsupported dtype '\(descr)'") }
        guard order == "<" || order == "|" || (order == "=" ) else {
            throw fail("unsupported dtype '\(descr)': big-endian data is not supported")
        }
        let supported: Set<String> = ["f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]
        guard supported.contains("\(kind)\(size)") else {
            throw fail("unsupported dtype '\(descr)' (supported: float32/64, int8..64, uint8..64, bool)")
        }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(shape) too large") }
            count = product
        }
        let dataStart = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, bytes.count - dataStart >= needed else {
            throw fail("truncated data: shape \(shape) of '\(descr)' needs \(needed) bytes, file has \(bytes.count - dataStart)")
        }
        self.shape = shape
        self.descr = descr
        let stored = NpyArray.decode(bytes, from: dataStart, kind: kind, size: size, count: count)
        guard fortranOrder, shape.count > 1 else { values = stored; return }
        let offsets = NpyArray.fortranOffsets(shape)
        switch stored {
        case .float(let v): values = .float(offsets.map { v[$0] })
        case .integer(let v): values = .integer(offsets.map { v[$0] })
        }
    }

    /// `count` little-endian values of dtype kind `kind` (f, i, u, b) and `size` bytes each, from
    /// `bytes[dataStart...]` (its length checked by the caller).
    static func decode(_ bytes: [UInt8], from dataStart: Int, kind: Character, size: Int, count: Int) -> Values {
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                T(littleEndian: base.loadUnaligned(fromByteOffset: i * size, as: T.self))
            }
            switch (kind, size) {
            case ("f", 4): return .float((0..<count).map { Double(Float(bitPattern: load(UInt32.self, $0))) })
            case ("f", 8): return .float((0..<count).map { Double(bitPattern: load(UInt64.self, $0)) })
            case ("i", 1): return .integer((0..<count).map { Int64(load(Int8.self, $0)) })
            case ("i", 2): return .integer((0..<count).map { Int64(load(Int16.self, $0)) })
            case ("i", 4): return .integer((0..<count).map { Int64(load(Int32.self, $0)) })
            case ("i", 8): return .integer((0..<count).map { load(Int64.self, $0) })
            case ("u", 1), ("b", 1): return .integer((0..<count).map { Int64(load(UInt8.self, $0)) })
            case ("u", 2): return .integer((0..<count).map { Int64(load(UInt16.self, $0)) })
            case ("u", 4): return .integer((0..<count).map { Int64(load(UInt32.self, $0)) })
            default: return .integer((0..<count).map { Int64(truncatingIfNeeded: load(UInt64.self, $0)) })
            }
        }
    }

    /// For each element in C order, its offset in the Fortran-ordered (column-major) data.
    static func fortranOffsets(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for d in 1..<shape.count { strides[d] = strides[d - 1] * shape[d - 1] }
        var offsets = [Int](), index = [Int](repeating: 0, count: shape.count)
        offsets.reserveCapacity(shape.reduce(1, *))
        for _ in 0..<shape.reduce(1, *) {
            offsets.append(zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 })
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return offsets
    }
}

/// The header of a .npy file is a Python dict literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`; this reads exactly that.
enum NpyHeader {
    enum Value { case string(String), bool(Bool), tuple([Int]) }

    static func parse(_ text: String, fail: (String) -> NpyError) throws -> [String: Value] {
        var characters = Array(text.unicodeScalars)
        characters.removeAll { $0 == "\n" }
        var index = 0
        func skipSpaces() { while index < characters.count, characters[index] == " " { index += 1 } }
        func expect(_ c: Unicode.Scalar) throws {
            skipSpaces()
            guard index < characters.count, characters[index] == c else { throw fail("malformed header: \(text)") }
            index += 1
        }
        func quoted() throws -> String {
            skipSpaces()
            guard index < characters.count, characters[index] == "'" || characters[index] == "\"" else {
                throw fail("malformed header: \(text)")
            }
            let quote = characters[index]
            index += 1
            var result = ""
            while index < characters.count, characters[index] != quote { result.unicodeScalars.append(characters[index]); index += 1 }
            try expect(quote)
            return result
        }
        func word() -> String {
            skipSpaces()
            var result = ""
            while index < characters.count, CharacterSet.alphanumerics.contains(characters[index]) {
                result.unicodeScalars.append(characters[index]); index += 1
            }
            return result
        }
        var dictionary: [String: Value] = [:]
        try expect("{")
        while true {
            skipSpaces()
            if index < characters.count, characters[index] == "}" { break }
            let key = try quoted()
            try expect(":")
            skipSpaces()
            guard index < characters.count else { throw fail("malformed header: \(text)") }
            switch characters[index] {
            case "'", "\"":
                dictionary[key] = .string(try quoted())
            case "(":
                index += 1
                var dimensions: [Int] = []
                while true {
                    skipSpaces()
                    if index < characters.count, characters[index] == ")" { index += 1; break }
                    let token = word()
                    guard let dimension = Int(token.hasSuffix("L") ? String(token.dropLast()) : token) else {
                        throw fail("malformed shape in header: \(text)")
                    }
                    dimensions.append(dimension)
                    skipSpaces()
                    if index < characters.count, characters[index] == "," { index += 1 }
                }
                dictionary[key] = .tuple(dimensions)
            default:
                let token = word()
                switch token {
                case "True": dictionary[key] = .bool(true)
                case "False": dictionary[key] = .bool(false)
                default: throw fail("unsupported header value for '\(key)' (structured dtypes are not supported): \(text)")
                }
            }
            skipSpaces()
            if index < characters.count, characters[index] == "," { index += 1; continue }
            try expect("}")
            break
        }
        return dictionary
    }
}
