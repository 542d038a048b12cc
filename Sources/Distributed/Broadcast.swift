import CMPI

/// Broadcast from one rank (the root) to all: on return every rank holds the root's data.
///
/// Buffers are overwritten in place on the other ranks and must have the same length on every
/// rank. Values, strings and byte arrays may differ in length: their length is sent first.
extension Communicator {
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, from root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_float(), from: root)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Double>, from root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_double(), from: root)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Int64>, from root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_int64(), from: root)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<UInt8>, from root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_uint8(), from: root)
    }

    public func broadcast(_ array: inout [Float], from root: Int = 0) throws {
        try array.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
    }

    public func broadcast(_ array: inout [Double], from root: Int = 0) throws {
        try array.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
    }

    public func broadcast(_ array: inout [Int64], from root: Int = 0) throws {
        try array.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
    }

    /// The root's `value`, on every rank. The other ranks' `value` is ignored.
    public func broadcast(_ value: Double, from root: Int = 0) throws -> Double {
        var values = [value]
        try broadcast(&values, from: root)
        return values[0]
    }

    /// The root's `value`, on every rank. The other ranks' `value` is ignored.
    public func broadcast(_ value: Int64, from root: Int = 0) throws -> Int64 {
        var values = [value]
        try broadcast(&values, from: root)
        return values[0]
    }

    /// The root's bytes, on every rank, whatever their length. The other ranks' `bytes` are ignored.
    public func broadcast(_ bytes: [UInt8], from root: Int = 0) throws -> [UInt8] {
        let count = try broadcast(Int64(bytes.count), from: root)
        var received = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        try received.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
        return received
    }

    /// The root's string, on every rank (sent as UTF-8). The other ranks' `string` is ignored.
    public func broadcast(_ string: String, from root: Int = 0) throws -> String {
        String(decoding: try broadcast(Array(string.utf8), from: root), as: UTF8.self)
    }

    private func broadcast(
        _ data: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, from root: Int
    ) throws {
        let count = try MPIError.count(count, "MPI_Bcast")
        // Every rank skips an empty buffer alike; a bad root still goes to MPI, which reports it.
        if count == 0 && (0..<size).contains(root) { return }
        try MPIError.check(MPI_Bcast(data, count, type, Int32(clamping: root), handle), "MPI_Bcast")
    }
}
