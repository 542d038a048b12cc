@testable import DistributedTraining

/// The one MPI world of the test process (MPI starts once per process), rank 0 of 1 under
/// `swift test`: `Communicator.shared()`.
enum TestWorld {
    static func shared() throws -> Communicator { try Communicator.shared() }
}
