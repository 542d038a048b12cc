import ArgumentParser
import DistributedTraining
import Foundation

/// A subcommand that runs on every MPI rank.
///
/// Conforming commands implement `run(on:)`. The launcher's `run()` for them creates the
/// `Communicator` (MPI starts), checks the world against Slurm for collective commands, runs
/// `run(on:)`, and finalises MPI when it returns. Any error thrown on any rank is the job's end:
/// "rank R: error: <error>" goes to standard error and `Communicator.abort` makes every rank
/// exit non-zero at once, instead of the other ranks waiting forever in their next collective.
///
/// One error is not a failure: `StoppedForResubmission`, which a command throws on every rank
/// after an agreed stop (SIGUSR1/SIGTERM) once its checkpoint is written. Every rank then waits
/// at a barrier (so none exits before rank 0's checkpoint is on disk: `mpirun` kills the others
/// when one exits non-zero), MPI is finalised, and every rank exits with status 75
/// (`ExitStatus.checkpointedResubmit`).
protocol RankCommand: ParsableCommand {
    /// Whether the ranks work together through collectives. When true (the default), the
    /// launcher first checks that the MPI world matches the Slurm job step
    /// (`Communicator.verifySlurmTaskCount`).
    static var runsCollectively: Bool { get }

    /// Whether SIGUSR1 and SIGTERM are requests to checkpoint and stop (`StopSignal`), which
    /// the command checks at its step boundaries (`Communicator.agreedStopSignal()`). Then the
    /// handlers are installed before MPI starts. False by default: the signals keep their
    /// default action (the process ends), right for commands that never ask.
    var handlesStopSignals: Bool { get }

    /// The command's work, on this rank of `world`.
    mutating func run(on world: Communicator) throws
}

extension RankCommand {
    static var runsCollectively: Bool { true }
    var handlesStopSignals: Bool { false }

    /// The top-level error handler of every rank command.
    mutating func run() throws {
        // Before anything slow: from now on a stop signal is a request, not the end of the process.
        if handlesStopSignals { StopSignal.install() }
        // If MPI cannot start there is no rank to name; ArgumentParser reports the error.
        let world = try Communicator()
        var stopped = false
        withExtendedLifetime(world) {
            do {
                if Self.runsCollectively { try world.verifySlurmTaskCount() }
                try run(on: world)
            } catch let stop as StoppedForResubmission {
                do { try world.barrier() } catch { world.abort(message: "error: \(error)") }
                if world.isRoot { FileHandle.standardError.write(Data("rank 0: \(stop)\n".utf8)) }
                stopped = true
            } catch {
                world.abort(message: "error: \(error)")
            }
        }
        // `world` is released here: MPI_Finalize.
        if stopped { throw ExitCode(ExitStatus.checkpointedResubmit) }
    }
}
