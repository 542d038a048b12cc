import EquivariantNet
import GlassData

/// Reads the snapshots of a set of files and turns them into network inputs, as the configuration
/// says (thermal or inherent positions, extra scalars and vectors, the model's time grid matched
/// by value).
public struct SnapshotPreparer {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    /// Pairs (model time index, file time index) of the times both grids share.
    public func sharedTimes(_ file: SnapshotSet) -> [(model: Int, data: Int)] {
        matchTimes(model: config.times, data: file.times)
    }

    /// Opens `path` (a file, or a folder of `.h5` files) as a set; see `open(_:needTargets:needAllTimes:)`.
    public func open(_ path: String, needTargets: Bool, needAllTimes: Bool) throws -> SnapshotSet {
        try open([path], needTargets: needTargets, needAllTimes: needAllTimes)
    }

    /// Opens the files `paths` (a folder: its `.h5` files) as one set and checks it can feed this
    /// model: species count, positions kind, scalars, vectors.
    public func open(_ paths: [String], needTargets: Bool, needAllTimes: Bool) throws -> SnapshotSet {
        let file = try SnapshotSet(paths: paths, checkAllValues: false)
        let path = file.path
        func fail(_ text: String) -> ValidationFailure { ValidationFailure("\(path): \(text)") }
        guard file.attributes.speciesNames.count <= config.speciesCount else {
            throw fail("has \(file.attributes.speciesNames.count) species (\(file.attributes.speciesNames.joined(separator: ","))); "
                       + "the model was configured for \(config.speciesCount)")
        }
        if config.positions == .inherent && !file.hasInherentPositions {
            throw fail("the configuration asks for inherent-structure positions, but the file has no positions_inherent")
        }
        try checkScalars(file, fail)
        for name in config.extraVectors {
            guard let derived = DerivedVector(rawValue: name) else {
                throw fail("the configuration asks for the extra vector '\(name)', which is not one of the computed vectors "
                           + "(\(DerivedVector.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if !derived.isComputable(from: file) {
                throw fail("the configuration asks for the extra vector '\(name)', computed from \(derived.requirement), which the file lacks")
            }
        }
        if needTargets { try checkTargets(file, needAllTimes: needAllTimes, fail) }
        return file
    }

    /// Every extra scalar is stored in the file or computable from it.
    private func checkScalars(_ file: SnapshotSet, _ fail: (String) -> ValidationFailure) throws {
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
    }

    /// The file has propensity at some (with `needAllTimes`: every) time of the model.
    private func checkTargets(_ file: SnapshotSet, needAllTimes: Bool, _ fail: (String) -> ValidationFailure) throws {
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

    /// Reads snapshot `k` of `file` and builds its graph and inputs.
    public func prepare(_ file: SnapshotSet, snapshot k: Int) throws -> PreparedSnapshot {
        let s = try file.readSnapshot(k)
        let positions = config.positions == .inherent ? s.inherentPositions! : s.positions
        let graph: NeighborGraph
        do {
            graph = try NeighborGraph(positions: positions, box: s.box, cutoff: config.cutoff)
        } catch {
            throw ValidationFailure("\(place(file, k)): \(error)")
        }
        let scalars = try extraScalars(s, file: file, snapshot: k)
        let vectors = extraVectors(s)
        let input = ModelInput(species: s.species, scalars: scalars, extraVectors: vectors, receiverOffsets: graph.receiverOffsets,
                               senders: graph.senders, vectors: graph.edgeVectors)
        return PreparedSnapshot(index: k, input: input, rawScalars: scalars, rawVectors: vectors, targets: targets(s, file: file))
    }

    /// "FILE, snapshot i" for snapshot `k` of the set: the file that holds it and its index there.
    func place(_ file: SnapshotSet, _ k: Int) -> String {
        let (part, index) = file.location(ofSnapshot: k)
        return "\(part.path), snapshot \(index)"
    }

    /// The extra vectors `[N][V][3]` of a snapshot (checked computable in `open`).
    func extraVectors(_ s: Snapshot) -> [Float] {
        let n = s.particleCount, v = config.extraVectors.count
        var out = [Float](repeating: 0, count: 3 * n * v)
        for (j, name) in config.extraVectors.enumerated() {
            let values = DerivedVector(rawValue: name)!.values(s)!
            for i in 0..<n { for a in 0..<3 { out[(i * v + j) * 3 + a] = Float(values[3 * i + a]) } }
        }
        return out
    }

    /// The extra scalars `[N][E]` of a snapshot: a stored dataset first, else a scalar computed
    /// from the configuration (checked in `open`).
    func extraScalars(_ s: Snapshot, file: SnapshotSet, snapshot k: Int) throws -> [Float] {
        let n = s.particleCount, e = config.extraScalars.count
        var scalars = [Float](repeating: 0, count: n * e)
        for (j, name) in config.extraScalars.enumerated() {
            guard let values = s.scalars[name] ?? DerivedScalar(rawValue: name)?.values(s) else {
                throw ValidationFailure("\(place(file, k)): no scalar '\(name)'")
            }
            for i in 0..<n { scalars[i * e + j] = Float(values[i]) }
        }
        return scalars
    }

    /// The propensity `[N][T_model]` at the model's times, matched by value (NaN where the file
    /// lacks a time), or nil when the file has none.
    func targets(_ s: Snapshot, file: SnapshotSet) -> [Float]? {
        guard let p = s.propensity else { return nil }
        let n = s.particleCount, t = config.times.count, tf = file.timeCount
        var out = [Float](repeating: .nan, count: n * t)
        for pair in sharedTimes(file) {
            for i in 0..<n { out[i * t + pair.model] = p[i * tf + pair.data] }
        }
        return out
    }

    /// The snapshot with its extra scalars standardized and its extra vectors scaled by
    /// `normalization`.
    public func standardize(_ p: PreparedSnapshot, _ normalization: Normalization) -> PreparedSnapshot {
        guard !config.extraScalars.isEmpty || !config.extraVectors.isEmpty else { return p }
        var input = p.input
        var scalars = p.rawScalars, vectors = p.rawVectors
        normalization.standardize(scalars: &scalars, count: config.extraScalars.count)
        normalization.scale(vectors: &vectors, count: config.extraVectors.count, after: config.extraScalars.count)
        input.scalars = scalars
        input.extraVectors = vectors
        return PreparedSnapshot(index: p.index, input: input, rawScalars: p.rawScalars, rawVectors: p.rawVectors,
                                targets: p.targets)
    }

    /// Reads snapshot `k` of `file`, prepared and standardized by `normalization`.
    public func prepared(_ file: SnapshotSet, snapshot k: Int, _ normalization: Normalization) throws -> PreparedSnapshot {
        standardize(try prepare(file, snapshot: k), normalization)
    }
}
