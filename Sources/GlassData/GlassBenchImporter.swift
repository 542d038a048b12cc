import Foundation

/// Converts a folder of GlassBench `.npz` files (the Roadmap benchmark, Zenodo 10118191; one
/// file per configuration) into one snapshot file.
///
/// Keys read per file: `types` [N] (1 = A, 2 = B), `initial_positions` [N, 3],
/// `initial_positions_inherent` [N, 3] (optional), `md_prop` [T, N] (transposed to [N, T]),
/// `EPOT` [N] (optional, stored as scalars/epot). The files carry neither the box nor the time
/// grid, so they are given here.
public enum GlassBenchImporter {
    /// How the box edge is obtained: given directly, or from the number density (L = (N/ρ)^(1/3)).
    public enum BoxSpecification: Sendable {
        case edge(Double)
        case density(Double)
    }

    /// The `.npz` files of `directory`, sorted by name.
    public static func npzFiles(in directory: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw NpyError(source: directory, problem: "cannot list directory: \(error.localizedDescription)")
        }
        let files = names.filter { $0.hasSuffix(".npz") }.sorted().map { (directory as NSString).appendingPathComponent($0) }
        guard !files.isEmpty else { throw NpyError(source: directory, problem: "no .npz files") }
        return files
    }

    /// Reads one GlassBench `.npz` into a snapshot.
    public static func readSnapshot(path: String, box: BoxSpecification, timeCount: Int) throws -> Snapshot {
        let archive = try NpzArchive(path: path)
        func fail(_ key: String, _ problem: String) -> NpyError { NpyError(source: "\(path), key '\(key)'", problem: problem) }

        let typesArray = try archive.array("types")
        guard typesArray.shape.count == 1, let types = typesArray.integers else {
            throw fail("types", "expected a 1-d integer array, got shape \(typesArray.shape) dtype \(typesArray.descr)")
        }
        let n = types.count
        guard n > 0 else { throw fail("types", "no particles") }
        var species = [Int32](repeating: 0, count: n)
        for (i, type) in types.enumerated() {
            guard type == 1 || type == 2 else { throw fail("types", "particle \(i) has type \(type); expected 1 (A) or 2 (B)") }
            species[i] = Int32(type - 1)
        }

        func positions(_ key: String) throws -> [Double] {
            let array = try archive.array(key)
            guard array.shape == [n, 3] else { throw fail(key, "has shape \(array.shape), expected [\(n), 3] (types has \(n) particles)") }
            let values = array.doubles
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw fail(key, "non-finite value at particle \(bad / 3)")
            }
            return values
        }
        let thermal = try positions("initial_positions")
        let inherent = archive.contains("initial_positions_inherent") ? try positions("initial_positions_inherent") : nil

        let propArray = try archive.array("md_prop")
        guard propArray.shape.count == 2, propArray.shape[1] == n else {
            throw fail("md_prop", "has shape \(propArray.shape), expected [times, \(n)]")
        }
        guard propArray.shape[0] == timeCount else {
            throw fail("md_prop", "targets of the wrong length: \(propArray.shape[0]) times in the file, \(timeCount) given with --times")
        }
        let prop = propArray.doubles
        var propensity = [Float](repeating: 0, count: n * timeCount)
        for t in 0..<timeCount {
            for i in 0..<n {
                let value = prop[t * n + i]
                guard value.isFinite else { throw fail("md_prop", "non-finite value at time \(t), particle \(i)") }
                propensity[i * timeCount + t] = Float(value)
            }
        }

        var scalars: [String: [Double]] = [:]
        if archive.contains("EPOT") {
            let epot = try archive.array("EPOT")
            guard epot.count == n, epot.shape.count == 1 || epot.shape == [n, 1] else {
                throw fail("EPOT", "has shape \(epot.shape), expected [\(n)]")
            }
            let values = epot.doubles
            guard values.allSatisfy({ $0.isFinite }) else { throw fail("EPOT", "non-finite values") }
            scalars["epot"] = values
        }

        let edge: Double
        switch box {
        case .edge(let length): edge = length
        case .density(let density): edge = cbrt(Double(n) / density)
        }
        return Snapshot(box: [edge, edge, edge], positions: thermal, inherentPositions: inherent,
                        species: species, scalars: scalars, propensity: propensity)
    }

    /// Imports every `.npz` of `directory` (sorted by name) into `output`.
    /// `temperature` nil writes NaN ("unknown"). Returns the number of snapshots written.
    @discardableResult
    public static func importFolder(directory: String, output: String, box: BoxSpecification,
                                    times: [Double], temperature: Double?, commandLine: String) throws -> Int {
        let files = try npzFiles(in: directory)
        var snapshots: [Snapshot] = []
        for file in files {
            snapshots.append(try readSnapshot(path: file, box: box, timeCount: times.count))
        }
        let hasInherent = snapshots[0].inherentPositions != nil
        let hasEpot = snapshots[0].scalars["epot"] != nil
        for (k, snapshot) in snapshots.enumerated() {
            if (snapshot.inherentPositions != nil) != hasInherent {
                throw NpyError(source: files[k], problem: "initial_positions_inherent present in some files only (compare \(files[0]))")
            }
            if (snapshot.scalars["epot"] != nil) != hasEpot {
                throw NpyError(source: files[k], problem: "EPOT present in some files only (compare \(files[0]))")
            }
        }
        let volumes = snapshots.map { $0.box[0] * $0.box[1] * $0.box[2] }
        let density = zip(snapshots, volumes).map { Double($0.particleCount) / $1 }.reduce(0, +) / Double(snapshots.count)
        let provenance: [String: Any] = [
            "command": commandLine,
            "importer": "launcher import glassbench",
            "source_directory": directory,
            "files": files.map { ($0 as NSString).lastPathComponent },
            "box": { switch box { case .edge(let l): return "edge \(l)"; case .density(let d): return "from density \(d)" } }(),
            "date": ISO8601DateFormatter().string(from: Date()),
            "host": ProcessInfo.processInfo.hostName,
        ]
        let json = (try? JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let attributes = SnapshotAttributes(
            temperature: temperature ?? .nan, density: density, speciesNames: ["A", "B"],
            timeUnit: "tau_LJ",
            propensityDefinition: "GlassBench md_prop (Jung et al., Roadmap on machine learning glassy dynamics; Zenodo 10118191): iso-configurational mean particle displacement",
            propensityRuns: 0, source: "glassbench", provenance: json)
        try SnapshotFileWriter.write(path: output, attributes: attributes, times: times, snapshots: snapshots)
        return snapshots.count
    }
}
