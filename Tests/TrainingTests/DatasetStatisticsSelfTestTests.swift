import DistributedTraining
import Foundation
import GlassData
import Training
import XCTest

/// `selftest --dataset-statistics`: the printed counts, means and standard deviations against a
/// direct pass over the file's propensity.
final class DatasetStatisticsSelfTestTests: TrainingTestCase {
    func testStatisticsLinesMatchADirectComputation() throws {
        let path = try TinyRun.writeFile(scratch, count: 3)
        var test = DatasetStatisticsSelfTest(path: path, world: try Communicator.shared())
        var lines: [String] = []
        test.output = { lines.append($0) }
        try test.run()
        XCTAssertEqual(lines.first, "statistics: 3 snapshots over 1 ranks (rank 0 read 3)")
        XCTAssertTrue(lines.last!.hasPrefix("statistics: sums-hash "))
        var checked = 0
        for (s, name) in ["A", "B"].enumerated() {
            for (q, t) in TinyRun.fileTimes.enumerated() {
                var values: [Double] = []
                for k in 0..<3 {
                    let snapshot = TinyRun.snapshot(k)
                    for i in 0..<snapshot.particleCount where Int(snapshot.species[i]) == s {
                        values.append(Double(snapshot.propensity![4 * i + q]))
                    }
                }
                let mean = values.reduce(0, +) / Double(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                let line = try XCTUnwrap(lines.first { $0.hasPrefix("statistics \(name) t=\(t) ") }, "\(name) t=\(t)")
                let fields = line.split(separator: " ").map(String.init)
                XCTAssertEqual(Int(fields[4]), values.count, line)
                XCTAssertEqual(Double(fields[6])!, mean, accuracy: 1e-12, line)
                XCTAssertEqual(Double(fields[8])!, std, accuracy: 1e-9, line)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 8)
    }
}
