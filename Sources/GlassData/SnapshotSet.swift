import Foundation

/// Several snapshot files read as one: their snapshots in the order of the files, as if
/// concatenated into one file. What the commands' `--data` and `--validation` open, so a data set
/// in parts (a folder of `part-*.h5`) trains exactly like the same snapshots in one file.
///
/// The files must agree on what a model reads from them: the species names, the time grid, and
/// whether they hold inherent positions and propensity; the scalars of the set are those every
/// file has. The attributes are the first file's (`propensityRuns` the smallest of the files';
/// `temperature` NaN when the files differ).
public final class SnapshotSet {
    /// The files, in order.
    public let files: [SnapshotFile]
    /// The paths as given, for messages: one path, or the paths joined by ", ".
    public let path: String
    /// Root attributes (see the type's comment).
    public let attributes: SnapshotAttributes
    /// S+1 particle offsets over all files: snapshot k is particles offsets[k] ..< offsets[k+1].
    public let offsets: [Int]
    /// The time grid, shared by every file.
    public let times: [Double]
    /// Names of the scalars every file holds, sorted.
    public let scalarNames: [String]
    /// For each snapshot, its file and its index there.
    private let locations: [(file: Int, index: Int)]

    public var snapshotCount: Int { locations.count }
    public var particleCount: Int { offsets[offsets.count - 1] }
    public var timeCount: Int { times.count }
    public var hasInherentPositions: Bool { files.allSatisfy(\.hasInherentPositions) }
    public var hasPropensity: Bool { files.allSatisfy(\.hasPropensity) }

    public func particleCount(ofSnapshot k: Int) -> Int { offsets[k + 1] - offsets[k] }
    public func box(ofSnapshot k: Int) -> [Double] {
        let (f, i) = locations[k]
        return files[f].box(ofSnapshot: i)
    }
    /// The file that holds snapshot `k` and the snapshot's index in it.
    public func location(ofSnapshot k: Int) -> (file: SnapshotFile, index: Int) {
        let (f, i) = locations[k]
        return (files[f], i)
    }

    /// Reads snapshot `k` of the set (`SnapshotFile.readSnapshot` of its file); its scalars are
    /// those of the set.
    public func readSnapshot(_ k: Int) throws -> Snapshot {
        guard k >= 0, k < snapshotCount else {
            throw SnapshotFormatError(file: path, dataset: "snapshot_offsets",
                                      problem: "snapshot \(k) requested, the files hold \(snapshotCount)")
        }
        let (f, i) = locations[k]
        var s = try files[f].readSnapshot(i)
        if files.count > 1 { s.scalars = s.scalars.filter { scalarNames.contains($0.key) } }
        return s
    }

    /// Opens every file of `paths` (a folder stands for its `.h5` files, sorted by name) and
    /// checks that they agree (see the type's comment).
    public init(paths: [String], checkAllValues: Bool = true) throws {
        let expanded = try SnapshotSet.expand(paths)
        files = try expanded.map { try SnapshotFile(path: $0, checkAllValues: checkAllValues) }
        path = paths.joined(separator: ", ")
        let first = files[0]
        for file in files.dropFirst() {
            func differ(_ what: String, _ a: String, _ b: String) -> SnapshotFormatError {
                SnapshotFormatError(file: file.path, dataset: what,
                                    problem: "is \(b) here but \(a) in \(first.path); the files of one set must agree")
            }
            if file.attributes.speciesNames != first.attributes.speciesNames {
                throw differ("@species_names", first.attributes.speciesNames.joined(separator: ","),
                             file.attributes.speciesNames.joined(separator: ","))
            }
            if file.times != first.times { throw differ("times", "\(first.times)", "\(file.times)") }
            if file.hasPropensity != first.hasPropensity {
                throw differ("propensity", first.hasPropensity ? "present" : "absent", file.hasPropensity ? "present" : "absent")
            }
            if file.hasInherentPositions != first.hasInherentPositions {
                throw differ("positions_inherent", first.hasInherentPositions ? "present" : "absent",
                             file.hasInherentPositions ? "present" : "absent")
            }
        }
        var attributes = first.attributes
        attributes.propensityRuns = files.map(\.attributes.propensityRuns).min()!
        if files.contains(where: { $0.attributes.temperature != first.attributes.temperature }) {
            attributes.temperature = .nan
        }
        self.attributes = attributes
        times = first.times
        let files = self.files
        scalarNames = first.scalarNames.filter { name in files.allSatisfy { $0.scalarNames.contains(name) } }
        var offsets = [0], locations: [(file: Int, index: Int)] = []
        for (f, file) in files.enumerated() {
            for i in 0..<file.snapshotCount {
                locations.append((f, i))
                offsets.append(offsets.last! + file.particleCount(ofSnapshot: i))
            }
        }
        self.offsets = offsets
        self.locations = locations
    }

    /// The set of its first `count` snapshots (in order), e.g. for a learning curve.
    public func prefix(_ count: Int) -> SnapshotSet { SnapshotSet(self, first: count) }

    private init(_ whole: SnapshotSet, first count: Int) {
        let used = Set(whole.locations.prefix(count).map(\.file))
        files = whole.files.enumerated().filter { used.contains($0.offset) }.map(\.element)
        path = whole.path + " (first \(count) snapshots)"
        attributes = whole.attributes
        times = whole.times
        scalarNames = whole.scalarNames
        offsets = Array(whole.offsets.prefix(count + 1))
        locations = Array(whole.locations.prefix(count))
    }

    /// The files `paths` name: a file as it is, a folder as its `.h5` files sorted by name.
    /// - Throws: `SnapshotFormatError` for a path that does not exist, an empty folder, or no path.
    public static func expand(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw SnapshotFormatError(file: path, dataset: "", problem: "no such file or folder")
            }
            if !isFolder.boolValue { files.append(path); continue }
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".h5") }.sorted()
            if names.isEmpty {
                throw SnapshotFormatError(file: path, dataset: "", problem: "the folder holds no .h5 file")
            }
            files += names.map { (path as NSString).appendingPathComponent($0) }
        }
        if files.isEmpty { throw SnapshotFormatError(file: "", dataset: "", problem: "no snapshot file given") }
        return files
    }
}
