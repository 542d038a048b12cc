import Foundation
import XCTest

/// Runs the built `launcher` (alone or under `mpirun`) as a child process, with a time limit so
/// that a hang fails the test instead of hanging CI.
enum LauncherProcess {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
        var seconds: Double
        var timedOut: Bool
    }

    /// The `launcher` executable: `EQUIGLASS_LAUNCHER` if set, else the sibling of this test
    /// bundle in the build products directory (`swift test` builds the executables too).
    static func launcherPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["EQUIGLASS_LAUNCHER"] { return path }
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On macOS the binary sits inside Foo.xctest/Contents/MacOS.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        let path = directory.appendingPathComponent("launcher").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingLauncher(path: path)
        }
        return path
    }

    /// Not skipped: a test run without the program under test must fail.
    struct MissingLauncher: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "no launcher executable at \(path): build it (`swift build`) or set EQUIGLASS_LAUNCHER"
        }
    }

    /// The environment this test process was started with. MPI, once started in this process
    /// (DistributedTrainingTests does), adds its own variables to the live environment, which
    /// would confuse a child mpirun; /proc/self/environ still holds the original.
    static func originalEnvironment() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/self/environ") else {
            return ProcessInfo.processInfo.environment
        }
        var environment: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return environment
    }

    /// Runs `arguments` (the first is looked up on PATH) and waits at most `timeout` seconds,
    /// then kills it.
    static func run(_ arguments: [String], timeout: Double = 60) throws -> Result {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("equiglass-launcher-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        // Files, not pipes: nothing can block on a full pipe.
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)

        var environment = originalEnvironment()
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                process.terminate()  // mpirun passes SIGTERM on to its ranks
                let grace = Date()
                while process.isRunning && Date().timeIntervalSince(grace) < 5 { usleep(50_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        try out.close()
        try err.close()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            standardError: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
            seconds: seconds, timedOut: timedOut)
    }
}
