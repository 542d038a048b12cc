import Foundation
import Randomness

/// A deterministic, seedable random source for weight initialization and tests.
///
/// Xoshiro256** (Blackman & Vigna) seeded through SplitMix64 (the four state words are its first
/// four outputs from `seed`), so any 64-bit seed gives a well-mixed state. Normals come from Box–Muller (both values of a pair are used). The whole
/// state (`state`, `spareNormal`) is public so a checkpoint can save and restore it exactly.
public struct RandomSource: RandomNumberGenerator, Sendable {
    public var state: (UInt64, UInt64, UInt64, UInt64)
    /// The second value of the last Box–Muller pair, if not used yet.
    public var spareNormal: Double?

    public init(seed: UInt64) {
        var seeding = SplitMix64(seed: seed)
        state = (seeding.next(), seeding.next(), seeding.next(), seeding.next())
        spareNormal = nil
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = Self.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Self.rotl(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal N(0, 1) by Box–Muller.
    public mutating func normal() -> Double {
        if let z = spareNormal {
            spareNormal = nil
            return z
        }
        // 1 - uniform() lies in (0, 1], so the logarithm is finite.
        let u1 = 1 - uniform()
        let u2 = uniform()
        let r = (-2 * log(u1)).squareRoot()
        let phi = 2 * Double.pi * u2
        spareNormal = r * sin(phi)
        return r * cos(phi)
    }

    /// `count` N(0, 1) values as Float.
    public mutating func normalFloats(_ count: Int) -> [Float] {
        (0..<count).map { _ in Float(normal()) }
    }

    /// `count` N(0, 1) values as Double.
    public mutating func normalDoubles(_ count: Int) -> [Double] {
        (0..<count).map { _ in normal() }
    }
}

