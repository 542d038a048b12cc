import EquivariantNet
import Foundation
import GlassData

/// One snapshot ready for the network: its graph and inputs, and its targets (physical units)
/// at the model's times that the file has.
struct PreparedSnapshot {
    /// Index of the snapshot in its file.
    let index: Int
    let input: ModelInput
    /// Raw extra scalars `[N][E]` (physical units; standardised into `input` by `standardize`).
    let rawScalars: [Float]
    /// Propensity `[N][T_model]` at the model's times (NaN where the file lacks a time), or nil
    /// if the file has no propensity.
    let targets: [Float]?
    var species: [Int32] { input.species }
    var particleCount: Int { input.nodeCount }
}

/// Reads the snapshots of a file and turns them into network inputs, as the configuration says
/// (thermal or inherent positions, extra scalars, the model's time grid matched by value).
struct SnapshotPreparer {
    let config: ModelConfig

    /// Pairs (model time index, file time index) of the times both grids share.
    func sharedTimes(_ file: SnapshotFile) -> [(model: Int, data: Int)] {
        matchTimes(model: config.times, data: file.times)
    }

    /// Opens `path` and checks it can feed this model: species count, positions kind, scalars.
    func open(_ path: String, needTargets: Bool, needAllTimes: Bool) throws -> SnapshotFile {
        let file = try SnapshotFile(path: path, checkAllValues: false)
        func fail(_ text: String) -> ValidationFailure { ValidationFailure("\(path): \(text)") }
        guard file.attributes.speciesNames.count <= config.speciesCount else {
            throw fail("has \(file.attributes.speciesNames.count) species (\(file.attributes.speciesNames.joined(separator: ","))); "
                       + "the model was configured for \(config.speciesCount)")
        }
        if config.positions == .inherent && !file.hasInherentPositions {
            throw fail("the configuration asks for inherent-structure positions, but the file has no positions_inherent")
        }
        for name in config.extraScalars where !file.scalarNames.contains(name) {
            if let derived = DerivedScalar(rawValue: name) {
                if !derived.isComputable(from: file) {
                    throw fail("the configuration asks for the extra scalar '\(name)', computed from \(derived.requirement), "
                               + "which the file lacks")
                }
                continue
            }
            throw fail("the configuration asks for the extra scalar '\(name)', but the file has no scalars/\(name) "
                       + "(it has: \(file.scalarNames.isEmpty ? "none" : file.scalarNames.joined(separator: ", "))), "
                       + "and it is not one of the computed scalars (\(DerivedScalar.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if needTargets {
            guard file.hasPropensity else { throw fail("has no propensity targets") }
            let shared = sharedTimes(file)
            if shared.isEmpty {
                throw fail("shares no time with the model: model times \(config.times), file times \(file.times)")
            }
            if needAllTimes && shared.count < config.times.count {
                let missing = config.times.enumerated().filter { t in !shared.contains { $0.model == t.offset } }.map(\.element)
                throw fail("lacks the model's times \(missing) (file times \(file.times)); "
                           + "set \"times\" in the configuration to times the file has")
            }
        }
        return file
    }

    /// Reads snapshot `k` of `file` and builds its graph and inputs.
    func prepare(_ file: SnapshotFile, snapshot k: Int) throws -> PreparedSnapshot {
        let s = try file.readSnapshot(k)
        let positions = config.positions == .inherent ? s.inherentPositions! : s.positions
        let graph: NeighborGraph
        do {
            graph = try NeighborGraph(positions: positions, box: s.box, cutoff: config.cutoff)
        } catch {
            throw ValidationFailure("\(file.path), snapshot \(k): \(error)")
        }
        let n = s.particleCount
        let e = config.extraScalars.count
        var scalars = [Float](repeating: 0, count: n * e)
        for (j, name) in config.extraScalars.enumerated() {
            // A stored dataset first, else a scalar computed from the configuration (checked in `open`).
            guard let values = s.scalars[name] ?? DerivedScalar(rawValue: name)?.values(s) else {
                throw ValidationFailure("\(file.path), snapshot \(k): no scalar '\(name)'")
            }
            for i in 0..<n { scalars[i * e + j] = Float(values[i]) }
        }
        var targets: [Float]? = nil
        if let p = s.propensity {
            let t = config.times.count, tf = file.timeCount
            var out = [Float](repeating: .nan, count: n * t)
            for pair in sharedTimes(file) {
                for i in 0..<n { out[i * t + pair.model] = p[i * tf + pair.data] }
            }
            targets = out
        }
        let input = ModelInput(species: s.species, scalars: scalars, receiverOffsets: graph.receiverOffsets,
                               senders: graph.senders, vectors: graph.edgeVectors)
        return PreparedSnapshot(index: k, input: input, rawScalars: scalars, targets: targets)
    }

    /// The snapshot with its extra scalars standardised by `normalization`.
    func standardize(_ p: PreparedSnapshot, _ normalization: Normalization) -> PreparedSnapshot {
        guard !config.extraScalars.isEmpty else { return p }
        var input = p.input
        var scalars = p.rawScalars
        normalization.standardize(scalars: &scalars, count: config.extraScalars.count)
        input.scalars = scalars
        return PreparedSnapshot(index: p.index, input: input, rawScalars: p.rawScalars, targets: p.targets)
    }
}

/// A problem with the user's input, reported as is.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The training set's global statistics, accumulated snapshot by snapshot in file order.
struct TrainingStatistics {
    var edges = 0.0
    var nodes = 0.0
    var targets: MomentSums
    var scalars: MomentSums

    init(config: ModelConfig) {
        targets = MomentSums(slots: config.speciesCount * config.times.count)
        scalars = MomentSums(slots: config.extraScalars.count)
    }

    mutating func add(_ p: PreparedSnapshot, times: Int, extra: Int) {
        edges += Double(p.input.edgeCount)
        nodes += Double(p.particleCount)
        if let t = p.targets { Normalization.accumulateTargets(t, species: p.species, times: times, into: &targets) }
        for i in 0..<p.particleCount { for j in 0..<extra { scalars.add(slot: j, Double(p.rawScalars[i * extra + j])) } }
    }

    var avgNeighbors: Double { nodes > 0 ? edges / nodes : 1 }

    var normalization: Normalization {
        let (tm, ts) = targets.meanAndStd()
        let (sm, ss) = scalars.meanAndStd()
        return Normalization(targetMean: tm, targetStd: ts, scalarMean: sm, scalarStd: ss)
    }
}

/// The snapshots this rank reads from one file, prepared once and kept in memory up to a budget,
/// so that each epoch does not read and rebuild the graphs again. A rank only ever asks for its
/// own snapshots (its slices of the batches, its evaluation shard), so under MPI the file is
/// read once in total, split over the ranks.
final class SnapshotCache {
    let file: SnapshotFile
    let preparer: SnapshotPreparer
    /// When set, extra scalars are standardised with it on the way out.
    var normalization: Normalization?
    /// Bytes of prepared snapshots kept; past it, snapshots are read again when asked for.
    let budgetBytes: Int
    private var kept: [Int: PreparedSnapshot] = [:]
    private(set) var keptBytes = 0

    init(file: SnapshotFile, preparer: SnapshotPreparer, budgetBytes: Int = 256 << 20) {
        self.file = file
        self.preparer = preparer
        self.budgetBytes = budgetBytes
    }

    /// Snapshot `k`, from memory or read and prepared now.
    func snapshot(_ k: Int) throws -> PreparedSnapshot {
        let raw: PreparedSnapshot
        if let p = kept[k] {
            raw = p
        } else {
            raw = try preparer.prepare(file, snapshot: k)
            let n = raw.particleCount, e = raw.input.edgeCount
            // Per edge: sender 8, vector 12, its pair row 4, half a pair's two edge indices 4.
            let bytes = e * 28 + n * (16 + 8 * preparer.config.extraScalars.count + 4 * preparer.config.times.count)
            if keptBytes + bytes <= budgetBytes {
                kept[k] = raw
                keptBytes += bytes
            }
        }
        return normalization.map { preparer.standardize(raw, $0) } ?? raw
    }
}

/// One snapshot's contribution to the training statistics, as one row of a `SnapshotOrderedSum`:
/// [edges, particles, target moment sums per (species, time), extra-scalar moment sums].
enum StatisticsRow {
    static func width(_ config: ModelConfig) -> Int {
        2 + 3 * config.speciesCount * config.times.count + 3 * config.extraScalars.count
    }

    static func values(_ p: PreparedSnapshot, _ config: ModelConfig) -> [Double] {
        var statistics = TrainingStatistics(config: config)
        statistics.add(p, times: config.times.count, extra: config.extraScalars.count)
        return [statistics.edges, statistics.nodes] + statistics.targets.flat + statistics.scalars.flat
    }

    /// The statistics from the summed rows.
    static func statistics(_ total: [Double], _ config: ModelConfig) -> TrainingStatistics {
        var statistics = TrainingStatistics(config: config)
        let targetWidth = 3 * config.speciesCount * config.times.count
        statistics.edges = total[0]
        statistics.nodes = total[1]
        statistics.targets = MomentSums(flat: Array(total[2 ..< 2 + targetWidth]))
        statistics.scalars = MomentSums(flat: Array(total[(2 + targetWidth)...]))
        return statistics
    }
}
