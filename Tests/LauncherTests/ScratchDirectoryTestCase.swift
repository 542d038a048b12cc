import Foundation
import XCTest

/// A test case that gets a fresh temporary directory for every test, removed afterwards: for the
/// tests that write snapshot files, run directories and the launcher's outputs.
class ScratchDirectoryTestCase: XCTestCase {
    /// This test's directory (`equiglass-<test class>-<UUID>` in the temporary directory).
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("equiglass-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The path of `name` inside this test's directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
