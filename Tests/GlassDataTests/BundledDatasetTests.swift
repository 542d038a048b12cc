import Foundation
import XCTest
@testable import GlassData

/// The bundled Kob–Andersen dataset (data/, made by tools/generate_ka.py) is what `make demo`
/// trains on: it must open with every value checked and hold what data/README.md says.
final class BundledDatasetTests: XCTestCase {
    static let dataFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data")

    func open(_ name: String) throws -> SnapshotFile {
        let path = Self.dataFolder.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "bundled file \(path) is missing")
        return try SnapshotFile(path: path, checkAllValues: true)
    }

    func testTrainingAndHeldOutFilesMatchTheDocumentedRun() throws {
        let train = try open("ka-N1000-T0.60-train.h5")
        let test = try open("ka-N1000-T0.60-test.h5")
        XCTAssertEqual(train.snapshotCount, 32)
        XCTAssertEqual(test.snapshotCount, 8)
        for file in [train, test] {
            XCTAssertEqual(file.attributes.temperature, 0.6)
            XCTAssertEqual(file.attributes.density, 1.2, accuracy: 1e-12)
            XCTAssertEqual(file.attributes.propensityRuns, 32)
            XCTAssertEqual(file.attributes.speciesNames, ["A", "B"])
            XCTAssertEqual(file.times, [0.1, 0.3, 0.5, 1, 2, 5, 12, 30])
            XCTAssertTrue(file.hasInherentPositions)
            XCTAssertTrue(file.scalarNames.contains("epot_inherent"))
            XCTAssertTrue(file.attributes.provenance.contains("LAMMPS"), "provenance names LAMMPS")
            XCTAssertTrue(file.attributes.provenance.contains("generate_ka.py"), "provenance has the command")
            for k in 0..<file.snapshotCount {
                XCTAssertEqual(file.particleCount(ofSnapshot: k), 1000)
                // N / V = 1.2 for a cubic box of edge (1000 / 1.2)^(1/3).
                for edge in file.box(ofSnapshot: k) {
                    XCTAssertEqual(edge, pow(1000 / 1.2, 1.0 / 3.0), accuracy: 1e-9)
                }
            }
        }
    }

    /// Physics checks on the targets: 80:20 composition, propensity growing with time on average,
    /// B particles (smaller, lighter-bound) more mobile than A at τα, and at t = 0.1 a mean
    /// displacement just below free flight, t·√(8T/π) (Maxwell–Boltzmann mean speed): the cage's
    /// forces have begun to slow the particles.
    func testTargetsBehaveLikeKobAndersenAtT06() throws {
        let train = try open("ka-N1000-T0.60-train.h5")
        var meanA = [Double](repeating: 0, count: train.timeCount)
        var meanB = meanA
        var countA = 0.0, countB = 0.0
        for k in 0..<train.snapshotCount {
            let s = try train.readSnapshot(k)
            let p = try XCTUnwrap(s.propensity)
            for i in 0..<s.particleCount {
                let isA = s.species[i] == 0
                if isA { countA += 1 } else { countB += 1 }
                for t in 0..<train.timeCount {
                    if isA { meanA[t] += Double(p[i * train.timeCount + t]) } else { meanB[t] += Double(p[i * train.timeCount + t]) }
                }
            }
        }
        XCTAssertEqual(countA / (countA + countB), 0.8, accuracy: 1e-12)
        meanA = meanA.map { $0 / countA }
        meanB = meanB.map { $0 / countB }
        for t in 1..<train.timeCount { XCTAssertGreaterThan(meanA[t], meanA[t - 1]) }
        let tauAlpha = try XCTUnwrap(train.times.firstIndex(of: 12))
        XCTAssertGreaterThan(meanB[tauAlpha], meanA[tauAlpha])
        let ballistic = 0.1 * (8 * 0.6 / Double.pi).squareRoot()
        XCTAssertLessThan(meanA[0], ballistic)
        XCTAssertGreaterThan(meanA[0], 0.7 * ballistic)
    }
}
