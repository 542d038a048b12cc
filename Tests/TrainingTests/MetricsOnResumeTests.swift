import DistributedTraining
import Foundation
import Training
import XCTest

/// metrics.jsonl holds one line per epoch even when a run stopped between an epoch's line and
/// its checkpoint (a node lost at that moment): the resumed run drops the lines past its
/// checkpoint before it writes them again.
final class MetricsOnResumeTests: TrainingTestCase {
    func testLinesPastTheCheckpointAreDroppedOnResume() throws {
        var first = try trainer(out: "run")
        try first.run()
        let path = first.outDirectory + "/metrics.jsonl"
        func epochs() throws -> [Int] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["epoch"] as! Int
            }
        }
        XCTAssertEqual(try epochs(), [1, 2])
        // The line of an epoch 3 whose checkpoint was never written.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"epoch\": 3, \"step\": 999, \"lost\": true}\n".utf8))
        try handle.close()
        // Resumed with --epochs 3.
        var resumed = Trainer(world: first.world, trainPaths: first.trainPaths, outDirectory: first.outDirectory,
                              config: first.config, resume: true, epochsOverride: 3)
        resumed.output = { _ in }
        try resumed.run()
        XCTAssertEqual(try epochs(), [1, 2, 3])
        XCTAssertFalse(try String(contentsOfFile: path, encoding: .utf8).contains("lost"))
    }
}
