import CMPI

/// In-place all-reduce: on return every rank holds, at each position, the sum (or max, or min)
/// over ranks of the values the ranks held there. The buffer is reduced where it lies
/// (`MPI_IN_PLACE`): nothing is copied on the Swift side.
///
/// Every rank must pass a buffer of the same length with the same operation.
extension Communicator {
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReductionOperation) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_float(), operation)
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReductionOperation) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_double(), operation)
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, _ operation: ReductionOperation) throws {
        try allReduce(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                      type: cmpi_int64(), operation)
    }

    public func allReduce(_ array: inout [Float], _ operation: ReductionOperation) throws {
        try array.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
    }

    public func allReduce(_ array: inout [Double], _ operation: ReductionOperation) throws {
        try array.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
    }

    public func allReduce(_ array: inout [Int64], _ operation: ReductionOperation) throws {
        try array.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
    }

    /// The reduction over ranks of one value per rank (a loss sum, a sample count).
    public func allReduce(_ value: Double, _ operation: ReductionOperation) throws -> Double {
        var values = [value]
        try allReduce(&values, operation)
        return values[0]
    }

    /// The reduction over ranks of one value per rank (a loss sum, a sample count).
    public func allReduce(_ value: Int64, _ operation: ReductionOperation) throws -> Int64 {
        var values = [value]
        try allReduce(&values, operation)
        return values[0]
    }

    private func allReduce(
        _ data: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype, _ operation: ReductionOperation
    ) throws {
        let count = try MPIError.count(count, "MPI_Allreduce")
        // Every rank has the same length, so every rank skips an empty buffer alike.
        guard count > 0 else { return }
        try MPIError.check(
            MPI_Allreduce(UnsafeRawPointer(cmpi_in_place()), data, count, type, operation.handle, handle),
            "MPI_Allreduce")
    }
}
