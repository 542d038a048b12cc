import Foundation
import GlassData
import XCTest

/// `launcher cross-evaluate`: the train × test table equals `launcher evaluate --json` pair by pair.
final class CrossEvaluateTests: ScratchDirectoryTestCase {
    func launcher(_ arguments: [String]) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run([try LauncherProcess.launcherPath()] + arguments, timeout: 300)
        XCTAssertFalse(result.timedOut, "launcher \(arguments) timed out")
        return result
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    func testTableEntriesEqualEvaluateOfEachPair() throws {
        let config = path("config.json")
        try Data("""
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 12]},
             "training": {"epochs": 1, "batchSize": 2, "learningRate": 0.01}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        // Two "temperatures" to train on, two files to test on; Y lacks t = 0.5.
        let trainP = try SyntheticSnapshots.write(path: path("train-p.h5"), count: 3, seed: 31, times: [0.5, 12])
        let trainQ = try SyntheticSnapshots.write(path: path("train-q.h5"), count: 3, seed: 32, times: [0.5, 2, 12])
        let testX = try SyntheticSnapshots.write(path: path("test-x.h5"), count: 2, seed: 33, times: [0.5, 2, 12])
        let testY = try SyntheticSnapshots.write(path: path("test-y.h5"), count: 2, seed: 34, times: [1, 12, 30])
        for (data, out) in [(trainP, "run-p"), (trainQ, "run-q")] {
            let r = try launcher(["train", "--data", data, "--out", path(out), "--config", config])
            XCTAssertEqual(r.status, 0, r.standardError)
        }
        let models = [("P", path("run-p")), ("Q", path("run-q"))]
        let datasets = [("X", testX), ("Y", testY)]
        let pairs = models.flatMap { ["--model", "\($0.0)=\($0.1)"] } + datasets.flatMap { ["--data", "\($0.0)=\($0.1)"] }

        let c = try launcher(["cross-evaluate"] + pairs + ["--json"])
        XCTAssertEqual(c.status, 0, c.standardError)
        let table = try json(c.standardOutput)
        XCTAssertEqual(table["times"] as? [Double], [0.5, 12])
        XCTAssertEqual(table["models"] as? [String], ["P", "Q"])
        XCTAssertEqual(table["datasets"] as? [String], ["X", "Y"])
        let pooled = table["pearson_pooled"] as! [[[Any]]]
        let mean = table["pearson_mean"] as! [[[Any]]]
        XCTAssertEqual(pooled.count, 2)

        // Each entry against `launcher evaluate --json` of the same pair.
        var markdownEntries: [String] = []
        for (i, m) in models.enumerated() {
            for (j, d) in datasets.enumerated() {
                let e = try launcher(["evaluate", "--checkpoint", m.1, "--data", d.1, "--json"])
                XCTAssertEqual(e.status, 0, e.standardError)
                let reference = try json(e.standardOutput)
                let times = reference["times"] as! [Double]
                let a = (reference["species"] as! [String: Any])["A"] as! [String: [Any]]
                for (q, t) in [0.5, 12].enumerated() {
                    if let k = times.firstIndex(of: t) {
                        let p = (a["pearson_pooled"]![k] as! NSNumber).doubleValue
                        let pm = (a["pearson_mean"]![k] as! NSNumber).doubleValue
                        XCTAssertEqual((pooled[i][j][q] as? NSNumber)?.doubleValue, p, "\(m.0) on \(d.0), t = \(t)")
                        XCTAssertEqual((mean[i][j][q] as? NSNumber)?.doubleValue, pm, "\(m.0) on \(d.0), t = \(t)")
                        if t == 12 { markdownEntries.append(String(format: "%.3f (%.3f)", p, pm)) }
                    } else {
                        XCTAssertTrue(pooled[i][j][q] is NSNull, "\(m.0) on \(d.0) has no t = \(t): expected null")
                        XCTAssertEqual(t, 0.5)
                        XCTAssertEqual(d.0, "Y")
                    }
                }
            }
        }
        XCTAssertEqual(markdownEntries.count, 4)

        // Markdown: one table per time, rows = models, columns = datasets.
        let md = try launcher(["cross-evaluate"] + pairs + ["--markdown"])
        XCTAssertEqual(md.status, 0, md.standardError)
        let lines = md.standardOutput.components(separatedBy: "\n")
        guard let block = lines.firstIndex(where: { $0.hasPrefix("**Species A, t = 12**") }) else {
            return XCTFail("no t = 12 table:\n\(md.standardOutput)")
        }
        XCTAssertEqual(lines[block + 2], "| train \\ test | X | Y |")
        XCTAssertEqual(lines[block + 4], "| P | \(markdownEntries[0]) | \(markdownEntries[1]) |")
        XCTAssertEqual(lines[block + 5], "| Q | \(markdownEntries[2]) | \(markdownEntries[3]) |")
        let early = lines.firstIndex { $0.hasPrefix("**Species A, t = 0.5**") }!
        XCTAssertTrue(lines[early + 4].hasSuffix(" | - |"), lines[early + 4])

        // --times: the same entries at the chosen times only.
        let only = try launcher(["cross-evaluate"] + pairs + ["--times", "12", "--json"])
        XCTAssertEqual(only.status, 0, only.standardError)
        let restricted = try json(only.standardOutput)
        XCTAssertEqual(restricted["times"] as? [Double], [12])
        let restrictedPooled = restricted["pearson_pooled"] as! [[[NSNumber]]]
        for i in 0..<2 { for j in 0..<2 { XCTAssertEqual(restrictedPooled[i][j], [pooled[i][j][1] as! NSNumber]) } }
        let notScored = try launcher(["cross-evaluate"] + pairs + ["--times", "7"])
        XCTAssertNotEqual(notScored.status, 0)
        XCTAssertTrue(notScored.standardError.contains("--times: 7 is not a scored time"), notScored.standardError)

        let bad = try launcher(["cross-evaluate"] + pairs + ["--species", "C"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.standardError.contains("no species named 'C'"), bad.standardError)
    }
}
