import CMPI

/// Gather of one small value per rank to a root rank: the root receives the values in rank
/// order, the other ranks receive `nil`. For reports (a timing, a host name, a loss per rank),
/// not for bulk data.
extension Communicator {
    public func gather(_ value: Double, to root: Int = 0) throws -> [Double]? {
        var sent = value
        var received = [Double](repeating: 0, count: rank == root ? size : 0)
        try received.withUnsafeMutableBufferPointer { out in
            try MPIError.check(
                MPI_Gather(&sent, 1, cmpi_double(), out.baseAddress, 1, cmpi_double(),
                           Int32(clamping: root), handle),
                "MPI_Gather")
        }
        return rank == root ? received : nil
    }

    public func gather(_ value: Int64, to root: Int = 0) throws -> [Int64]? {
        var sent = value
        var received = [Int64](repeating: 0, count: rank == root ? size : 0)
        try received.withUnsafeMutableBufferPointer { out in
            try MPIError.check(
                MPI_Gather(&sent, 1, cmpi_int64(), out.baseAddress, 1, cmpi_int64(),
                           Int32(clamping: root), handle),
                "MPI_Gather")
        }
        return rank == root ? received : nil
    }

    /// One string per rank, of any length, gathered to `root` (sent as UTF-8).
    public func gather(_ string: String, to root: Int = 0) throws -> [String]? {
        let bytes = Array(string.utf8)
        let count = try MPIError.count(bytes.count, "MPI_Gatherv")
        // First the lengths, so the root can place each rank's bytes.
        guard let lengths = try gather(Int64(count), to: root) else {
            try gatherBytes(bytes, count: count, counts: [], displacements: [], into: nil, root: root)
            return nil
        }
        let counts = lengths.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        var total = 0
        for r in 0..<size {
            displacements[r] = try MPIError.count(total, "MPI_Gatherv")
            total += Int(counts[r])
        }
        _ = try MPIError.count(total, "MPI_Gatherv")
        var received = [UInt8](repeating: 0, count: total)
        try received.withUnsafeMutableBufferPointer { out in
            try gatherBytes(bytes, count: count, counts: counts, displacements: displacements,
                            into: out.baseAddress, root: root)
        }
        return (0..<size).map { r in
            let start = Int(displacements[r])
            return String(decoding: received[start..<start + Int(counts[r])], as: UTF8.self)
        }
    }

    private func gatherBytes(
        _ bytes: [UInt8], count: Int32, counts: [Int32], displacements: [Int32],
        into output: UnsafeMutablePointer<UInt8>?, root: Int
    ) throws {
        try bytes.withUnsafeBufferPointer { sent in
            try counts.withUnsafeBufferPointer { counts in
                try displacements.withUnsafeBufferPointer { displacements in
                    try MPIError.check(
                        MPI_Gatherv(sent.baseAddress, count, cmpi_uint8(), output,
                                    counts.baseAddress, displacements.baseAddress, cmpi_uint8(),
                                    Int32(clamping: root), handle),
                        "MPI_Gatherv")
                }
            }
        }
    }
}
