/// Writes snapshot files (format version 1, docs/data-format.md).
///
/// Snapshots are checked before anything is written, with the same rules the reader applies,
/// so a file this writes always opens. Per-particle datasets are gzip-compressed in chunks.
public enum SnapshotFileWriter {
    /// Writes `snapshots` to `path` (truncating it). `times` is the propensity time grid; it is
    /// required (non-empty) when the snapshots carry propensity. All snapshots must agree on
    /// which optional arrays (inherent positions, scalar names, propensity) they have.
    public static func write(path: String, attributes: SnapshotAttributes, times: [Double],
                             snapshots: [Snapshot]) throws {
        func problem(_ dataset: String, _ text: String) -> SnapshotFormatError {
            SnapshotFormatError(file: path, dataset: dataset, problem: text)
        }
        guard let first = snapshots.first else { throw problem("snapshot_offsets", "no snapshots to write") }
        let hasInherent = first.inherentPositions != nil
        let hasPropensity = first.propensity != nil
        let scalarNames = first.scalars.keys.sorted()
        let speciesCount = attributes.speciesNames.count
        guard speciesCount > 0, attributes.speciesNames.allSatisfy({ !$0.isEmpty && !$0.contains(",") }) else {
            throw problem("@species_names", "needs at least one non-empty name without commas")
        }
        if hasPropensity, times.isEmpty { throw problem("times", "empty, but the snapshots carry propensity") }
        for (t, time) in times.enumerated() where !(time.isFinite && time > 0) || (t > 0 && time <= times[t - 1]) {
            throw problem("times", "must be finite, > 0 and strictly increasing; times[\(t)] = \(time)")
        }

        var offsets: [Int64] = [0]
        for (k, snapshot) in snapshots.enumerated() {
            let n = snapshot.particleCount
            guard n > 0 else { throw problem("species", "snapshot \(k) has no particles") }
            guard snapshot.box.count == 3, snapshot.box.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw problem("box", "snapshot \(k) has box \(snapshot.box); need 3 finite positive edges")
            }
            guard snapshot.positions.count == 3 * n else {
                throw problem("positions", "snapshot \(k) has \(snapshot.positions.count) values for \(n) particles")
            }
            guard snapshot.positions.allSatisfy({ $0.isFinite }) else { throw problem("positions", "snapshot \(k) has non-finite values") }
            if let violation = PositionBounds.violation(snapshot.positions, box: snapshot.box) {
                throw problem("positions", violation.message(offset: Int(offsets[k]), snapshot: k))
            }
            guard (snapshot.inherentPositions != nil) == hasInherent else {
                throw problem("positions_inherent", "snapshot \(k) differs from snapshot 0 in having inherent positions")
            }
            if let inherent = snapshot.inherentPositions {
                guard inherent.count == 3 * n, inherent.allSatisfy({ $0.isFinite }) else {
                    throw problem("positions_inherent", "snapshot \(k): need \(3 * n) finite values, got \(inherent.count)")
                }
                if let violation = PositionBounds.violation(inherent, box: snapshot.box) {
                    throw problem("positions_inherent", violation.message(offset: Int(offsets[k]), snapshot: k))
                }
            }
            if let bad = snapshot.species.first(where: { $0 < 0 || Int($0) >= speciesCount }) {
                throw problem("species", "snapshot \(k) has species \(bad), out of range 0..<\(speciesCount)")
            }
            guard snapshot.scalars.keys.sorted() == scalarNames else {
                throw problem("scalars", "snapshot \(k) has scalars \(snapshot.scalars.keys.sorted()), snapshot 0 has \(scalarNames)")
            }
            for name in scalarNames {
                let values = snapshot.scalars[name]!
                guard values.count == n, values.allSatisfy({ $0.isFinite }) else {
                    throw problem("scalars/" + name, "snapshot \(k): need \(n) finite values, got \(values.count)")
                }
            }
            guard (snapshot.propensity != nil) == hasPropensity else {
                throw problem("propensity", "snapshot \(k) differs from snapshot 0 in having propensity")
            }
            if let propensity = snapshot.propensity {
                guard propensity.count == n * times.count else {
                    throw problem("propensity", "targets of the wrong length: snapshot \(k) has \(propensity.count) values, expected \(n) particles × \(times.count) times")
                }
                guard propensity.allSatisfy({ $0.isFinite }) else { throw problem("propensity", "snapshot \(k) has non-finite values") }
            }
            offsets.append(offsets[k] + Int64(n))
        }
        let total = Int(offsets[snapshots.count])

        let file = try HDF5File.create(path: path)
        let root = file.root
        try root.writeAttribute("format", SnapshotFormat.name)
        try root.writeAttribute("format_version", SnapshotFormat.version)
        try root.writeAttribute("temperature", attributes.temperature)
        try root.writeAttribute("density", attributes.density)
        try root.writeAttribute("species_names", attributes.speciesNames.joined(separator: ","))
        try root.writeAttribute("time_unit", attributes.timeUnit)
        try root.writeAttribute("propensity_definition", attributes.propensityDefinition)
        try root.writeAttribute("propensity_runs", Int64(attributes.propensityRuns))
        try root.writeAttribute("source", attributes.source)
        try root.writeAttribute("provenance", attributes.provenance)

        let chunk = 4096
        try root.write("snapshot_offsets", values: offsets, shape: [snapshots.count + 1])
        try root.write("box", values: snapshots.flatMap { $0.box }, shape: [snapshots.count, 3])
        try root.write("positions", values: snapshots.flatMap { $0.positions }, shape: [total, 3], chunkRows: chunk)
        if hasInherent {
            try root.write("positions_inherent", values: snapshots.flatMap { $0.inherentPositions! },
                           shape: [total, 3], chunkRows: chunk)
        }
        try root.write("species", values: snapshots.flatMap { $0.species }, shape: [total], chunkRows: chunk)
        if !times.isEmpty { try root.write("times", values: times, shape: [times.count]) }
        if hasPropensity {
            try root.write("propensity", values: snapshots.flatMap { $0.propensity! },
                           shape: [total, times.count], chunkRows: chunk)
        }
        if !scalarNames.isEmpty {
            let group = try root.createGroup("scalars")
            for name in scalarNames {
                try group.write(name, values: snapshots.flatMap { $0.scalars[name]! }, shape: [total], chunkRows: chunk)
            }
        }
        try file.flush()
    }
}
