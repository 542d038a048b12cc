/// Whether every rank holds bitwise the same values: a cheap check that the replicas of the
/// parameters (or optimizer moments) have not drifted apart, e.g. before writing a checkpoint.
///
/// Each rank hashes the bit patterns (64-bit FNV-1a); one max all-reduce of [h, ~h] gives the
/// largest and (bitwise not of) the smallest hash. Equal hashes on every rank mean the same values
/// but for a hash collision (about 2^−64).
extension Communicator {
    /// True on every rank if `values` has the same bits on every rank. Collective.
    public func sameOnEveryRank(_ values: UnsafeBufferPointer<Float>) throws -> Bool {
        var hash = bitPatternHash(values)
        // The length too: buffers of different lengths must not compare equal.
        hash = (hash ^ UInt64(values.count)) &* 0x0000_0100_0000_01B3
        let h = Int64(bitPattern: hash)
        var extremes: [Int64] = [h, ~h]
        try allReduce(&extremes, .max)
        return extremes[0] == ~extremes[1]  // largest == smallest
    }

    public func sameOnEveryRank(_ values: [Float]) throws -> Bool {
        try values.withUnsafeBufferPointer { try sameOnEveryRank($0) }
    }
}

/// 64-bit FNV-1a over the bit patterns of `values` (little-endian bytes): equal for bitwise-equal
/// buffers, so two runs or two ranks can compare parameters without moving them.
public func bitPatternHash(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for value in values {
        var bits = value.bitPattern
        for _ in 0 ..< 4 {
            hash = (hash ^ UInt64(bits & 0xFF)) &* 0x0000_0100_0000_01B3
            bits >>= 8
        }
    }
    return hash
}
