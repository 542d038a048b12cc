import Foundation

/// A snapshot file opened for reading (format in docs/data-format.md), validated on open.
///
/// Opening reads only the small arrays (offsets, box, times) and checks the layout: attributes,
/// dataset shapes and types, counts, offsets, box, times. By default it then reads every
/// snapshot once to check the values (finite numbers, species in range); a rank that will read
/// only its own snapshots can pass `checkAllValues: false`, and `readSnapshot` still checks the
/// values of each snapshot it returns.
public final class SnapshotFile {
    /// Path of the file, used in every error.
    public let path: String
    /// Root attributes.
    public let attributes: SnapshotAttributes
    /// snapshot_offsets: S+1 values, snapshot k is particles offsets[k] ..< offsets[k+1].
    public let offsets: [Int]
    /// box: S × 3 edge lengths, row-major.
    public let boxes: [Double]
    /// The time grid of the propensity columns (empty if the file has no times).
    public let times: [Double]
    /// Names of the per-particle scalars under scalars/, sorted.
    public let scalarNames: [String]

    private let file: HDF5File
    private let positionsData: HDF5Dataset
    private let inherentData: HDF5Dataset?
    private let speciesData: HDF5Dataset
    private let propensityData: HDF5Dataset?
    private let scalarData: [String: HDF5Dataset]

    /// Number of snapshots S.
    public var snapshotCount: Int { offsets.count - 1 }
    /// Total number of particles over all snapshots.
    public var particleCount: Int { offsets[offsets.count - 1] }
    /// Number of propensity times T.
    public var timeCount: Int { times.count }
    /// Whether positions_inherent is present.
    public var hasInherentPositions: Bool { inherentData != nil }
    /// Whether propensity targets are present.
    public var hasPropensity: Bool { propensityData != nil }

    /// Particles in snapshot `k`.
    public func particleCount(ofSnapshot k: Int) -> Int { offsets[k + 1] - offsets[k] }
    /// Box edge lengths of snapshot `k` (3 values).
    public func box(ofSnapshot k: Int) -> [Double] { Array(boxes[3 * k ..< 3 * k + 3]) }

    private func problem(_ dataset: String, _ text: String) -> SnapshotFormatError {
        SnapshotFormatError(file: path, dataset: dataset, problem: text)
    }

    /// Opens and validates `path`. Throws `HDF5Error` if the file cannot be read as HDF5 and
    /// `SnapshotFormatError` if it breaks the format.
    public init(path: String, checkAllValues: Bool = true) throws {
        self.path = path
        let file = try HDF5File(path: path, mode: .readOnly)
        self.file = file
        let root = file.root
        func problem(_ dataset: String, _ text: String) -> SnapshotFormatError {
            SnapshotFormatError(file: path, dataset: dataset, problem: text)
        }

        // Attributes.
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
        attributes = SnapshotAttributes(
            temperature: try number("temperature"), density: density, speciesNames: speciesNames,
            timeUnit: try string("time_unit", required: false),
            propensityDefinition: try string("propensity_definition", required: false),
            propensityRuns: Int(runs),
            source: try string("source", required: false),
            provenance: try string("provenance", required: false, default: "{}"))

        // Datasets and shapes.
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

        let offsetData = try dataset("snapshot_offsets", rank: 1, integer: true)
        guard offsetData.shape[0] >= 2 else {
            throw problem("snapshot_offsets", "has \(offsetData.shape[0]) values; a file needs at least one snapshot (S+1 >= 2 values)")
        }
        let offsets = try read(offsetData, "snapshot_offsets", as: Int64.self).map { Int($0) }
        guard offsets[0] == 0 else { throw problem("snapshot_offsets", "must start at 0, starts at \(offsets[0])") }
        for k in 1..<offsets.count where offsets[k] <= offsets[k - 1] {
            throw problem("snapshot_offsets", "must be strictly increasing: offsets[\(k - 1)] = \(offsets[k - 1]), offsets[\(k)] = \(offsets[k])")
        }
        self.offsets = offsets
        let snapshotCount = offsets.count - 1
        let total = offsets[snapshotCount]

        func checkShape(_ data: HDF5Dataset, _ name: String, _ expected: [Int], _ meaning: String) throws {
            guard data.shape == expected else {
                throw problem(name, "has shape \(data.shape), expected \(expected) (\(meaning))")
            }
        }

        let boxData = try dataset("box", rank: 2)
        try checkShape(boxData, "box", [snapshotCount, 3],
                       "one row per snapshot: snapshot_offsets has \(offsets.count) values, so \(snapshotCount) snapshots")
        let boxes = try read(boxData, "box", as: Double.self)
        for (index, edge) in boxes.enumerated() where !(edge.isFinite && edge > 0) {
            throw problem("box", "snapshot \(index / 3) has edge \(["Lx", "Ly", "Lz"][index % 3]) = \(edge); box edges must be finite and positive")
        }
        self.boxes = boxes

        let particleMeaning = "snapshot_offsets ends at \(total) particles"
        positionsData = try dataset("positions", rank: 2)
        try checkShape(positionsData, "positions", [total, 3], particleMeaning)
        if root.contains("positions_inherent") {
            let data = try dataset("positions_inherent", rank: 2)
            try checkShape(data, "positions_inherent", [total, 3], particleMeaning)
            inherentData = data
        } else {
            inherentData = nil
        }
        speciesData = try dataset("species", rank: 1, integer: true)
        try checkShape(speciesData, "species", [total], particleMeaning)

        if root.contains("times") {
            let timeData = try dataset("times", rank: 1)
            let times = try read(timeData, "times", as: Double.self)
            for (t, time) in times.enumerated() {
                guard time.isFinite, time > 0 else { throw problem("times", "times[\(t)] = \(time); times must be finite and > 0") }
                if t > 0, time <= times[t - 1] {
                    throw problem("times", "must be strictly increasing: times[\(t - 1)] = \(times[t - 1]), times[\(t)] = \(time)")
                }
            }
            self.times = times
        } else {
            self.times = []
        }
        if root.contains("propensity") {
            guard !times.isEmpty else { throw problem("times", "missing, but propensity is present (its columns are the times)") }
            let data = try dataset("propensity", rank: 2)
            guard data.shape[0] == total else {
                throw problem("propensity", "has \(data.shape[0]) rows, expected \(total) (\(particleMeaning))")
            }
            guard data.shape[1] == times.count else {
                throw problem("propensity", "targets of the wrong length: \(data.shape[1]) columns, but times has \(times.count) values")
            }
            propensityData = data
        } else {
            propensityData = nil
        }

        var scalarData: [String: HDF5Dataset] = [:]
        if root.contains("scalars") {
            guard root.containsGroup("scalars") else { throw problem("scalars", "must be a group of per-particle datasets") }
            let names: [String]
            do { names = try root.group("scalars").childNames() } catch { throw problem("scalars", "cannot be listed (\(error))") }
            for name in names {
                let data = try dataset("scalars/" + name, rank: 1)
                try checkShape(data, "scalars/" + name, [total], particleMeaning)
                scalarData[name] = data
            }
        }
        self.scalarData = scalarData
        scalarNames = scalarData.keys.sorted()

        if checkAllValues { try self.checkAllValues() }
    }

    /// Reads every snapshot once, checking its values (see `readSnapshot`).
    public func checkAllValues() throws {
        for k in 0..<snapshotCount { _ = try readSnapshot(k) }
    }

    private func readRows<T: HDF5Element>(_ data: HDF5Dataset, _ name: String, _ rows: Range<Int>, as type: T.Type) throws -> [T] {
        do { return try data.readRows(rows, as: type) } catch {
            throw problem(name, "cannot be read (\(error))")
        }
    }

    private func checkFinite<T: BinaryFloatingPoint>(_ values: [T], _ name: String, snapshot k: Int, width: Int) throws {
        for (index, value) in values.enumerated() where !value.isFinite {
            let local = index / width
            throw problem(name, "non-finite value \(value) at particle \(offsets[k] + local) (snapshot \(k), particle \(local) of it), column \(index % width)")
        }
    }

    /// Checks positions `[n × 3]` of snapshot `k`: finite, within `PositionBounds.boxLengths`
    /// box lengths of the box, and no two particles closer than `PositionBounds.coincidence`.
    private func checkPlacement(_ positions: [Double], _ name: String, snapshot k: Int) throws {
        try checkFinite(positions, name, snapshot: k, width: 3)
        if let violation = PositionBounds.violation(positions, box: box(ofSnapshot: k)) {
            throw problem(name, violation.message(offset: offsets[k], snapshot: k))
        }
    }

    /// Reads snapshot `k` (hyperslabs of rows offsets[k] ..< offsets[k+1]) and checks its
    /// values: finite positions, scalars and targets; species in 0 ..< speciesNames.count.
    public func readSnapshot(_ k: Int) throws -> Snapshot {
        guard k >= 0, k < snapshotCount else {
            throw problem("snapshot_offsets", "snapshot \(k) requested, the file has \(snapshotCount)")
        }
        let rows = offsets[k] ..< offsets[k + 1]
        let positions = try readRows(positionsData, "positions", rows, as: Double.self)
        try checkPlacement(positions, "positions", snapshot: k)
        var inherent: [Double]? = nil
        if let inherentData {
            inherent = try readRows(inherentData, "positions_inherent", rows, as: Double.self)
            try checkPlacement(inherent!, "positions_inherent", snapshot: k)
        }
        let species = try readRows(speciesData, "species", rows, as: Int32.self)
        let speciesCount = attributes.speciesNames.count
        for (local, s) in species.enumerated() where s < 0 || Int(s) >= speciesCount {
            throw problem("species", "value \(s) at particle \(offsets[k] + local) (snapshot \(k)) is out of range 0..<\(speciesCount) (species_names \"\(attributes.speciesNames.joined(separator: ","))\")")
        }
        var scalars: [String: [Double]] = [:]
        for name in scalarNames {
            let values = try readRows(scalarData[name]!, "scalars/" + name, rows, as: Double.self)
            try checkFinite(values, "scalars/" + name, snapshot: k, width: 1)
            scalars[name] = values
        }
        var propensity: [Float]? = nil
        if let propensityData {
            propensity = try readRows(propensityData, "propensity", rows, as: Float.self)
            try checkFinite(propensity!, "propensity", snapshot: k, width: max(1, timeCount))
        }
        return Snapshot(box: box(ofSnapshot: k), positions: positions, inherentPositions: inherent,
                        species: species, scalars: scalars, propensity: propensity)
    }
}

