import Foundation
import ZIPFoundation

/// A NumPy `.npz` file: a zip (stored or deflated) of `.npy` members, one per key.
public struct NpzArchive {
    /// Path of the .npz, used in errors.
    public let path: String
    private let archive: Archive

    /// Opens `path`; an unreadable or non-zip file is an `NpyError`.
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw NpyError(source: path, problem: "no such file") }
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw NpyError(source: path, problem: "not a readable .npz (zip) file: \(error)")
        }
    }

    /// The keys (member names without ".npy"), sorted.
    public var keys: [String] {
        archive.map { $0.path }.filter { $0.hasSuffix(".npy") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Whether `key` is present.
    public func contains(_ key: String) -> Bool { archive[key + ".npy"] != nil }

    /// Reads the array stored under `key`.
    public func array(_ key: String) throws -> NpyArray {
        let source = "\(path), key '\(key)'"
        guard let entry = archive[key + ".npy"] else {
            throw NpyError(source: source, problem: "missing (keys present: \(keys.joined(separator: ", ")))")
        }
        var data = Data()
        do {
            _ = try archive.extract(entry) { data.append($0) }
        } catch {
            throw NpyError(source: source, problem: "cannot be extracted: \(error)")
        }
        return try NpyArray(npyData: data, source: source)
    }
}
