import Foundation

/// The checks `SnapshotFile` runs on opening (docs/data-format.md), one part of the layout at a
/// time: the root attributes, the offsets, the boxes, the per-particle datasets' shapes and
/// types, the time grid, the propensity, the scalars. Every error names the file, the dataset or
/// attribute, and the problem.
struct SnapshotFileLayout {
    let root: HDF5Group
    let path: String

    func problem(_ dataset: String, _ text: String) -> SnapshotFormatError {
        SnapshotFormatError(file: path, dataset: dataset, problem: text)
    }

    // MARK: attributes

    func string(_ name: String, required: Bool, default value: String = "") throws -> String {
        guard root.hasAttribute(name) else {
            if required { throw problem("@" + name, "missing") }
            return value
        }
        do { return try root.readStringAttribute(name) } catch {
            throw problem("@" + name, "must be a string (\(error))")
        }
    }

    func number(_ name: String) throws -> Double {
        guard root.hasAttribute(name) else { throw problem("@" + name, "missing") }
        do { return try root.readDoubleAttribute(name) } catch {
            throw problem("@" + name, "must be a number (\(error))")
        }
    }

    /// The root attributes, after the format name and version.
    func attributes() throws -> SnapshotAttributes {
        guard root.hasAttribute("format") else {
            throw problem("@format", "missing: not an EquiGlass snapshot file (expected \"\(SnapshotFormat.name)\")")
        }
        let format = try string("format", required: true)
        guard format == SnapshotFormat.name else {
            throw problem("@format", "is \"\(format)\", expected \"\(SnapshotFormat.name)\"")
        }
        guard root.hasAttribute("format_version") else { throw problem("@format_version", "missing") }
        let version = try number("format_version")
        guard version == Double(SnapshotFormat.version) else {
            throw problem("@format_version", "is \(version), this reader supports version \(SnapshotFormat.version)")
        }
        let speciesNames = try string("species_names", required: true)
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !speciesNames.isEmpty, speciesNames.allSatisfy({ !$0.isEmpty }) else {
            throw problem("@species_names", "must list at least one species, comma-separated")
        }
        let density = try number("density")
        var runs: Int64 = 0
        if root.hasAttribute("propensity_runs") {
            do { runs = try root.readInt64Attribute("propensity_runs") } catch {
                throw problem("@propensity_runs", "must be an integer (\(error))")
            }
        }
        return SnapshotAttributes(
            temperature: try number("temperature"), density: density, speciesNames: speciesNames,
            timeUnit: try string("time_unit", required: false),
            propensityDefinition: try string("propensity_definition", required: false),
            propensityRuns: Int(runs),
            source: try string("source", required: false),
            provenance: try string("provenance", required: false, default: "{}"))
    }

    // MARK: datasets

    func dataset(_ name: String, rank: Int, integer: Bool = false) throws -> HDF5Dataset {
        guard root.contains(name) else { throw problem(name, "missing") }
        let data: HDF5Dataset
        do { data = try root.dataset(name) } catch { throw problem(name, "cannot be opened (\(error))") }
        guard data.shape.count == rank else {
            throw problem(name, "has shape \(data.shape), expected \(rank) dimension\(rank == 1 ? "" : "s")")
        }
        if integer {
            guard data.valueClass == .integer else { throw problem(name, "must hold integers") }
        } else {
            guard data.valueClass == .integer || data.valueClass == .float else {
                throw problem(name, "must hold numbers")
            }
        }
        return data
    }

    func read<T: HDF5Element>(_ data: HDF5Dataset, _ name: String, as type: T.Type) throws -> [T] {
        do { return try data.read(as: type) } catch { throw problem(name, "cannot be read (\(error))") }
    }

    func checkShape(_ data: HDF5Dataset, _ name: String, _ expected: [Int], _ meaning: String) throws {
        guard data.shape == expected else {
            throw problem(name, "has shape \(data.shape), expected \(expected) (\(meaning))")
        }
    }

    /// snapshot_offsets: S+1 ≥ 2 values from 0, strictly increasing.
    func offsets() throws -> [Int] {
        let offsetData = try dataset("snapshot_offsets", rank: 1, integer: true)
        guard offsetData.shape[0] >= 2 else {
            throw problem("snapshot_offsets", "has \(offsetData.shape[0]) values; a file needs at least one snapshot (S+1 >= 2 values)")
        }
        let offsets = try read(offsetData, "snapshot_offsets", as: Int64.self).map { Int($0) }
        guard offsets[0] == 0 else { throw problem("snapshot_offsets", "must start at 0, starts at \(offsets[0])") }
        for k in 1..<offsets.count where offsets[k] <= offsets[k - 1] {
            throw problem("snapshot_offsets", "must be strictly increasing: offsets[\(k - 1)] = \(offsets[k - 1]), offsets[\(k)] = \(offsets[k])")
        }
        return offsets
    }

    /// box: one row of 3 finite, positive edges per snapshot.
    func boxes(snapshotCount: Int) throws -> [Double] {
        let boxData = try dataset("box", rank: 2)
        try checkShape(boxData, "box", [snapshotCount, 3],
                       "one row per snapshot: snapshot_offsets has \(snapshotCount + 1) values, so \(snapshotCount) snapshots")
        let boxes = try read(boxData, "box", as: Double.self)
        for (index, edge) in boxes.enumerated() where !(edge.isFinite && edge > 0) {
            throw problem("box", "snapshot \(index / 3) has edge \(["Lx", "Ly", "Lz"][index % 3]) = \(edge); box edges must be finite and positive")
        }
        return boxes
    }

    /// A per-particle dataset of `total` rows (and `columns` columns when rank 2).
    func particleDataset(_ name: String, rank: Int, total: Int, columns: Int = 0, integer: Bool = false) throws -> HDF5Dataset {
        let data = try dataset(name, rank: rank, integer: integer)
        try checkShape(data, name, rank == 1 ? [total] : [total, columns], "snapshot_offsets ends at \(total) particles")
        return data
    }

    /// times: finite, > 0, strictly increasing; empty when absent.
    func times() throws -> [Double] {
        guard root.contains("times") else { return [] }
        let times = try read(try dataset("times", rank: 1), "times", as: Double.self)
        for (t, time) in times.enumerated() {
            guard time.isFinite, time > 0 else { throw problem("times", "times[\(t)] = \(time); times must be finite and > 0") }
            if t > 0, time <= times[t - 1] {
                throw problem("times", "must be strictly increasing: times[\(t - 1)] = \(times[t - 1]), times[\(t)] = \(time)")
            }
        }
        return times
    }

    /// propensity: `total` rows, one column per time; nil when absent.
    func propensity(total: Int, times: [Double]) throws -> HDF5Dataset? {
        guard root.contains("propensity") else { return nil }
        guard !times.isEmpty else { throw problem("times", "missing, but propensity is present (its columns are the times)") }
        let data = try dataset("propensity", rank: 2)
        guard data.shape[0] == total else {
            throw problem("propensity", "has \(data.shape[0]) rows, expected \(total) (snapshot_offsets ends at \(total) particles)")
        }
        guard data.shape[1] == times.count else {
            throw problem("propensity", "targets of the wrong length: \(data.shape[1]) columns, but times has \(times.count) values")
        }
        return data
    }

    /// scalars/<name>: one value per particle each.
    func scalars(total: Int) throws -> [String: HDF5Dataset] {
        guard root.contains("scalars") else { return [:] }
        guard root.containsGroup("scalars") else { throw problem("scalars", "must be a group of per-particle datasets") }
        let names: [String]
        do { names = try root.group("scalars").childNames() } catch { throw problem("scalars", "cannot be listed (\(error))") }
        var out: [String: HDF5Dataset] = [:]
        for name in names { out[name] = try particleDataset("scalars/" + name, rank: 1, total: total) }
        return out
    }
}
