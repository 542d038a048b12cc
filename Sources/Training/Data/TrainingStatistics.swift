import DistributedTraining
import EquivariantNet

/// The training set's global statistics, accumulated snapshot by snapshot in file order: the
/// mean in-degree of the graphs (`avgNeighbors`) and the standardization of targets and extra
/// scalars (`normalization`), whose scalar moments are followed by those of each extra vector's
/// length (`Normalization.scale(vectors:count:after:)`).
public struct TrainingStatistics {
    public var edges = 0.0
    public var nodes = 0.0
    public var targets: MomentSums
    public var scalars: MomentSums

    public init(config: ModelConfig) {
        targets = MomentSums(slots: config.speciesCount * config.times.count)
        scalars = MomentSums(slots: config.extraScalars.count + config.extraVectors.count)
    }

    public mutating func add(_ p: PreparedSnapshot, times: Int, extra: Int) {
        edges += Double(p.input.edgeCount)
        nodes += Double(p.particleCount)
        if let t = p.targets { Normalization.accumulateTargets(t, species: p.species, times: times, into: &targets) }
        for i in 0..<p.particleCount { for j in 0..<extra { scalars.add(slot: j, Double(p.rawScalars[i * extra + j])) } }
        let v = p.input.extraVectors.isEmpty ? 0 : p.rawVectors.count / (3 * max(p.particleCount, 1))
        for i in 0..<(p.particleCount * v) {
            let x = Double(p.rawVectors[3 * i]), y = Double(p.rawVectors[3 * i + 1]), z = Double(p.rawVectors[3 * i + 2])
            scalars.add(slot: extra + i % v, (x * x + y * y + z * z).squareRoot())
        }
    }

    public var avgNeighbors: Double { nodes > 0 ? edges / nodes : 1 }

    public var normalization: Normalization {
        let (tm, ts) = targets.meanAndStd()
        let (sm, ss) = scalars.meanAndStd()
        return Normalization(targetMean: tm, targetStd: ts, scalarMean: sm, scalarStd: ss)
    }

    /// The statistics of every snapshot of `cache`'s file (raw, not standardized: `cache` must
    /// have no normalization yet). Collective: each rank reads its `EvaluationShard`, the rows
    /// are summed in file order (`SnapshotOrderedSum`), so the result is the same bits at any
    /// rank count, on every rank.
    public static func collect(_ cache: SnapshotCache, world: Communicator) throws -> TrainingStatistics {
        let config = cache.preparer.config
        let snapshots = Array(0..<cache.file.snapshotCount)
        let shard = EvaluationShard(snapshots: snapshots, rank: world.rank, size: world.size)
        var rows = SnapshotOrderedSum(rowCount: snapshots.count, width: StatisticsRow.width(config))
        for (row, k) in zip(shard.positions, shard.snapshots) {
            rows.set(row: row, StatisticsRow.values(try cache.snapshot(k), config))
        }
        return StatisticsRow.statistics(try rows.reduce(over: world), config)
    }
}

/// One snapshot's contribution to the training statistics, as one row of a `SnapshotOrderedSum`:
/// [edges, particles, target moment sums per (species, time), extra-scalar moment sums].
public enum StatisticsRow {
    public static func width(_ config: ModelConfig) -> Int {
        2 + 3 * config.speciesCount * config.times.count + 3 * (config.extraScalars.count + config.extraVectors.count)
    }

    public static func values(_ p: PreparedSnapshot, _ config: ModelConfig) -> [Double] {
        var statistics = TrainingStatistics(config: config)
        statistics.add(p, times: config.times.count, extra: config.extraScalars.count)
        return [statistics.edges, statistics.nodes] + statistics.targets.flat + statistics.scalars.flat
    }

    /// The statistics from the summed rows.
    public static func statistics(_ total: [Double], _ config: ModelConfig) -> TrainingStatistics {
        var statistics = TrainingStatistics(config: config)
        let targetWidth = 3 * config.speciesCount * config.times.count
        statistics.edges = total[0]
        statistics.nodes = total[1]
        statistics.targets = MomentSums(flat: Array(total[2 ..< 2 + targetWidth]))
        statistics.scalars = MomentSums(flat: Array(total[(2 + targetWidth)...]))
        return statistics
    }
}
