import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training
import XCTest

/// Training data in several files (or a folder of parts) trains exactly like the same snapshots
/// in one file; the first N snapshots of a set; the extra vectors' statistics.
final class SeveralFilesTests: TrainingTestCase {
    func run(_ paths: [String], out: String, config: RunConfig = TinyRun.config(), trainSnapshots: Int? = nil) throws -> Checkpoint {
        var t = Trainer(world: try Communicator.shared(), trainPaths: paths, validationPaths: [paths[0]],
                        outDirectory: scratch + "/" + out, config: config)
        t.trainSnapshots = trainSnapshots
        t.output = { _ in }
        try t.run()
        return try Checkpoint.read(path: Checkpoint.list(in: scratch + "/" + out).last!)
    }

    func write(_ name: String, _ snapshots: Range<Int>) throws -> String {
        let path = scratch + "/" + name
        try SnapshotFileWriter.write(path: path, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, source: "test"),
                                     times: TinyRun.fileTimes, snapshots: snapshots.map(TinyRun.snapshot))
        return path
    }

    func assertSameRun(_ a: Checkpoint, _ b: Checkpoint, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern), "parameters", file: file, line: line)
        XCTAssertEqual(a.adamM.map(\.bitPattern), b.adamM.map(\.bitPattern), "first moments", file: file, line: line)
        XCTAssertEqual(a.adamV.map(\.bitPattern), b.adamV.map(\.bitPattern), "second moments", file: file, line: line)
        XCTAssertEqual(a.step, b.step, file: file, line: line)
        XCTAssertEqual(a.targetMean, b.targetMean, file: file, line: line)
        XCTAssertEqual(a.scalarMean, b.scalarMean, file: file, line: line)
    }

    func testTwoFilesAndAFolderTrainBitwiseAsOneFile() throws {
        var config = TinyRun.config()
        config.model.extraScalars = ["epot_inherent", "displacement_inherent"]
        config.model.extraVectors = ["to_inherent"]
        let whole = try write("whole.h5", 0..<6)
        let parts = scratch + "/parts"
        try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: true)
        let first = try write("parts/part-1.h5", 0..<2), second = try write("parts/part-2.h5", 2..<6)
        let one = try run([whole], out: "one", config: config)
        XCTAssertGreaterThan(one.step, 0)
        assertSameRun(one, try run([first, second], out: "two", config: config))
        assertSameRun(one, try run([parts], out: "folder", config: config))
        // The files in another order are another training set.
        let swapped = try run([second, first], out: "swapped", config: config)
        XCTAssertNotEqual(one.parameters, swapped.parameters)
    }

    func testTheFirstSnapshotsOfASetTrainAsAFileOfThem() throws {
        let parts = [try write("a.h5", 0..<2), try write("b.h5", 2..<6)]
        let three = try write("three.h5", 0..<3)
        assertSameRun(try run([three], out: "three"), try run(parts, out: "prefix", trainSnapshots: 3))
        XCTAssertThrowsError(try run(parts, out: "too-many", trainSnapshots: 7)) { error in
            XCTAssertTrue("\(error)".contains("--train-snapshots 7"), "\(error)")
        }
    }

    /// The extra vector r_IS − r: its length's moments follow the scalars' in the statistics, and
    /// the network sees it divided by its RMS length over the training set.
    func testExtraVectorStatisticsAndScaling() throws {
        var config = TinyRun.config()
        config.model.extraScalars = ["epot_inherent"]
        config.model.extraVectors = ["to_inherent"]
        let path = try write("v.h5", 0..<3)
        let preparer = SnapshotPreparer(config: config.model)
        let set = try preparer.open(path, needTargets: true, needAllTimes: true)
        var lengths: [Double] = []
        var firstVector: [Double] = []
        for k in 0..<3 {
            let s = TinyRun.snapshot(k)
            for i in 0..<s.particleCount {
                let d = (0..<3).map { s.inherentPositions![3 * i + $0] - s.positions[3 * i + $0] }
                if k == 0 && i == 0 { firstVector = d }
                lengths.append((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).squareRoot())
            }
        }
        let cache = SnapshotCache(file: set, preparer: preparer)
        let statistics = try TrainingStatistics.collect(cache, world: try Communicator.shared())
        let n = statistics.normalization
        XCTAssertEqual(n.scalarMean.count, 2)
        let mean = lengths.reduce(0, +) / Double(lengths.count)
        let meanSquare = lengths.map { $0 * $0 }.reduce(0, +) / Double(lengths.count)
        // The statistics read the vectors as the network does, in Float: 2e-8 relative here.
        XCTAssertEqual(n.scalarMean[1], mean, accuracy: 1e-7 * mean)
        XCTAssertEqual(n.scalarMean[1] * n.scalarMean[1] + n.scalarStd[1] * n.scalarStd[1], meanSquare, accuracy: 1e-7 * meanSquare)
        cache.normalization = n
        let p = try cache.snapshot(0)
        for a in 0..<3 {
            XCTAssertEqual(Double(p.input.extraVectors[a]), firstVector[a] / meanSquare.squareRoot(), accuracy: 1e-6)
        }
    }
}
