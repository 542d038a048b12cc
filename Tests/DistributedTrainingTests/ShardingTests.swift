import XCTest
@testable import DistributedTraining

/// The training order and its cutting into per-rank slices, simulated for several rank counts.
final class ShardingTests: XCTestCase {
    /// SplitMix64 against the published sequence for seed 1234567 (Rosetta Code, "Pseudo-random
    /// numbers/Splitmix64"; also reproduced by the Python sketch in docs/distributed.md).
    func testSplitMix64MatchesTheReferenceSequence() {
        var generator = SplitMix64(seed: 1_234_567)
        let drawn = (0 ..< 5).map { _ in generator.next() }
        XCTAssertEqual(drawn, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                               4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
    }

    func testBoundedDrawsAreInRangeAndUniform() {
        var generator = SplitMix64(seed: 42)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0 ..< 30_000 { counts[Int(generator.next(below: 3))] += 1 }
        // Expected 10 000 each; the standard deviation is ~82, so 500 is > 6 sigma.
        for count in counts { XCTAssertEqual(Double(count), 10_000, accuracy: 500, "\(counts)") }
        // A bound just above 2^63: half the draws are rejected, the results still in range.
        let bound = (UInt64(1) << 63) + 1
        for _ in 0 ..< 100 { XCTAssertLessThan(generator.next(below: bound), bound) }
        XCTAssertEqual(generator.next(below: 1), 0)
    }

    /// Epoch orders against an independent Python implementation of the documented algorithm
    /// (docs/distributed.md, "The training order"), run once to produce these lists.
    func testEpochOrderFollowsTheDocumentedAlgorithm() throws {
        let ten = try TrainingSchedule(snapshots: Array(0 ..< 10), globalBatchSize: 4, seed: 7)
        XCTAssertEqual(ten.epochOrder(0), [1, 6, 8, 2, 4, 9, 3, 0, 7, 5])
        XCTAssertEqual(ten.epochOrder(1), [5, 0, 6, 8, 7, 2, 1, 9, 3, 4])
        let subset = try TrainingSchedule(snapshots: [3, 5, 8, 13, 21, 34], globalBatchSize: 2, seed: 99)
        XCTAssertEqual(subset.epochOrder(4), [5, 21, 3, 34, 13, 8])
    }

    func testEachEpochIsAPermutationThatChangesWithTheEpochAndTheSeed() throws {
        let snapshots = Array(stride(from: 5, to: 500, by: 3))
        let schedule = try TrainingSchedule(snapshots: snapshots, globalBatchSize: 16, seed: 2026)
        var orders: Set<[Int]> = []
        for epoch in 0 ..< 6 {
            let order = schedule.epochOrder(epoch)
            XCTAssertEqual(order.sorted(), snapshots)
            XCTAssertEqual(order, schedule.epochOrder(epoch), "the same (seed, epoch) gives the same order")
            orders.insert(order)
        }
        XCTAssertEqual(orders.count, 6)
        let other = try TrainingSchedule(snapshots: snapshots, globalBatchSize: 16, seed: 2027)
        XCTAssertNotEqual(other.epochOrder(0), schedule.epochOrder(0))
    }

    /// For several data set sizes, batch sizes and rank counts 1...5: the ranks' slices of every
    /// step put side by side are the global batch, which does not depend on the rank count;
    /// every snapshot is trained on exactly once per epoch; every rank has the same step count.
    func testSlicesCoverEachGlobalBatchOnceAtAnyRankCount() throws {
        for (n, batchSize) in [(37, 8), (10, 2), (5, 7), (1, 1), (64, 16), (13, 5)] {
            let schedule = try TrainingSchedule(snapshots: Array(100 ..< 100 + n), globalBatchSize: batchSize, seed: 11)
            XCTAssertEqual(schedule.stepsPerEpoch, (n + batchSize - 1) / batchSize)
            for epoch in 0 ..< 3 {
                let plan = schedule.epoch(epoch)
                XCTAssertEqual(plan.stepCount, schedule.stepsPerEpoch)
                var trained: [Int] = []
                for step in 0 ..< plan.stepCount {
                    let global = Array(plan.globalBatch(step: step))
                    XCTAssertEqual(global.count, step < plan.stepCount - 1 ? batchSize : n - batchSize * (plan.stepCount - 1))
                    trained += global
                    for size in 1 ... 5 {
                        var joined: [Int] = []
                        var positions: [Int] = []
                        for rank in 0 ..< size {
                            let local = plan.localBatch(step: step, rank: rank, size: size)
                            XCTAssertEqual(local.globalCount, global.count)
                            XCTAssertEqual(local.step, step)
                            XCTAssertEqual(local.snapshots.count, local.positions.count)
                            joined += local.snapshots
                            positions += Array(local.positions)
                            // Balanced: slices differ by at most one snapshot.
                            XCTAssertLessThanOrEqual(abs(local.snapshots.count - global.count / size), 1)
                        }
                        XCTAssertEqual(joined, global, "n \(n) B \(batchSize) epoch \(epoch) step \(step) ranks \(size)")
                        XCTAssertEqual(positions, Array(0 ..< global.count))
                    }
                }
                XCTAssertEqual(trained.sorted(), Array(100 ..< 100 + n), "each snapshot once per epoch")
            }
        }
    }

    func testASmallBatchLeavesSomeRanksWithoutSnapshots() throws {
        let plan = try TrainingSchedule(snapshots: Array(0 ..< 10), globalBatchSize: 2, seed: 1).epoch(0)
        let slices = (0 ..< 3).map { plan.localBatch(step: 0, rank: $0, size: 3) }
        XCTAssertEqual(slices.map { $0.snapshots.count }, [0, 1, 1])
        XCTAssertEqual(slices[0].positions, 0 ..< 0)
        XCTAssertEqual(slices[0].globalCount, 2)
    }

    func testEvaluationShardsCoverEverySnapshotOnce() {
        for n in [0, 1, 2, 7, 100] {
            let all = (0 ..< n).map { 3 * $0 + 1 }
            for size in 1 ... 6 {
                let shards = (0 ..< size).map { EvaluationShard(snapshots: all, rank: $0, size: size) }
                XCTAssertEqual(shards.flatMap { $0.snapshots }, all, "n \(n) ranks \(size)")
                XCTAssertEqual(shards.flatMap { Array($0.positions) }, Array(0 ..< n))
            }
        }
        XCTAssertEqual(contiguousShare(count: 10, rank: 2, size: 3), 6 ..< 10)
    }

    func testInvalidSchedulesAreErrors() {
        XCTAssertThrowsError(try TrainingSchedule(snapshots: [], globalBatchSize: 4, seed: 0)) {
            XCTAssertEqual("\($0)", "no training snapshots")
        }
        XCTAssertThrowsError(try TrainingSchedule(snapshots: [1, 2], globalBatchSize: 0, seed: 0)) {
            XCTAssertEqual("\($0)", "the global batch must hold at least 1 snapshot, not 0")
        }
        XCTAssertThrowsError(try TrainingSchedule(snapshots: [1, 2, 1], globalBatchSize: 2, seed: 0)) {
            XCTAssertEqual("\($0)", "the training snapshots list a snapshot more than once")
        }
    }
}
