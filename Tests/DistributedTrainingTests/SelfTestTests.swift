import XCTest
@testable import DistributedTraining

/// The self-test's library functions (what `launcher selftest` calls) in a world of one rank.
final class SelfTestTests: XCTestCase {
    /// Every collective check passes on one rank; the summaries are the serial values, e.g. the
    /// all-reduce sum of Doubles is Σ_i ((62 + 17 i) mod 1009) / 8 − 60 over rank 0's buffer.
    func testCollectiveChecksPassOnOneRank() throws {
        let report = try SelfTestReport.run(on: try TestWorld.shared())
        XCTAssertEqual(report.failedChecks, [])
        XCTAssertEqual(report.rows.count, 21)
        XCTAssertEqual(report.mismatches, [Int64](repeating: 0, count: 21))
        let names = report.rows.map(\.check)
        for name in ["allreduce.sum.Float", "allreduce.min.Int64", "broadcast.String.from-last", "gather.Int64.to-0",
                     "barrier.waits-for-rank-0"] {
            XCTAssertTrue(names.contains(name), "\(name) in \(names)")
        }
        var direct = 0.0
        for i in 0..<100_003 {
            let eighths = Double((62 + 17 * i) % 1009)
            direct += eighths * 0.125 - 60
        }
        let sum = try XCTUnwrap(report.rows.first { $0.check == "allreduce.sum.Double" })
        XCTAssertEqual(sum.observed, "\(direct)")
        XCTAssertEqual(sum.expected, "\(direct)")
        XCTAssertEqual(report.tableLines.count, 22)
        XCTAssertTrue(report.tableLines[0].hasPrefix("check"))
        XCTAssertTrue(report.tableLines.dropFirst().allSatisfy { $0.hasSuffix("  ok") })
    }

    func mockRun(steps: Int, nanSnapshot: Int? = nil, lines: inout [String]) throws {
        var collected: [String] = []
        defer { lines = collected }
        try DataParallelSelfTest(world: try TestWorld.shared(), snapshots: 5, globalBatch: 2, parameters: 7, steps: steps,
                                 seed: 3, fast: false, nanSnapshot: nanSnapshot, output: { collected.append($0) }).run()
    }

    /// The mock run: one line per step with the exact serial check, each epoch's order a
    /// permutation of the snapshots, the final hash.
    func testMockTrainingRunOnOneRank() throws {
        var lines: [String] = []
        try mockRun(steps: 4, lines: &lines)
        XCTAssertEqual(lines.first, "data-parallel: 1 ranks, 5 snapshots, global batch 2, 3 steps per epoch, 7 parameters, mode exact")
        XCTAssertEqual(lines.filter { $0.hasPrefix("step ") && $0.hasSuffix("serial-check exact") }.count, 4)
        let orders = lines.filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(orders.count, 2)
        for order in orders {
            let snapshots = order.split(separator: " ").last!.split(separator: ",").map { Int($0)! }
            XCTAssertEqual(snapshots.sorted(), [0, 1, 2, 3, 4])
        }
        XCTAssertEqual(lines.filter { $0.hasPrefix("data-parallel: parameters-hash ") }.count, 1)
    }

    /// A NaN in one snapshot's gradient stops the run at the step that trains on it.
    func testANonFiniteGradientStopsTheMockRun() throws {
        var lines: [String] = []
        XCTAssertThrowsError(try mockRun(steps: 6, nanSnapshot: 4, lines: &lines)) { error in
            XCTAssertEqual((error as? NonFiniteGradient)?.snapshot, 4, "\(error)")
        }
        XCTAssertFalse(lines.contains { $0.contains("parameters-hash") })
    }

    /// The serial check accepts the exactly rounded sum of the batch and refuses one bit less.
    func testSerialCheckCatchesAWrongSum() throws {
        let batch = [0, 3]
        var exact = [Double](repeating: 0, count: 9)
        for snapshot in batch {
            for (i, g) in DataParallelSelfTest.gradient(snapshot: snapshot, step: 2, seed: 5, count: 9).enumerated() {
                exact[i] += Double(g)  // exact in Double: multiples of 2^−40 below 2^7
            }
        }
        var sum = exact.map { Float($0) }  // rounded once
        XCTAssertEqual(try DataParallelSelfTest.checkAgainstSerialSum(sum, batch: batch, step: 2, seed: 5, mode: .exact),
                       "serial-check exact")
        sum[4] = sum[4].nextDown
        XCTAssertThrowsError(try DataParallelSelfTest.checkAgainstSerialSum(sum, batch: batch, step: 2, seed: 5, mode: .exact)) {
            XCTAssertTrue("\($0)".contains("data-parallel.sum step 2: 1 elements off the serial sum"), "\($0)")
        }
    }
}
