@testable import DistributedTraining

/// The one MPI world of the test process (MPI starts once per process), rank 0 of 1 under
/// `swift test`. Never released: MPI is not finalised, which the process's exit takes care of.
enum TestWorld {
    nonisolated(unsafe) private static var world: Communicator?

    static func shared() throws -> Communicator {
        if let world { return world }
        let created = try Communicator()
        world = created
        return created
    }
}
