import DistributedTraining
import EquivariantNet
import Foundation
import GlassData

/// The data of a training run on this rank: the training and validation snapshots (each rank
/// reads only its own, each once, kept in memory up to the cache's budget), the schedule of
/// global batches, and the statistics the run standardizes with.
public struct TrainingData {
    public let train: SnapshotCache
    public let validation: SnapshotCache?
    /// (model time, validation-file time) pairs the validation file shares with the model.
    public let validationShared: [(model: Int, data: Int)]
    public let schedule: TrainingSchedule
    /// The training file's species names.
    public var speciesNames: [String] { train.file.attributes.speciesNames }
    /// Statistics of the whole training set, summed snapshot by snapshot in file order.
    public let statistics: TrainingStatistics
    /// The mean in-degree and the standardization the run uses: from the training set, or
    /// exactly those of the run being resumed (a transfer keeps the source's `avgNeighbors`
    /// and extra-scalar standardization).
    public let avgNeighbors: Double
    public let normalization: Normalization
}

extension Trainer {
    /// Opens the training (and validation) file, computes the statistics of the training set
    /// over the ranks and chooses the normalization for `start`. Collective.
    public func prepareData(_ start: TrainingStart) throws -> TrainingData {
        let mc = start.config.model, tc = start.config.training
        let preparer = SnapshotPreparer(config: mc)
        var trainSet = try preparer.open(trainPaths, needTargets: true, needAllTimes: true)
        if let limit = trainSnapshots {
            guard limit >= 1 && limit <= trainSet.snapshotCount else {
                throw ValidationFailure("\(trainSet.path): --train-snapshots \(limit) asks for more than its \(trainSet.snapshotCount) snapshots (or fewer than 1)")
            }
            trainSet = trainSet.prefix(limit)
        }
        let train = SnapshotCache(file: trainSet, preparer: preparer)
        let schedule = try TrainingSchedule(snapshots: Array(0..<train.file.snapshotCount), globalBatchSize: tc.batchSize,
                                            seed: tc.seed)
        var validation: SnapshotCache? = nil
        var validationShared: [(model: Int, data: Int)] = []
        if !validationPaths.isEmpty {
            let file = try preparer.open(validationPaths, needTargets: true, needAllTimes: false)
            validationShared = preparer.sharedTimes(file)
            validation = SnapshotCache(file: file, preparer: preparer)
        }
        let loadStart = Date()
        let statistics = try TrainingStatistics.collect(train, world: world)
        var avgNeighbors = statistics.avgNeighbors
        var normalization = statistics.normalization
        if let c = start.resumed {
            avgNeighbors = c.avgNeighbors
            normalization = c.normalization
        } else if let transfer = start.transfer {
            avgNeighbors = transfer.source.checkpoint.avgNeighbors
            normalization = transfer.normalization(newTargets: statistics.normalization)
        }
        train.normalization = normalization
        validation?.normalization = normalization
        let data = TrainingData(train: train, validation: validation, validationShared: validationShared, schedule: schedule,
                                statistics: statistics, avgNeighbors: avgNeighbors, normalization: normalization)
        log(dataLine(data, seconds: Date().timeIntervalSince(loadStart)))
        return data
    }

    func dataLine(_ data: TrainingData, seconds: Double) -> String {
        "data: \(data.train.file.snapshotCount) training snapshots (\(Int(data.statistics.nodes)) particles, "
            + "\(String(format: "%.2f", data.avgNeighbors)) neighbors on average) from \(data.train.file.path)"
            + (data.validation.map { ", \($0.file.snapshotCount) validation snapshots from \($0.file.path)" } ?? "")
            + String(format: "; statistics in %.1f s on %d rank%@", seconds, world.size, world.size == 1 ? "" : "s")
    }
}
