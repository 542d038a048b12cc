extension Communicator {
    nonisolated(unsafe) private static var processWorld: Communicator?

    /// The one world of this process, created (MPI initialized) on the first call and never
    /// released, so MPI is not finalised before the process exits. For tests and for programs
    /// that use the libraries without owning MPI's lifetime (the launcher makes its own
    /// `Communicator` and releases it). Call it from one thread only.
    public static func shared() throws -> Communicator {
        if let processWorld { return processWorld }
        let created = try Communicator()
        processWorld = created
        return created
    }
}
