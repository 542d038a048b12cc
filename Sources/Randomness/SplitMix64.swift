/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny 64-bit pseudo-random generator whose every
/// step is written out below, so that the training order can be reproduced in any language.
///
/// `next()`: `state += 0x9E3779B97F4A7C15`, then the `mix` finaliser of the new state.
/// Not for cryptography; for shuffling snapshots it is more than enough.
public struct SplitMix64: Equatable, Sendable {
    /// The generator's whole state: the last value added to, before mixing.
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// A uniform integer in `0 ..< bound`, without modulo bias: draws below `2^64 mod bound` are
    /// rejected (as OpenBSD's `arc4random_uniform` does), the rest are reduced modulo `bound`.
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "SplitMix64.next(below:) needs a positive bound")
        let threshold = (0 &- bound) % bound  // 2^64 mod bound
        while true {
            let draw = next()
            if draw >= threshold { return draw % bound }
        }
    }

    /// SplitMix64's finaliser (a bijection of 64-bit words): xor-shift 30, multiply by
    /// 0xBF58476D1CE4E5B9, xor-shift 27, multiply by 0x94D049BB133111EB, xor-shift 31.
    public static func mix(_ word: UInt64) -> UInt64 {
        var z = word
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
