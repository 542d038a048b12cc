import CFuzzer
import Foundation

/// What libFuzzer calls with each input: the bytes (nil only when empty) and their count.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// Hands the process to libFuzzer's driver with the command line (corpus folders, `-flags`),
/// which calls `callback` once per input, and exits with the driver's status.
public func runFuzzer(_ callback: FuzzCallback) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, callback)
    exit(status)
}

/// The input as `Data`.
public func inputData(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    guard let bytes, count > 0 else { return Data() }
    return Data(bytes: bytes, count: count)
}

/// A property of the reader that does not hold: reported and turned into a crash, so libFuzzer
/// keeps the input (a thrown error is the reader's correct answer to a bad input, not this).
public func finding(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("EQUIGLASS-FUZZ FINDING: " + message + "\n").utf8))
    fatalError(message)
}

/// Whether EQUIGLASS_FUZZ_VERBOSE is set: each thrown error is then printed (to see what a
/// corpus file or a saved input does: `EQUIGLASS_FUZZ_VERBOSE=1 FuzzSnapshot file.h5`).
let verbose = ProcessInfo.processInfo.environment["EQUIGLASS_FUZZ_VERBOSE"] != nil

/// A thrown error must name the file it is about (`name`, the path or the source label).
public func requireNamed(_ error: Error, _ name: String) {
    let message = "\(error)"
    if verbose { FileHandle.standardError.write(Data(("error: " + message + "\n").utf8)) }
    if !message.contains(name) { finding("error does not name \(name): \(message)") }
}

/// A file of this process (in /dev/shm when there is one: no disk writes per input) that each
/// input is written to, for the readers that take a path.
public enum ScratchFile {
    public static func path(suffix: String) -> String {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        return directory + "equiglass-fuzz-\(getpid())\(suffix)"
    }

    /// Replaces the file at `path` with `count` bytes at `bytes`.
    public static func write(_ path: String, _ bytes: UnsafePointer<UInt8>?, _ count: Int) {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { finding("cannot create the scratch file \(path)") }
        defer { close(descriptor) }
        var written = 0
        while written < count, let bytes {
            let n = Foundation.write(descriptor, bytes + written, count - written)
            guard n > 0 else { finding("cannot write the scratch file \(path)") }
            written += n
        }
    }

    /// Removes the scratch file when the process exits (libFuzzer ends with `exit`).
    public static func removeAtExit(_ path: String) {
        scratchPaths.withLock { $0.append(path) }
        atexit { scratchPaths.withLock { paths in for path in paths { unlink(path) } } }
    }
}

private let scratchPaths = Mutex<[String]>([])

/// A minimal lock (Synchronization's Mutex needs a newer deployment target on some platforms).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
