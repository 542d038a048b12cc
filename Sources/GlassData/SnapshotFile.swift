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
        let layout = SnapshotFileLayout(root: file.root, path: path)
        attributes = try layout.attributes()
        offsets = try layout.offsets()
        let total = offsets[offsets.count - 1]
        boxes = try layout.boxes(snapshotCount: offsets.count - 1)
        positionsData = try layout.particleDataset("positions", rank: 2, total: total, columns: 3)
        inherentData = layout.root.contains("positions_inherent")
            ? try layout.particleDataset("positions_inherent", rank: 2, total: total, columns: 3) : nil
        speciesData = try layout.particleDataset("species", rank: 1, total: total, integer: true)
        times = try layout.times()
        propensityData = try layout.propensity(total: total, times: times)
        scalarData = try layout.scalars(total: total)
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

