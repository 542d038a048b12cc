import ArgumentParser
import DistributedTraining
import Foundation

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
            """)

    @Option(name: .long, help: ArgumentHelp(
        "Make rank R throw an error after a barrier, to check that the whole job stops.",
        valueName: "R"))
    var failOnRank: Int?

    func validate() throws {
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

        var checks = SelfTestChecks(world: world)
        try checks.runAll()

        // Every rank learns how many elements differed, and on how many ranks, for each check.
        var mismatches = checks.rows.map { Int64($0.mismatches) }
        var failingRanks = checks.rows.map { Int64($0.mismatches > 0 ? 1 : 0) }
        try world.allReduce(&mismatches, .sum)
        try world.allReduce(&failingRanks, .sum)

        if world.isRoot {
            printTable(checks.rows, mismatches: mismatches, failingRanks: failingRanks)
        }
        let failed = mismatches.indices.filter { mismatches[$0] > 0 }
        if world.isRoot {
            printNow(failed.isEmpty
                ? "selftest: all \(checks.rows.count) checks passed on \(world.size) ranks"
                : "selftest: \(failed.count) of \(checks.rows.count) checks FAILED")
        }
        if !failed.isEmpty {
            throw SelfTestFailure(checks: failed.map { checks.rows[$0].check })
        }
    }

    private func printTable(_ rows: [SelfTestRow], mismatches: [Int64], failingRanks: [Int64]) {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        let widths = [34, 9, 30, 30, 9]
        let header = ["check", "elements", "observed(rank0)", "expected(serial)", "bad-ranks"]
        printNow(zip(header, widths).map { pad($0, $1) }.joined(separator: "  ") + "  result")
        for (index, row) in rows.enumerated() {
            let cells = [row.check, "\(row.elements)", row.observed, row.expected, "\(failingRanks[index])"]
            let result = mismatches[index] == 0 ? "ok" : "MISMATCH(\(mismatches[index]) elements)"
            printNow(zip(cells, widths).map { pad($0, $1) }.joined(separator: "  ") + "  " + result)
        }
    }
}

/// The error `--fail-on-rank` throws on purpose.
struct InjectedFailure: Error, CustomStringConvertible {
    let rank: Int
    var description: String { "injected failure on rank \(rank) (--fail-on-rank \(rank))" }
}

/// Some collective returned a value different from the serial computation.
struct SelfTestFailure: Error, CustomStringConvertible {
    let checks: [String]
    var description: String { "selftest failed: \(checks.joined(separator: ", "))" }
}
