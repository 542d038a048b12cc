/// A file that is readable HDF5 but breaks the snapshot format (docs/data-format.md).
///
/// The message names the file, the dataset or attribute, and the problem, e.g.
/// `ka.h5: dataset 'species': value 3 at particle 17 is out of range 0..<2 (species_names "A,B")`.
public struct SnapshotFormatError: Error, CustomStringConvertible, Sendable {
    /// Path of the file.
    public let file: String
    /// Dataset or attribute concerned, e.g. "positions", "box", "@format_version".
    public let dataset: String
    /// What is wrong.
    public let problem: String

    public init(file: String, dataset: String, problem: String) {
        self.file = file
        self.dataset = dataset
        self.problem = problem
    }

    public var description: String {
        if dataset.isEmpty { return "\(file): \(problem)" }
        let what = dataset.hasPrefix("@") ? "attribute '\(dataset.dropFirst())'" : "dataset '\(dataset)'"
        return "\(file): \(what): \(problem)"
    }
}
