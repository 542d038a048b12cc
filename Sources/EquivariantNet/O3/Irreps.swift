/// The irreducible representations carried by a feature vector, and where each number lives.
///
/// Our irreps carry no parity (the network is SE(3)-equivariant): a feature is a list of
/// multiplicities `channels[l]`, l = 0…lmax (C channels of each l in the hidden layers; other
/// counts, e.g. 4C scalars, for the self-interaction output). In e3nn this is the irreps string
/// `"{channels[0]}x0e + {channels[1]}x1e + …"`.
///
/// ## Memory layout (ours: channels fastest, for SIMD over channels)
///
/// One feature vector (one node) has `dimension = Σ_l (2l+1)·channels[l]` numbers. Block l starts
/// at `offset(l) = Σ_{l'<l} (2l'+1)·channels[l']`, and inside it
///
///     index(l, m, u) = offset(l) + m·channels[l] + u,     m = 0…2l (e3nn's order), u = channel
///
/// A batch of N feature vectors is row-major `[N][dimension]`.
///
/// ## e3nn's layout (used by the fixtures)
///
/// e3nn stores the same block at the same offset but mul-major, m-minor:
///
///     e3nnIndex(l, m, u) = offset(l) + u·(2l+1) + m
///
/// so converting is a transpose of each (2l+1)×C block; `toE3nn` / `fromE3nn` do it.
public struct Irreps: Equatable, Sendable, CustomStringConvertible {
    /// Multiplicity of each l = 0…lmax (entries may be 0).
    public let channels: [Int]
    /// Start of each l block; `offsets[lmax + 1] == dimension`.
    public let offsets: [Int]

    public init(channels: [Int]) {
        precondition(!channels.isEmpty && channels.allSatisfy { $0 >= 0 }, "Irreps: bad multiplicities \(channels)")
        self.channels = channels
        var offsets = [0]
        for (l, c) in channels.enumerated() { offsets.append(offsets.last! + (2 * l + 1) * c) }
        self.offsets = offsets
    }

    /// `channels` channels for every l = 0…lmax.
    public init(uniform channels: Int, lmax: Int) {
        self.init(channels: Array(repeating: channels, count: lmax + 1))
    }

    public var lmax: Int { channels.count - 1 }
    public var dimension: Int { offsets[channels.count] }
    public func offset(_ l: Int) -> Int { offsets[l] }
    /// Multiplicity of l (0 beyond lmax).
    public func mul(_ l: Int) -> Int { l < channels.count ? channels[l] : 0 }

    /// Our index of component m (0…2l) of channel u of the l block.
    @inlinable
    public func index(l: Int, m: Int, u: Int) -> Int { offsets[l] + m * channels[l] + u }

    /// e3nn's index of the same number.
    public func e3nnIndex(l: Int, m: Int, u: Int) -> Int { offsets[l] + u * (2 * l + 1) + m }

    /// e3nn's irreps string, e.g. "8x0e+8x1e+8x2e+8x3e" (blocks of multiplicity 0 omitted).
    public var description: String {
        channels.enumerated().filter { $0.element > 0 }.map { "\($0.element)x\($0.offset)e" }
            .joined(separator: "+")
    }

    /// One vector in e3nn's layout from ours (`ours.count == dimension`).
    public func toE3nn(_ ours: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: dimension)
        for l in 0..<channels.count {
            for m in 0..<(2 * l + 1) { for u in 0..<channels[l] { out[e3nnIndex(l: l, m: m, u: u)] = ours[index(l: l, m: m, u: u)] } }
        }
        return out
    }

    /// One vector in our layout from e3nn's.
    public func fromE3nn(_ theirs: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: dimension)
        for l in 0..<channels.count {
            for m in 0..<(2 * l + 1) { for u in 0..<channels[l] { out[index(l: l, m: m, u: u)] = theirs[e3nnIndex(l: l, m: m, u: u)] } }
        }
        return out
    }

    /// A batch `[N][dimension]` from e3nn's layout to ours.
    public func fromE3nn(batch theirs: [Double], count n: Int) -> [Double] {
        let d = dimension
        return (0..<n).flatMap { fromE3nn(Array(theirs[($0 * d)..<(($0 + 1) * d)])) }
    }

    /// A batch `[N][dimension]` from our layout to e3nn's.
    public func toE3nn(batch ours: [Double], count n: Int) -> [Double] {
        let d = dimension
        return (0..<n).flatMap { toE3nn(Array(ours[($0 * d)..<(($0 + 1) * d)])) }
    }
}
