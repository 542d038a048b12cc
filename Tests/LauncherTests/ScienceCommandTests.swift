import Foundation
import GlassData
import XCTest

/// `launcher baselines / embed / probe` end to end, on small synthetic KA-like files.
final class ScienceCommandTests: ScratchDirectoryTestCase {
    func launcher(_ arguments: [String], timeout: Double = 300) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run([try LauncherProcess.launcherPath()] + arguments, timeout: timeout)
        XCTAssertFalse(result.timedOut, "launcher \(arguments) timed out")
        return result
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// A tiny trained network (2 channels, 2 layers) on 80-particle snapshots.
    func trainTinyModel() throws -> (run: String, train: String, test: String) {
        let train = try SyntheticSnapshots.write(path: path("train.h5"), count: 4, seed: 1, times: [0.5, 12])
        let test = try SyntheticSnapshots.write(path: path("test.h5"), count: 2, seed: 2, times: [0.5, 12])
        let config = path("config.json")
        try Data("""
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 12]},
             "training": {"epochs": 1, "batchSize": 2, "learningRate": 0.01}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let run = path("run")
        let t = try launcher(["train", "--data", train, "--out", run, "--config", config])
        XCTAssertEqual(t.status, 0, t.standardError)
        return (run, train, test)
    }

    // MARK: baselines

    /// The synthetic targets grow with the number of neighbors within 1.3, so the local density
    /// and the ridge regression must find them; the files have no inherent positions (noted).
    func testBaselinesFindTheCoordinationLawAndPrintTheJSONShape() throws {
        let train = try SyntheticSnapshots.write(path: path("train.h5"), count: 3, seed: 1, times: [0.5, 12], particles: 300)
        let test = try SyntheticSnapshots.write(path: path("test.h5"), count: 2, seed: 2, times: [0.5, 12], particles: 300)
        let r = try launcher(["baselines", "--train", train, "--test", test, "--json"])
        XCTAssertEqual(r.status, 0, r.standardError)
        let object = try json(r.standardOutput)
        XCTAssertEqual(object["times"] as? [Double], [0.5, 12])
        XCTAssertEqual(object["snapshots"] as? Int, 2)
        XCTAssertEqual(object["descriptors"] as? Int, 106)
        XCTAssertEqual(object["positions"] as? String, "thermal")
        XCTAssertTrue(r.standardError.contains("positions_inherent missing"), r.standardError)
        let a = (object["species"] as! [String: Any])["A"] as! [String: Any]
        for key in ["epot_inherent", "local_density", "ridge", "ridge_mean"] {
            XCTAssertEqual((a[key] as? [Any])?.count, 2, key)
        }
        // Coordination within 1.3 against counts within 1.25 or 1.5 of jittered positions.
        let density = a["local_density"] as! [Double], ridge = a["ridge"] as! [Double]
        XCTAssertGreaterThan(density[1], 0.5)
        XCTAssertGreaterThan(ridge[1], 0.8)
        // The energy here is noise, unrelated to the targets.
        XCTAssertLessThan(abs((a["epot_inherent"] as! [Double])[1]), 0.2)
        // No inherent positions: no |r − r_IS| baselines, null entries of the same shape.
        for key in ["displacement_inherent", "ridge_displacement"] {
            let column = try XCTUnwrap(a[key] as? [Any], key)
            XCTAssertEqual(column.count, 2, key)
            XCTAssertTrue(column.allSatisfy { $0 is NSNull }, key)
        }
    }

    /// With inherent positions (thermal + uniform noise of ±0.005 here), |r − r_IS| is scored
    /// alone and added to the ridge: noise, so alone ρ ≈ 0 and the ridge keeps finding the
    /// coordination law.
    func testBaselinesAddTheDistanceFromTheInherentStructure() throws {
        let train = try SyntheticSnapshots.write(path: path("train.h5"), count: 3, seed: 1, times: [0.5, 12], particles: 300,
                                                 inherent: true)
        let test = try SyntheticSnapshots.write(path: path("test.h5"), count: 2, seed: 2, times: [0.5, 12], particles: 300,
                                                inherent: true)
        let r = try launcher(["baselines", "--train", train, "--test", test, "--json"])
        XCTAssertEqual(r.status, 0, r.standardError)
        let object = try json(r.standardOutput)
        XCTAssertEqual(object["positions"] as? String, "inherent")
        XCTAssertEqual(object["descriptors"] as? Int, 106)
        let a = (object["species"] as! [String: Any])["A"] as! [String: Any]
        let alone = try XCTUnwrap(a["displacement_inherent"] as? [Double])
        let ridge = try XCTUnwrap(a["ridge"] as? [Double]), both = try XCTUnwrap(a["ridge_displacement"] as? [Double])
        XCTAssertLessThan(abs(alone[1]), 0.2)
        XCTAssertGreaterThan(ridge[1], 0.8)
        XCTAssertEqual(both[1], ridge[1], accuracy: 0.02)
    }

    func testBaselinesNameTheFileWithoutPropensityOrWithTooSmallABox() throws {
        let small = try SyntheticSnapshots.write(path: path("small.h5"), count: 2, seed: 1, times: [0.5], particles: 80)
        let r = try launcher(["baselines", "--train", small, "--test", small])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.standardError.contains(small) && r.standardError.contains("shorter than 2 r_c"), r.standardError)
        let missing = try launcher(["baselines", "--train", path("none.h5"), "--test", small])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.standardError.contains(path("none.h5")), missing.standardError)
    }

    // MARK: embed and probe

    /// The embedding file: its shapes and copies of the input, layer 0 a function of the species
    /// alone (the embedding sees only the one-hot species here), and every invariant unchanged
    /// when the snapshots are rotated by a cube symmetry.
    func testEmbedWritesInvariantLayersThatIgnoreCubeRotations() throws {
        let (run, _, test) = try trainTinyModel()
        let out = path("embedding.h5")
        let r = try launcher(["embed", "--checkpoint", run, "--data", test, "--out", out])
        XCTAssertEqual(r.status, 0, r.standardError)

        // The same snapshots rotated by (x, y, z) → (L − y, x, z), a quarter turn about z.
        let source = try SnapshotFile(path: test)
        var rotated: [Snapshot] = []
        for k in 0..<source.snapshotCount {
            var s = try source.readSnapshot(k)
            let l = s.box[0]
            for i in 0..<s.particleCount {
                (s.positions[3 * i], s.positions[3 * i + 1]) = (l - s.positions[3 * i + 1], s.positions[3 * i])
            }
            rotated.append(s)
        }
        let rotatedPath = path("rotated.h5")
        try SnapshotFileWriter.write(path: rotatedPath, attributes: source.attributes, times: source.times, snapshots: rotated)
        let outRotated = path("embedding-rotated.h5")
        let r2 = try launcher(["embed", "--checkpoint", run, "--data", rotatedPath, "--out", outRotated])
        XCTAssertEqual(r2.status, 0, r2.standardError)

        let file = try HDF5File(path: out), other = try HDF5File(path: outRotated)
        let n = source.particleCount
        XCTAssertEqual(try file.root.dataset("snapshot_offsets").read(as: Int64.self), source.offsets.map(Int64.init))
        let species = try file.root.dataset("species").read(as: Int32.self)
        XCTAssertEqual(species.count, n)
        XCTAssertEqual(try file.root.dataset("times").read(as: Double.self), [0.5, 12])
        XCTAssertEqual(try file.root.readInt64Attribute("channels"), 2)
        for k in 0...2 {
            let layer = try file.root.dataset("embedding/layer_\(k)")
            XCTAssertEqual(layer.shape, [n, 2])
            let a = try layer.read(as: Float.self)
            let b = try other.root.dataset("embedding/layer_\(k)").read(as: Float.self)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x))) }
            if k == 0 {
                XCTAssertFalse(file.root.contains("embedding/norms_0"))
                // One row per species: every A particle has the same embedding, B another one.
                let firstA = species.firstIndex(of: 0)!, firstB = species.firstIndex(of: 1)!
                for i in 0..<n {
                    let ref = species[i] == 0 ? firstA : firstB
                    XCTAssertEqual(Array(a[(2 * i)..<(2 * i + 2)]), Array(a[(2 * ref)..<(2 * ref + 2)]))
                }
                XCTAssertNotEqual(Array(a[(2 * firstA)..<(2 * firstA + 2)]), Array(a[(2 * firstB)..<(2 * firstB + 2)]))
            } else {
                let norms = try file.root.dataset("embedding/norms_\(k)")
                XCTAssertEqual(norms.shape, [n, 6])
                let c = try norms.read(as: Float.self), d = try other.root.dataset("embedding/norms_\(k)").read(as: Float.self)
                XCTAssertGreaterThan(c.max()!, 0)
                for (x, y) in zip(c, d) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x))) }
            }
        }
    }

    func testProbePrintsAndWritesThePerLayerJSON() throws {
        let (run, train, test) = try trainTinyModel()
        let out = path("probe.json")
        let r = try launcher(["probe", "--checkpoint", run, "--train", train, "--test", test, "--json", "--out", out])
        XCTAssertEqual(r.status, 0, r.standardError)
        let object = try json(r.standardOutput)
        XCTAssertEqual(Set(object.keys), ["times", "species", "layers", "pearson"])
        XCTAssertEqual(object["times"] as? [Double], [0.5, 12])
        XCTAssertEqual(object["species"] as? String, "A")
        XCTAssertEqual(object["layers"] as? [Int], [0, 1, 2])
        let pearson = object["pearson"] as! [[Any]]
        XCTAssertEqual(pearson.count, 3)
        XCTAssertTrue(pearson.allSatisfy { $0.count == 2 })
        // Layer 0 depends on the species only: within species A it is constant, ρ undefined (null).
        XCTAssertTrue(pearson[0].allSatisfy { $0 is NSNull }, "\(pearson[0])")
        // Layer 2 sees the neighborhood: a defined ρ.
        XCTAssertTrue(pearson[2].allSatisfy { ($0 as? Double).map { abs($0) <= 1 } ?? false }, "\(pearson[2])")
        let written = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertEqual(try json(written) as NSDictionary, object as NSDictionary)
    }
}
