import Foundation

/// How the per-snapshot gradients of a step are summed over the ranks.
public enum GradientReductionMode: String, CaseIterable, Sendable {
    /// Fixed point (the default): the sum is bitwise the same for any rank count and any order of
    /// the snapshots, so training is bitwise reproducible at any rank count.
    case exact
    /// Float sums on each rank, then a Float all-reduce: a little faster, but the last bits of
    /// the sum depend on how the batch is split over the ranks.
    case fast
}

/// Sums the gradients of one optimizer step over every snapshot of the global batch, on every
/// rank, into one flat Float buffer. Knows nothing of the network: a gradient is `parameterCount`
/// Floats.
///
/// Per step: `reset()`, then `add(_:snapshot:)` once per local snapshot (any order, possibly
/// never on a rank without snapshots), then `reduce(over:into:)` on **every** rank.
///
/// The exact mode keeps each local per-snapshot gradient until `reduce`, then:
/// 1. all-reduces (max) the largest |g| over every snapshot of every rank, `M`, and (sum) the
///    number of snapshots `n`;
/// 2. picks the scale `2^k` with `k = 62 − c − e`, where `2^c ≥ n` and `2^e > M` (`e` =
///    `M.exponent + 1`), so that each |g·2^k| < 2^(62−c) and any sum of n of them is below 2^62;
/// 3. rounds each g·2^k (computed exactly in Double) to the nearest Int64 (ties to even) and adds
///    the integers on the rank, then all-reduces (sum) the Int64 buffer;
/// 4. converts back: `Float(Double(total) · 2^−k)`.
/// Integer addition is associative, so the total is the same for every split and order; `M`,
/// `n`, hence `k`, are global. The error against the exact real sum is at most `n · 2^−(k+1)`
/// (about `n² · M · 2^−63`) before the final rounding to Float.
public final class GradientReducer {
    /// Floats per gradient.
    public let parameterCount: Int
    public let mode: GradientReductionMode

    /// Exact mode: this step's local gradients, one after the other.
    private var stored: [Float] = []
    /// Fast mode: this step's local sum.
    private var localSum: [Float]
    private var localCount = 0
    private var localMaxAbs: Float = 0
    /// The lowest snapshot index whose gradient holds a NaN or an infinity, if any.
    private var firstNonFinite: Int?
    /// Exact mode: the Int64 accumulator, kept to avoid reallocating each step.
    private var fixed: [Int64]

    public init(parameterCount: Int, mode: GradientReductionMode = .exact) {
        precondition(parameterCount >= 0, "parameterCount must be >= 0")
        self.parameterCount = parameterCount
        self.mode = mode
        localSum = mode == .fast ? [Float](repeating: 0, count: parameterCount) : []
        fixed = mode == .exact ? [Int64](repeating: 0, count: parameterCount) : []
    }

    /// Snapshots added on this rank since the last `reset()`.
    public var localSnapshotCount: Int { localCount }

    /// Starts a new step: forgets everything added so far.
    public func reset() {
        stored.removeAll(keepingCapacity: true)
        if mode == .fast { for i in 0 ..< parameterCount { localSum[i] = 0 } }
        localCount = 0
        localMaxAbs = 0
        firstNonFinite = nil
    }

    /// Adds the gradient of one snapshot (`parameterCount` Floats). `snapshot` (its index in the
    /// file) only names it in an error. A NaN or infinity is not an error here: it is reported
    /// by `reduce` on every rank at once, so that all ranks stop together.
    public func add(_ gradient: UnsafeBufferPointer<Float>, snapshot: Int) {
        precondition(gradient.count == parameterCount,
                     "gradient of \(gradient.count) values, expected \(parameterCount)")
        var maxAbs = localMaxAbs
        var finite = true
        for value in gradient {
            let magnitude = abs(value)
            if !magnitude.isFinite { finite = false }
            if magnitude > maxAbs { maxAbs = magnitude }
        }
        localMaxAbs = maxAbs
        if !finite { firstNonFinite = min(firstNonFinite ?? snapshot, snapshot) }
        localCount += 1
        switch mode {
        case .exact:
            stored.append(contentsOf: gradient)
        case .fast:
            localSum.withUnsafeMutableBufferPointer { sum in
                for i in 0 ..< parameterCount { sum[i] += gradient[i] }
            }
        }
    }

    public func add(_ gradient: [Float], snapshot: Int) {
        gradient.withUnsafeBufferPointer { add($0, snapshot: snapshot) }
    }

    /// The sum over every snapshot added on every rank since `reset()`, written to `sum`
    /// (`parameterCount` Floats) on every rank. Collective: every rank must call it once per step.
    ///
    /// Throws `NonFiniteGradient` on every rank if any rank added a gradient with a NaN or an
    /// infinity (then `sum` is left untouched).
    @discardableResult
    public func reduce(over world: Communicator, into sum: UnsafeMutableBufferPointer<Float>) throws -> GradientReduction {
        precondition(sum.count == parameterCount, "sum buffer of \(sum.count), expected \(parameterCount)")
        let clock = ContinuousClock()
        var communication = Duration.zero
        func timed<T>(_ collective: () throws -> T) rethrows -> T {
            let start = clock.now
            defer { communication += clock.now - start }
            return try collective()
        }
        // One Double max-reduction: [max |g|, −(first non-finite snapshot · size + its rank) or −∞]:
        // the smallest such snapshot over all ranks, and the rank that holds it.
        var maxima: [Double] = [
            Double(localMaxAbs),
            firstNonFinite.map { -Double($0 * world.size + world.rank) } ?? -.infinity,
        ]
        if firstNonFinite != nil { maxima[0] = 0 }  // MPI's max of a NaN is unspecified
        try timed { try world.allReduce(&maxima, .max) }
        let count = try timed { try world.allReduce(Int64(localCount), .sum) }
        if maxima[1] > -.infinity {
            let key = Int(-maxima[1])
            throw NonFiniteGradient(snapshot: key / world.size, rank: key % world.size)
        }
        let maxAbs = Float(maxima[0])
        switch mode {
        case .fast:
            for i in 0 ..< parameterCount { sum[i] = localSum[i] }
            try timed { try world.allReduce(sum, .sum) }
            return GradientReduction(snapshotCount: Int(count), maxAbs: maxAbs, scaleExponent: nil,
                                     communicationSeconds: communication.seconds)
        case .exact:
            let k = FixedPointScale.exponent(maxAbs: maxAbs, count: Int(count))
            accumulateFixedPoint(scaleExponent: k)
            try timed { try fixed.withUnsafeMutableBufferPointer { try world.allReduce($0, .sum) } }
            let unscale = Double(sign: .plus, exponent: -k, significand: 1)
            for i in 0 ..< parameterCount { sum[i] = Float(Double(fixed[i]) * unscale) }
            return GradientReduction(snapshotCount: Int(count), maxAbs: maxAbs, scaleExponent: k,
                                     communicationSeconds: communication.seconds)
        }
    }

    @discardableResult
    public func reduce(over world: Communicator, into sum: inout [Float]) throws -> GradientReduction {
        try sum.withUnsafeMutableBufferPointer { try reduce(over: world, into: $0) }
    }

    /// fixed[i] = Σ over stored gradients of round(g[i] · 2^k).
    private func accumulateFixedPoint(scaleExponent k: Int) {
        let scale = Double(sign: .plus, exponent: k, significand: 1)
        let p = parameterCount
        fixed.withUnsafeMutableBufferPointer { fixed in
            for i in 0 ..< p { fixed[i] = 0 }
            stored.withUnsafeBufferPointer { stored in
                for snapshot in 0 ..< localCount {
                    let gradient = stored.baseAddress! + snapshot * p
                    for i in 0 ..< p {
                        // Exact product (a power of two), then round; |value| < 2^62 by the choice of k.
                        fixed[i] &+= Int64((Double(gradient[i]) * scale).rounded(.toNearestOrEven))
                    }
                }
            }
        }
    }
}

/// What one `GradientReducer.reduce` did: the same on every rank but for the timing.
public struct GradientReduction: Equatable, Sendable {
    /// Snapshots summed, over all ranks.
    public let snapshotCount: Int
    /// The largest |g| over every per-snapshot gradient of the step.
    public let maxAbs: Float
    /// The exact mode's `k` (values were counted in units of 2^−k); nil in the fast mode.
    public let scaleExponent: Int?
    /// Wall-clock seconds this rank spent in the step's collectives (waiting for the slowest
    /// rank included): the all-reduce time per step of docs/benchmarks.md.
    public let communicationSeconds: Double

    /// The exact mode's bound on |sum − exact real sum| before the final rounding to Float:
    /// `n · 2^−(k+1)`. Zero when nothing was summed; nil in the fast mode.
    public var quantisationBound: Double? {
        scaleExponent.map { Double(snapshotCount) * Double(sign: .plus, exponent: -($0 + 1), significand: 1) }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}

/// The scale of the exact gradient sum.
public enum FixedPointScale {
    /// `k` such that `count` values of magnitude at most `maxAbs`, each times 2^k and rounded to
    /// an integer, sum to less than 2^62 in magnitude: `k = 62 − c − e` with `2^c ≥ count` and
    /// `2^e > maxAbs`. Returns 0 when `maxAbs` is 0 or `count` is 0 (every value is then 0).
    public static func exponent(maxAbs: Float, count: Int) -> Int {
        precondition(maxAbs.isFinite && maxAbs >= 0 && count >= 0)
        guard maxAbs > 0, count > 0 else { return 0 }
        let c = count <= 1 ? 0 : Int.bitWidth - (count - 1).leadingZeroBitCount
        let e = Int(maxAbs.exponent) + 1
        return 62 - c - e
    }
}

/// A gradient of the step held a NaN or an infinity. Thrown by `GradientReducer.reduce` on every
/// rank in the same step, so the training loop can stop on all ranks alike (and must not write a
/// checkpoint from these parameters).
public struct NonFiniteGradient: Error, Equatable, CustomStringConvertible {
    /// The lowest snapshot index (in the file) whose gradient is not finite.
    public let snapshot: Int
    /// The rank that computed that gradient.
    public let rank: Int

    public var description: String {
        "non-finite gradient (NaN or infinity) for snapshot \(snapshot) on rank \(rank); the step is not applied"
    }
}
