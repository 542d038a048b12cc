import ArgumentParser
import DistributedTraining
import Foundation
import Training

/// `launcher selftest`: every MPI collective, across all ranks, checked against serial results.
struct SelfTestCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run every MPI collective across the ranks and check each result.",
        discussion: """
            Each rank fills buffers with rank-dependent values, runs all-reduce (sum, max, min \
            of Float, Double, Int64), broadcast (buffers, bytes, a string, a value), gather (to \
            rank 0) and barrier, and compares every element with the value it computes serially \
            for the same number of ranks. Rank 0 prints one row per check, with a summary (a sum \
            over the elements, or the values) of MPI's result and of the serial one. Exits non-zero \
            if any element on any rank differs.

            Use it to check a cluster's MPI set-up before a long run, e.g.
              mpirun -np 4 launcher selftest
              srun -n 4 launcher selftest

            --fail-on-rank R checks the failure path instead: after a barrier, rank R throws an \
            error. Every rank must then stop within seconds with a non-zero exit status, and \
            standard error must name rank R and the error. A job that hangs instead means errors \
            on one rank would hang a training run too.

            --data-parallel runs a mock training run instead (sharding, the reproducible gradient \
            sum, stop signals; options --dp-*), and --dataset-statistics FILE combines target \
            statistics of FILE read in shares by the ranks: see docs/distributed.md. Their \
            output must be the same at any number of ranks.
            """)

    @Option(name: .long, help: ArgumentHelp(
        "Make rank R throw an error after a barrier, to check that the whole job stops.",
        valueName: "R"))
    var failOnRank: Int?

    @OptionGroup var dataParallel: DataParallelOptions
    @OptionGroup var statistics: DatasetStatisticsOptions

    /// The mock training run stops on SIGUSR1/SIGTERM like training; the other checks do not.
    var handlesStopSignals: Bool { dataParallel.enabled }

    func validate() throws {
        if dataParallel.enabled && statistics.file != nil {
            throw ValidationError("give --data-parallel or --dataset-statistics, not both")
        }
        if let failOnRank, failOnRank < 0 {
            throw ValidationError("--fail-on-rank must be a rank (0 or more), not \(failOnRank)")
        }
    }

    func run(on world: Communicator) throws {
        // Who takes part: also shows, in a failure test, which processes must end.
        let me = "rank \(world.rank) of \(world.size) on \(try world.processorName()) "
            + "(pid \(ProcessInfo.processInfo.processIdentifier))"
        if let everyone = try world.gather(me, to: 0) {
            printNow("selftest: \(world.size) rank\(world.size == 1 ? "" : "s")")
            for line in everyone { printNow("  \(line)") }
        }
        try world.barrier()

        if let failOnRank {
            guard failOnRank < world.size else {
                throw ValidationError("--fail-on-rank \(failOnRank), but the world has only \(world.size) ranks")
            }
            if world.rank == failOnRank { throw InjectedFailure(rank: failOnRank) }
            // The other ranks go on into the collectives, where they would wait for rank R.
        }
        if dataParallel.enabled { return try dataParallel.selfTest(on: world).run() }
        if let file = statistics.file { return try DatasetStatisticsSelfTest(path: file, world: world).run() }

        let report = try SelfTestReport.run(on: world)
        if world.isRoot {
            for line in report.tableLines { printNow(line) }
        }
        let failed = report.failedChecks
        if world.isRoot {
            printNow(failed.isEmpty
                ? "selftest: all \(report.rows.count) checks passed on \(world.size) ranks"
                : "selftest: \(failed.count) of \(report.rows.count) checks FAILED")
        }
        if !failed.isEmpty { throw SelfTestFailure(checks: failed) }
    }
}
