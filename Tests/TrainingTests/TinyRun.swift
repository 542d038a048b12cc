import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training
import XCTest

/// A tiny model and a tiny snapshot file for the library-level tests: 64 particles in a box of
/// edge 3.76 (density 1.2, `generatedSnapshot`), a one-layer network with two channels.
enum TinyRun {
    static let fileTimes: [Double] = [0.5, 1, 2, 4]

    /// channels 2, lmax 1, one layer, cutoff 1.5, model times 1 and 4 (matched by value to the
    /// file's 0.5, 1, 2, 4), trained on species A.
    static func config(batchSize: Int = 2, learningRate: Double = 0.01) -> RunConfig {
        var model = ModelConfig()
        model.channels = 2
        model.lmax = 1
        model.layers = 1
        model.cutoff = 1.5
        model.radialBasis = 4
        model.radialHidden = [4]
        model.decoderHidden = [4]
        model.times = [1, 4]
        var training = TrainingConfig()
        training.epochs = 2
        training.batchSize = batchSize
        training.learningRate = learningRate
        training.seed = 7
        return RunConfig(model: model, training: training)
    }

    /// Snapshot `k`: positions from `generatedSnapshot`, inherent positions shifted by a
    /// per-particle offset, epot_inherent and propensity as simple functions of position.
    static func snapshot(_ k: Int) -> Snapshot {
        let s = generatedSnapshot(particles: 64, density: 1.2, seed: UInt64(100 + k))
        let n = s.species.count
        let inherent = (0..<(3 * n)).map { s.positions[$0] + 0.01 * Double(($0 * 7 + k) % 5 - 2) }
        let energy = (0..<n).map { -6 + 0.1 * s.positions[3 * $0] + Double(s.species[$0]) }
        var propensity: [Float] = []
        for i in 0..<n {
            for (q, t) in fileTimes.enumerated() {
                propensity.append(Float(t.squareRoot() * (0.2 + 0.05 * s.positions[3 * i + 1]) + 0.01 * Double(q + Int(s.species[i]))))
            }
        }
        return Snapshot(box: s.box, positions: s.positions, inherentPositions: inherent, species: s.species,
                        scalars: ["epot_inherent": energy], propensity: propensity)
    }

    /// Writes `count` snapshots to `directory`/`name`.
    static func writeFile(_ directory: String, name: String = "tiny.h5", count: Int = 4) throws -> String {
        let path = directory + "/" + name
        try SnapshotFileWriter.write(path: path, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, source: "test"),
                                     times: fileTimes, snapshots: (0..<count).map(snapshot))
        return path
    }
}

/// A fresh scratch directory per test, removed afterwards.
class TrainingTestCase: XCTestCase {
    var scratch = ""

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "training-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// A quiet trainer on the tiny file.
    func trainer(_ config: RunConfig = TinyRun.config(), out: String = "run", resume: Bool = false,
                 initFrom: String? = nil, freeze: String? = nil, validation: Bool = false) throws -> Trainer {
        let data = try TinyRun.writeFile(scratch)
        var t = Trainer(world: try Communicator.shared(), trainPaths: [data], validationPaths: validation ? [data] : [],
                        outDirectory: scratch + "/" + out, config: config, resume: resume, initFrom: initFrom, freeze: freeze)
        t.output = { _ in }
        return t
    }
}
