/// A failed HDF5 call, reported with the file, the object inside it and the operation that failed.
///
/// HDF5's own error stack printing is silenced (`chdf5_silence_errors`); this error is what the
/// user sees, e.g. `HDF5 error in run.h5, dataset 'positions': read rows 10..<20 failed`.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// Path of the HDF5 file.
    public let file: String
    /// Object inside the file ("/" for the root, a dataset, group or attribute name).
    public let object: String
    /// What was being done, e.g. "open", "read", "create dataset".
    public let operation: String
    /// Extra detail (may be empty).
    public let detail: String

    public init(file: String, object: String, operation: String, detail: String = "") {
        self.file = file
        self.object = object
        self.operation = operation
        self.detail = detail
    }

    public var description: String {
        var text = "HDF5 error in \(file), object '\(object)': \(operation) failed"
        if !detail.isEmpty { text += " (\(detail))" }
        return text
    }
}
