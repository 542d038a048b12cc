import Foundation

/// Everything needed to continue a training run exactly, or to use the trained model:
/// one HDF5 file.
///
/// Layout (root of the file):
///
///     @format = "equiglass-checkpoint", @format_version = 1
///     @step, @epoch, @batch_in_epoch   int64   optimizer steps done; epoch in progress and the
///                                              next batch of it (0 = the epoch starts afresh)
///     @avg_neighbors                   float64 mean in-degree of the training graphs
///     @config                          string  the run configuration (JSON)
///     @metadata                        string  free JSON (data files, command line, ...)
///     parameters, adam_m, adam_v       float32 [P]   the flat parameter buffer and Adam moments
///     rng_state                        int64   [k]   random-source state (bit patterns)
///     target_mean, target_std          float64 [species × times]
///     scalar_mean, scalar_std          float64 [extra scalars]
///
/// Writes are atomic: the file is written under a temporary name in the same directory,
/// flushed to disk (fsync), renamed over the final name, and the directory is fsynced; a crash at
/// any moment leaves either the old or the new complete file.
public struct Checkpoint: Equatable, Sendable {
    public var parameters: [Float]
    public var adamM: [Float]
    public var adamV: [Float]
    public var step: Int
    public var epoch: Int
    public var batchInEpoch: Int
    public var rngState: [UInt64]
    public var configJSON: String
    public var metadataJSON: String
    public var avgNeighbors: Double
    public var targetMean: [Double]
    public var targetStd: [Double]
    public var scalarMean: [Double]
    public var scalarStd: [Double]

    public static let formatName = "equiglass-checkpoint"
    public static let formatVersion: Int64 = 1

    public init(parameters: [Float], adamM: [Float], adamV: [Float], step: Int, epoch: Int, batchInEpoch: Int,
                rngState: [UInt64], configJSON: String, metadataJSON: String = "{}", avgNeighbors: Double,
                targetMean: [Double], targetStd: [Double], scalarMean: [Double], scalarStd: [Double]) {
        self.parameters = parameters
        self.adamM = adamM
        self.adamV = adamV
        self.step = step
        self.epoch = epoch
        self.batchInEpoch = batchInEpoch
        self.rngState = rngState
        self.configJSON = configJSON
        self.metadataJSON = metadataJSON
        self.avgNeighbors = avgNeighbors
        self.targetMean = targetMean
        self.targetStd = targetStd
        self.scalarMean = scalarMean
        self.scalarStd = scalarStd
    }

    // MARK: writing

    /// Writes the checkpoint to `path` atomically (temporary file, fsync, rename, fsync of the
    /// directory).
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try writeContents(to: temporary)  // the HDF5 file is closed when this returns
            try Self.fsync(path: temporary, directory: false)
            guard rename(temporary, path) == 0 else {
                throw CheckpointError(path: path, problem: "cannot rename \(temporary) to it: \(String(cString: strerror(errno)))")
            }
            try Self.fsync(path: directory, directory: true)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private func writeContents(to path: String) throws {
        let file = try HDF5File.create(path: path)
        let root = file.root
        try root.writeAttribute("format", Self.formatName)
        try root.writeAttribute("format_version", Self.formatVersion)
        try root.writeAttribute("step", Int64(step))
        try root.writeAttribute("epoch", Int64(epoch))
        try root.writeAttribute("batch_in_epoch", Int64(batchInEpoch))
        try root.writeAttribute("avg_neighbors", avgNeighbors)
        try root.writeAttribute("config", configJSON)
        try root.writeAttribute("metadata", metadataJSON)
        try root.write("parameters", values: parameters, shape: [parameters.count])
        // Test hook: pause in the middle of the write, so that a test can kill the process there.
        if let pause = ProcessInfo.processInfo.environment["EQUIGLASS_TEST_CHECKPOINT_PAUSE"], let seconds = Double(pause) {
            try file.flush()
            usleep(UInt32(seconds * 1e6))
        }
        try root.write("adam_m", values: adamM, shape: [adamM.count])
        try root.write("adam_v", values: adamV, shape: [adamV.count])
        try root.write("rng_state", values: rngState.map { Int64(bitPattern: $0) }, shape: [rngState.count])
        try root.write("target_mean", values: targetMean, shape: [targetMean.count])
        try root.write("target_std", values: targetStd, shape: [targetStd.count])
        try root.write("scalar_mean", values: scalarMean, shape: [scalarMean.count])
        try root.write("scalar_std", values: scalarStd, shape: [scalarStd.count])
        try file.flush()
    }

    static func fsync(path: String, directory: Bool) throws {
        let fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        guard fd >= 0 else {
            throw CheckpointError(path: path, problem: "cannot open for fsync: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard Foundation.fsync(fd) == 0 else {
            throw CheckpointError(path: path, problem: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: reading

    /// Reads and checks a checkpoint file.
    public static func read(path: String) throws -> Checkpoint {
        let file = try HDF5File(path: path, mode: .readOnly)
        let root = file.root
        func problem(_ text: String) -> CheckpointError { CheckpointError(path: path, problem: text) }
        guard root.hasAttribute("format"), try root.readStringAttribute("format") == formatName else {
            throw problem("not an EquiGlass checkpoint (no @format = \"\(formatName)\")")
        }
        let version = try root.readInt64Attribute("format_version")
        guard version == formatVersion else { throw problem("checkpoint format version \(version), this program reads \(formatVersion)") }
        func floats(_ name: String) throws -> [Float] {
            guard root.containsDataset(name) else { throw problem("dataset '\(name)' is missing") }
            return try root.dataset(name).read(as: Float.self)
        }
        func doubles(_ name: String) throws -> [Double] {
            guard root.containsDataset(name) else { throw problem("dataset '\(name)' is missing") }
            return try root.dataset(name).read(as: Double.self)
        }
        guard root.containsDataset("rng_state") else { throw problem("dataset 'rng_state' is missing") }
        let rng = try root.dataset("rng_state").read(as: Int64.self).map { UInt64(bitPattern: $0) }
        let c = Checkpoint(
            parameters: try floats("parameters"), adamM: try floats("adam_m"), adamV: try floats("adam_v"),
            step: Int(try root.readInt64Attribute("step")), epoch: Int(try root.readInt64Attribute("epoch")),
            batchInEpoch: Int(try root.readInt64Attribute("batch_in_epoch")), rngState: rng,
            configJSON: try root.readStringAttribute("config"), metadataJSON: try root.readStringAttribute("metadata"),
            avgNeighbors: try root.readDoubleAttribute("avg_neighbors"),
            targetMean: try doubles("target_mean"), targetStd: try doubles("target_std"),
            scalarMean: try doubles("scalar_mean"), scalarStd: try doubles("scalar_std"))
        guard c.adamM.count == c.parameters.count, c.adamV.count == c.parameters.count else {
            throw problem("adam_m/adam_v have \(c.adamM.count)/\(c.adamV.count) values for \(c.parameters.count) parameters")
        }
        guard c.parameters.allSatisfy({ $0.isFinite }) else { throw problem("parameters contain non-finite values") }
        guard c.targetMean.count == c.targetStd.count, c.scalarMean.count == c.scalarStd.count else {
            throw problem("normalization statistics have inconsistent lengths")
        }
        return c
    }

    // MARK: run directories

    /// File name of the checkpoint after `step` optimizer steps: `checkpoint-<step, 9 digits>.h5`
    /// (names sort in step order).
    public static func fileName(step: Int) -> String {
        let digits = String(step)
        return "checkpoint-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + ".h5"
    }

    /// Checkpoints in `directory`, oldest first (temporary files are ignored).
    public static func list(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".h5") }.sorted().map { directory + "/" + $0 }
    }

    /// The newest checkpoint of a run directory, or `path` itself if it is a file.
    public static func resolve(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(path: path, problem: "no such file or directory")
        }
        if !isDirectory.boolValue { return path }
        guard let last = list(in: path).last else {
            throw CheckpointError(path: path, problem: "the run directory holds no checkpoint-*.h5")
        }
        return last
    }

    /// Deletes all but the newest `keep` checkpoints of `directory`, and temporary files left by
    /// writes that were killed (those of other processes).
    public static func prune(directory: String, keep: Int) {
        let all = list(in: directory)
        for old in all.dropLast(keep) { try? FileManager.default.removeItem(atPath: old) }
        let mine = ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(".checkpoint-") && name.contains(".tmp-") && !name.hasSuffix(mine) {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }
}

/// A checkpoint that cannot be read or written, naming the file.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "checkpoint \(path): \(problem)" }
}
