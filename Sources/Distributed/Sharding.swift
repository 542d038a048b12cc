// SplitMix64 lives in Randomness (shared with EquivariantNet's RandomSource); re-exported so that
// `import DistributedTraining` keeps providing it.
@_exported import Randomness

/// Which snapshots each rank trains on, step by step, and which it evaluates.
///
/// Everything here is a pure function of (training snapshots, global batch size, seed, epoch,
/// step): the global batches never depend on the number of ranks, only their cutting into
/// per-rank slices does. So a run gives the same optimizer steps at any rank count, and may be
/// resumed at (epoch, step) with another rank count.
///
/// - Each epoch the training snapshots are put in a new order: a Fisher–Yates shuffle driven by
///   `SplitMix64(seed: mix(seed &+ mix(UInt64(epoch))))` (see `epochOrder(_:)`).
/// - Global batch `s` of an epoch is positions `s·B ..< min((s+1)·B, n)` of that order. The last
///   batch of an epoch is **kept** even when it is partial (n not a multiple of B): every
///   snapshot is trained on once per epoch, and there are `ceil(n / B)` steps per epoch.
/// - Rank `r` of `R` takes the contiguous slice `contiguousShare(count: b, rank: r, size: R)` of a
///   global batch of `b` snapshots. When `b < R` some ranks get no snapshot; they still take part
///   in every collective of the step (with nothing added), so all ranks run the same steps.
public struct TrainingSchedule: Equatable, Sendable {
    /// The training snapshots (indices in the snapshot file), in the order given.
    public let snapshots: [Int]
    /// Snapshots per optimizer step over all ranks (the last step of an epoch may have fewer).
    public let globalBatchSize: Int
    /// The run's seed.
    public let seed: UInt64

    public init(snapshots: [Int], globalBatchSize: Int, seed: UInt64) throws {
        guard !snapshots.isEmpty else { throw ShardingError("no training snapshots") }
        guard globalBatchSize >= 1 else {
            throw ShardingError("the global batch must hold at least 1 snapshot, not \(globalBatchSize)")
        }
        guard Set(snapshots).count == snapshots.count else {
            throw ShardingError("the training snapshots list a snapshot more than once")
        }
        self.snapshots = snapshots
        self.globalBatchSize = globalBatchSize
        self.seed = seed
    }

    /// `ceil(n / B)`: the same on every rank, whatever the rank count.
    public var stepsPerEpoch: Int { (snapshots.count + globalBatchSize - 1) / globalBatchSize }

    /// The training snapshots in epoch `epoch`'s order: Fisher–Yates from the end
    /// (`for i in n-1 down to 1: swap(order[i], order[j])`, `j = next(below: i + 1)`), applied to
    /// `snapshots`, with the generator seeded by `mix(seed &+ mix(UInt64(epoch)))`.
    public func epochOrder(_ epoch: Int) -> [Int] {
        var generator = SplitMix64(
            seed: SplitMix64.mix(seed &+ SplitMix64.mix(UInt64(bitPattern: Int64(epoch)))))
        var order = snapshots
        var i = order.count - 1
        while i > 0 {
            let j = Int(generator.next(below: UInt64(i + 1)))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The whole plan of epoch `epoch` (its order computed once).
    public func epoch(_ epoch: Int) -> EpochPlan {
        EpochPlan(epoch: epoch, order: epochOrder(epoch), globalBatchSize: globalBatchSize)
    }
}

/// One epoch of a `TrainingSchedule`: its snapshot order cut into global batches.
public struct EpochPlan: Equatable, Sendable {
    public let epoch: Int
    /// The training snapshots in this epoch's order.
    public let order: [Int]
    public let globalBatchSize: Int

    /// Optimizer steps in this epoch: `ceil(n / B)`, on every rank.
    public var stepCount: Int { (order.count + globalBatchSize - 1) / globalBatchSize }

    /// The snapshots of global batch `step` (all ranks together), in batch order.
    public func globalBatch(step: Int) -> ArraySlice<Int> {
        precondition(step >= 0 && step < stepCount, "step \(step) outside 0..<\(stepCount)")
        let start = step * globalBatchSize
        return order[start ..< min(start + globalBatchSize, order.count)]
    }

    /// Rank `rank`'s slice of global batch `step` in a world of `size` ranks.
    public func localBatch(step: Int, rank: Int, size: Int) -> LocalBatch {
        let batch = globalBatch(step: step)
        let positions = contiguousShare(count: batch.count, rank: rank, size: size)
        let start = batch.startIndex
        return LocalBatch(
            step: step, globalCount: batch.count, positions: positions,
            snapshots: Array(batch[(start + positions.lowerBound) ..< (start + positions.upperBound)]))
    }
}

/// One rank's part of one optimizer step.
public struct LocalBatch: Equatable, Sendable {
    /// The step's index in its epoch.
    public let step: Int
    /// Snapshots in the whole global batch, over all ranks (the loss normalizer counts these).
    public let globalCount: Int
    /// This rank's positions in the global batch (`0 ..< globalCount`): the rows it fills in a
    /// `SnapshotOrderedSum` of per-snapshot statistics for the step. Empty on a rank without work.
    public let positions: Range<Int>
    /// This rank's snapshots (indices in the file), in batch order; possibly none.
    public let snapshots: [Int]
}

/// A rank's share of snapshots to evaluate (validation metrics, predictions, dataset statistics).
///
/// The snapshots are cut into `size` contiguous blocks, one per rank, so that every snapshot is
/// evaluated exactly once across ranks and each rank reads one contiguous range of the file.
public struct EvaluationShard: Equatable, Sendable {
    /// This rank's positions in the full list: the rows it fills in a `SnapshotOrderedSum`.
    public let positions: Range<Int>
    /// This rank's snapshots (indices in the file).
    public let snapshots: [Int]

    public init(snapshots all: [Int], rank: Int, size: Int) {
        positions = contiguousShare(count: all.count, rank: rank, size: size)
        snapshots = Array(all[positions])
    }
}

/// Rank `rank`'s contiguous share of `count` items cut over `size` ranks:
/// `rank·count/size ..< (rank+1)·count/size` (integer division). The shares cover `0..<count`
/// without overlap and differ in length by at most one; lower ranks get the shorter ones.
public func contiguousShare(count: Int, rank: Int, size: Int) -> Range<Int> {
    precondition(size >= 1 && rank >= 0 && rank < size && count >= 0,
                 "rank \(rank) of \(size), count \(count)")
    return (rank * count / size) ..< ((rank + 1) * count / size)
}

/// A training schedule that cannot be built.
public struct ShardingError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
