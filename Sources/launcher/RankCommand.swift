import ArgumentParser
import DistributedTraining

/// A subcommand that runs on every MPI rank.
///
/// Conforming commands implement `run(on:)`. The launcher's `run()` for them creates the
/// `Communicator` (MPI starts), checks the world against Slurm for collective commands, runs
/// `run(on:)`, and finalises MPI when it returns. Any error thrown on any rank is the job's end:
/// "rank R: error: <error>" goes to standard error and `Communicator.abort` makes every rank
/// exit non-zero at once, instead of the other ranks waiting forever in their next collective.
protocol RankCommand: ParsableCommand {
    /// Whether the ranks work together through collectives. When true (the default), the
    /// launcher first checks that the MPI world matches the Slurm job step
    /// (`Communicator.verifySlurmTaskCount`).
    static var runsCollectively: Bool { get }

    /// The command's work, on this rank of `world`.
    mutating func run(on world: Communicator) throws
}

extension RankCommand {
    static var runsCollectively: Bool { true }

    /// The top-level error handler of every rank command.
    mutating func run() throws {
        // If MPI cannot start there is no rank to name; ArgumentParser reports the error.
        let world = try Communicator()
        withExtendedLifetime(world) {
            do {
                if Self.runsCollectively { try world.verifySlurmTaskCount() }
                try run(on: world)
            } catch {
                world.abort(message: "error: \(error)")
            }
        }
        // `world` is released here: MPI_Finalize.
    }
}
