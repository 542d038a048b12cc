#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// SIGUSR1 and SIGTERM as a request to checkpoint and stop (slurm/README.md, "The launcher's
/// contract").
///
/// `install()` sets handlers that only store the signal number in an atomic (async-signal-safe);
/// nothing else happens in the handler. The training loop asks, at each step boundary,
/// `world.agreedStopSignal()`: a collective, so every rank sees the same answer at the same step,
/// even when the signal reached the ranks at different times or only one of them.
public enum StopSignal {
    /// The last stop signal received, 0 if none. Initialised by `install()` before any handler
    /// can run, so the handler never triggers a lazy initialization.
    private static let received = Atomic<Int32>(0)

    /// The signals that request a stop.
    public static let signals: [Int32] = [SIGUSR1, SIGTERM]

    /// Installs the handlers (idempotent). Call it first thing, before anything slow (MPI start,
    /// reading data): a signal that comes earlier ends the process (the default action).
    /// `SA_RESTART`: system calls interrupted by the signal resume instead of failing with EINTR.
    public static func install() {
        _ = received.load(ordering: .relaxed)
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                StopSignal.received.store(number, ordering: .relaxed)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    /// The stop signal this process received (its number), if any. Local to this rank: use
    /// `Communicator.agreedStopSignal()` to decide.
    public static var pending: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// Gives the signals back their default action (the process ends). For tests.
    static func uninstall() {
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    /// Forgets a received signal (tests).
    public static func clear() { received.store(0, ordering: .relaxed) }

    /// "SIGUSR1", "SIGTERM", else "signal N".
    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGUSR1: return "SIGUSR1"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(number)"
        }
    }
}

/// Exit statuses with a meaning for the Slurm templates (slurm/README.md).
public enum ExitStatus {
    /// `EX_TEMPFAIL` (75): "checkpointed, resubmit me". Every rank exits with it after a stop
    /// signal, once rank 0's checkpoint is on disk; `slurm/train.sbatch` then requeues the job.
    public static let checkpointedResubmit: Int32 = 75
}

/// Thrown by a command on every rank after an agreed stop, once the checkpoint is written. The
/// launcher's `RankCommand` waits at a barrier, so no rank exits before rank 0's checkpoint is on
/// disk, then exits with `ExitStatus.checkpointedResubmit` on every rank.
public struct StoppedForResubmission: Error, Equatable, CustomStringConvertible {
    /// The signal that asked for the stop.
    public let signal: Int32
    /// What was saved, for the log, e.g. "checkpoint step-000120 written".
    public let detail: String

    public init(signal: Int32, detail: String) {
        self.signal = signal
        self.detail = detail
    }

    public var description: String {
        "stopped by \(StopSignal.name(signal)): \(detail); exit status \(ExitStatus.checkpointedResubmit) (resubmit to continue)"
    }
}

extension Communicator {
    /// True on every rank if `flag` is true on at least one rank (a max all-reduce). For
    /// decisions any rank may force: a non-finite loss, an early stop, a failed check.
    public func agree(_ flag: Bool) throws -> Bool {
        try allReduce(Int64(flag ? 1 : 0), .max) != 0
    }

    /// Rank 0's `flag`, on every rank (a broadcast). For decisions rank 0 alone takes (it alone
    /// sees the validation metrics, the clock, the checkpoint files).
    public func rootDecision(_ flag: Bool) throws -> Bool {
        try broadcast(Int64(flag ? 1 : 0), from: 0) != 0
    }

    /// The stop signal received by any rank before this call (the largest signal number if
    /// several), the same on every rank; nil if none. Collective: call it at every step boundary,
    /// on every rank.
    public func agreedStopSignal() throws -> Int32? {
        let number = try allReduce(Int64(StopSignal.pending ?? 0), .max)
        return number == 0 ? nil : Int32(number)
    }
}
