import EquivariantNet
import GlassData

/// The snapshots this rank reads from one file, prepared once and kept in memory up to a budget,
/// so that each epoch does not read and rebuild the graphs again. A rank only ever asks for its
/// own snapshots (its slices of the batches, its evaluation shard), so under MPI the file is
/// read once in total, split over the ranks.
public final class SnapshotCache {
    public let file: SnapshotSet
    public let preparer: SnapshotPreparer
    /// When set, extra scalars are standardized with it on the way out.
    public var normalization: Normalization?
    /// Bytes of prepared snapshots kept; past it, snapshots are read again when asked for.
    public let budgetBytes: Int
    private var kept: [Int: PreparedSnapshot] = [:]
    public private(set) var keptBytes = 0

    public init(file: SnapshotSet, preparer: SnapshotPreparer, budgetBytes: Int = 256 << 20) {
        self.file = file
        self.preparer = preparer
        self.budgetBytes = budgetBytes
    }

    /// The bytes one prepared snapshot of `particles` particles and `edges` edges is counted as.
    /// Per edge: sender 8, vector 12, its pair row 4, half a pair's two edge indices 4.
    /// Per particle: species, offsets, the raw and scaled extra inputs, the targets.
    public func bytes(particles n: Int, edges e: Int) -> Int {
        e * 28 + n * (16 + 8 * preparer.config.extraScalars.count + 24 * preparer.config.extraVectors.count
                      + 4 * preparer.config.times.count)
    }

    /// Snapshot `k`, from memory or read and prepared now.
    public func snapshot(_ k: Int) throws -> PreparedSnapshot {
        let raw: PreparedSnapshot
        if let p = kept[k] {
            raw = p
        } else {
            raw = try preparer.prepare(file, snapshot: k)
            let size = bytes(particles: raw.particleCount, edges: raw.input.edgeCount)
            if keptBytes + size <= budgetBytes {
                kept[k] = raw
                keptBytes += size
            }
        }
        return normalization.map { preparer.standardize(raw, $0) } ?? raw
    }
}
