import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training
import XCTest

/// SnapshotPreparer and the training statistics against direct computations on the raw file.
final class DataPreparationTests: TrainingTestCase {
    /// Model times 1 and 4 are the file's columns 1 and 3 (matched by value, not position); a
    /// model time the file lacks reads NaN, and a training file must have every model time.
    func testTimesAreMatchedByValue() throws {
        let path = try TinyRun.writeFile(scratch)
        var config = TinyRun.config().model
        let preparer = SnapshotPreparer(config: config)
        let file = try preparer.open(path, needTargets: true, needAllTimes: true)
        XCTAssertEqual(preparer.sharedTimes(file).map { [$0.model, $0.data] }, [[0, 1], [1, 3]])
        let raw = TinyRun.snapshot(2).propensity!
        let p = try preparer.prepare(file, snapshot: 2)
        XCTAssertEqual(p.index, 2)
        for i in 0..<p.particleCount {
            XCTAssertEqual(p.targets![2 * i], raw[4 * i + 1])
            XCTAssertEqual(p.targets![2 * i + 1], raw[4 * i + 3])
        }

        config.times = [2, 3]  // 3 is not in the file
        let partial = SnapshotPreparer(config: config)
        let q = try partial.prepare(try partial.open(path, needTargets: true, needAllTimes: false), snapshot: 0)
        let raw0 = TinyRun.snapshot(0).propensity!
        XCTAssertEqual(q.targets![0], raw0[2])
        XCTAssertTrue(q.targets![1].isNaN)
        XCTAssertThrowsError(try partial.open(path, needTargets: true, needAllTimes: true)) { error in
            XCTAssertTrue("\(error)".contains("lacks the model's times [3.0]"), "\(error)")
        }
    }

    /// Inherent positions feed the graph when asked for; the stored and the computed extra
    /// scalars are the raw values, in the configuration's order, and standardize as (x − mean)/std.
    func testPositionsAndExtraScalars() throws {
        let path = try TinyRun.writeFile(scratch)
        var config = TinyRun.config().model
        config.positions = .inherent
        config.extraScalars = ["displacement_inherent", "epot_inherent"]
        let preparer = SnapshotPreparer(config: config)
        let file = try preparer.open(path, needTargets: false, needAllTimes: false)
        let s = TinyRun.snapshot(1)
        let p = try preparer.prepare(file, snapshot: 1)
        let graph = try NeighborGraph(positions: s.inherentPositions!, box: s.box, cutoff: config.cutoff)
        XCTAssertEqual(p.input.senders, graph.senders)
        XCTAssertEqual(p.input.vectors, graph.edgeVectors)
        for i in 0..<s.particleCount {
            var d2 = 0.0
            for a in 0..<3 {
                var d = s.positions[3 * i + a] - s.inherentPositions![3 * i + a]
                d -= s.box[a] * (d / s.box[a]).rounded()
                d2 += d * d
            }
            XCTAssertEqual(p.rawScalars[2 * i], Float(d2.squareRoot()), accuracy: 1e-6)
            XCTAssertEqual(p.rawScalars[2 * i + 1], Float(s.scalars["epot_inherent"]![i]))
        }
        let n = Normalization(targetMean: [], targetStd: [], scalarMean: [0.5, -6], scalarStd: [2, 0.25])
        let standard = preparer.standardize(p, n)
        XCTAssertEqual(Double(standard.input.scalars[1]), (Double(p.rawScalars[1]) + 6) / 0.25, accuracy: 1e-5)
        XCTAssertEqual(Double(standard.input.scalars[0]), (Double(p.rawScalars[0]) - 0.5) / 2, accuracy: 1e-6)

        var thermal = config
        thermal.positions = .thermal
        thermal.extraScalars = ["no_such_scalar"]
        XCTAssertThrowsError(try SnapshotPreparer(config: thermal).open(path, needTargets: false, needAllTimes: false)) {
            XCTAssertTrue("\($0)".contains("no scalars/no_such_scalar"), "\($0)")
        }
    }

    /// The statistics over the ranks (here one) against a direct pass over every snapshot:
    /// mean in-degree, per (species, time) target mean and population standard deviation.
    func testStatisticsAgainstADirectComputation() throws {
        let path = try TinyRun.writeFile(scratch, count: 3)
        let config = TinyRun.config().model
        let preparer = SnapshotPreparer(config: config)
        let cache = SnapshotCache(file: try preparer.open(path, needTargets: true, needAllTimes: true), preparer: preparer)
        let statistics = try TrainingStatistics.collect(cache, world: try Communicator.shared())

        var edges = 0, nodes = 0
        var values = [[Double]](repeating: [], count: 4)  // (species, model time)
        for k in 0..<3 {
            let s = TinyRun.snapshot(k)
            edges += try NeighborGraph(positions: s.positions, box: s.box, cutoff: config.cutoff).edgeCount
            nodes += s.particleCount
            for i in 0..<s.particleCount {
                let species = Int(s.species[i])
                values[species * 2] .append(Double(s.propensity![4 * i + 1]))
                values[species * 2 + 1].append(Double(s.propensity![4 * i + 3]))
            }
        }
        XCTAssertEqual(statistics.nodes, Double(nodes))
        XCTAssertEqual(statistics.avgNeighbors, Double(edges) / Double(nodes), accuracy: 1e-12)
        let n = statistics.normalization
        for slot in 0..<4 {
            let mean = values[slot].reduce(0, +) / Double(values[slot].count)
            let variance = values[slot].map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values[slot].count)
            XCTAssertEqual(n.targetMean[slot], mean, accuracy: 1e-6, "slot \(slot)")
            XCTAssertEqual(n.targetStd[slot], variance.squareRoot(), accuracy: 1e-6, "slot \(slot)")
        }
    }

    /// The one train/test check: species must agree, and some time must be shared.
    func testTrainTestCompatibility() throws {
        let a = try TinyRun.writeFile(scratch, name: "a.h5", count: 1)
        let other = scratch + "/b.h5"
        try SnapshotFileWriter.write(path: other, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, source: "test"),
                                     times: [3, 4, 5, 6], snapshots: [TinyRun.snapshot(0)])
        let shared = try sharedTimes(train: try SnapshotSet(paths: [a]), test: try SnapshotSet(paths: [other]))
        XCTAssertEqual(shared.map { [$0.test, $0.train] }, [[1, 3]])  // t = 4
        let far = scratch + "/c.h5"
        try SnapshotFileWriter.write(path: far, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, source: "test"),
                                     times: [10, 20, 30, 40], snapshots: [TinyRun.snapshot(0)])
        XCTAssertThrowsError(try sharedTimes(train: try SnapshotSet(paths: [a]), test: try SnapshotSet(paths: [far]))) {
            XCTAssertTrue("\($0)".contains("share no time"), "\($0)")
        }
    }
}
