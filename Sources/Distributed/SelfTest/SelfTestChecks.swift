import Foundation

/// One row of the self-test: what MPI returned on this rank against the serial computation.
public struct SelfTestRow {
    /// The check's name, e.g. "allreduce.sum.Double" (no spaces: the table is parsed by tests).
    public var check: String
    /// Number of elements moved.
    public var elements: Int
    /// A summary of MPI's result on this rank (a sum over the elements, or the values).
    public var observed: String
    /// The same summary of the serial result.
    public var expected: String
    /// Elements (or values) on this rank that differ from the serial result.
    public var mismatches: Int
}

/// Runs every collective of `DistributedTraining` on `world` and compares each result with the
/// value computed serially on this rank from `SelfTestPattern`.
public struct SelfTestChecks {
    public let world: Communicator
    public var rows: [SelfTestRow] = []

    public init(world: Communicator) { self.world = world }

    public mutating func runAll() throws {
        for operation in ReductionOperation.allCases {
            try allReduceFloat(operation)
            try allReduceDouble(operation)
            try allReduceInt64(operation)
        }
        try allReduceScalars()
        try broadcastBuffers()
        try broadcastValues()
        try gathers()
        try barrierWaits()
    }

    // MARK: all-reduce

    /// The serial reduction over ranks of `value(r)`.
    private func reduce<T: Comparable>(_ operation: ReductionOperation, _ value: (Int) -> T, _ add: (T, T) -> T) -> T {
        var result = value(0)
        for r in 1..<max(world.size, 1) {
            switch operation {
            case .sum: result = add(result, value(r))
            case .max: result = Swift.max(result, value(r))
            case .min: result = Swift.min(result, value(r))
            }
        }
        return result
    }

    /// Through the UnsafeMutableBufferPointer entry point.
    private mutating func allReduceFloat(_ operation: ReductionOperation) throws {
        let n = SelfTestPattern.floatCount
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { buffer.deallocate() }
        for i in 0..<n { buffer[i] = SelfTestPattern.float(rank: world.rank, index: i) }
        try world.allReduce(buffer, operation)
        let serial = (0..<n).map { i in reduce(operation, { SelfTestPattern.float(rank: $0, index: i) }, +) }
        rows.append(Self.compared("allreduce.\(operation).Float", Array(buffer), serial, sum: Self.sum))
    }

    /// Through the inout-array entry point.
    private mutating func allReduceDouble(_ operation: ReductionOperation) throws {
        let n = SelfTestPattern.doubleCount
        var values = (0..<n).map { SelfTestPattern.double(rank: world.rank, index: $0) }
        try world.allReduce(&values, operation)
        let serial = (0..<n).map { i in reduce(operation, { SelfTestPattern.double(rank: $0, index: i) }, +) }
        rows.append(Self.compared("allreduce.\(operation).Double", values, serial, sum: Self.sum))
    }

    private mutating func allReduceInt64(_ operation: ReductionOperation) throws {
        let n = SelfTestPattern.int64Count
        var values = (0..<n).map { SelfTestPattern.int64(rank: world.rank, index: $0) }
        try world.allReduce(&values, operation)
        let serial = (0..<n).map { i in reduce(operation, { SelfTestPattern.int64(rank: $0, index: i) }, &+) }
        rows.append(Self.compared("allreduce.\(operation).Int64", values, serial, sum: Self.wrappingSum))
    }

    private mutating func allReduceScalars() throws {
        let doubleSum = try world.allReduce(Double(world.rank) + 0.5, .sum)
        let doubleSerial = reduce(.sum, { Double($0) + 0.5 }, +)
        rows.append(SelfTestRow(check: "allreduce.sum.scalar-Double", elements: 1,
                                observed: "\(doubleSum)", expected: "\(doubleSerial)",
                                mismatches: doubleSum == doubleSerial ? 0 : 1))
        let int64Max = try world.allReduce(Int64((world.rank * 37) % 5), .max)
        let int64Serial = reduce(.max, { Int64(($0 * 37) % 5) }, &+)
        rows.append(SelfTestRow(check: "allreduce.max.scalar-Int64", elements: 1,
                                observed: "\(int64Max)", expected: "\(int64Serial)",
                                mismatches: int64Max == int64Serial ? 0 : 1))
    }

    /// The row of a check of `received` against the serial `expected`, element by element; the
    /// summaries are `sum` of each.
    private static func compared<T: Equatable>(_ check: String, _ received: [T], _ expected: [T],
                                               sum: ([T]) -> String) -> SelfTestRow {
        SelfTestRow(check: check, elements: received.count, observed: sum(received), expected: sum(expected),
                    mismatches: zip(received, expected).filter { $0 != $1 }.count)
    }

    /// The sum in Double, in index order.
    private static func sum<T: BinaryFloatingPoint>(_ values: [T]) -> String { "\(values.reduce(0.0) { $0 + Double($1) })" }

    /// The wrapping sum.
    private static func wrappingSum(_ values: [Int64]) -> String { "\(values.reduce(Int64(0), &+))" }

    // MARK: broadcast

    /// Buffers of Double and Int64 from the last rank, of Float from rank 0.
    private mutating func broadcastBuffers() throws {
        let last = world.size - 1
        let isLast = world.rank == last

        // Doubles from the last rank; the others start from values that must be overwritten.
        var doubles = (0..<SelfTestPattern.doubleCount).map {
            isLast ? SelfTestPattern.double(rank: last, index: $0) : -1
        }
        try world.broadcast(&doubles, from: last)
        rows.append(Self.compared("broadcast.Double.from-last", doubles,
                                  doubles.indices.map { SelfTestPattern.double(rank: last, index: $0) }, sum: Self.sum))

        // Floats from rank 0 (the default root), through a buffer pointer.
        let n = SelfTestPattern.floatCount
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { floats.deallocate() }
        for i in 0..<n { floats[i] = world.rank == 0 ? SelfTestPattern.float(rank: 0, index: i) : .nan }
        try world.broadcast(floats)
        rows.append(Self.compared("broadcast.Float.from-0", Array(floats),
                                  (0..<n).map { SelfTestPattern.float(rank: 0, index: $0) }, sum: Self.sum))

        var ints = (0..<SelfTestPattern.int64Count).map {
            isLast ? SelfTestPattern.int64(rank: last, index: $0) : 0
        }
        try world.broadcast(&ints, from: last)
        rows.append(Self.compared("broadcast.Int64.from-last", ints,
                                  ints.indices.map { SelfTestPattern.int64(rank: last, index: $0) }, sum: Self.wrappingSum))
    }

    /// Bytes and a string whose length only the root knows, and one value, from the last rank.
    private mutating func broadcastValues() throws {
        let last = world.size - 1
        let isLast = world.rank == last
        let sentBytes = isLast ? (0..<(300 + last)).map { SelfTestPattern.byte(root: last, index: $0) } : []
        let bytes = try world.broadcast(sentBytes, from: last)
        let serialBytes = (0..<(300 + last)).map { SelfTestPattern.byte(root: last, index: $0) }
        rows.append(SelfTestRow(check: "broadcast.bytes.from-last", elements: bytes.count,
                                observed: "\(bytes.reduce(0) { $0 + Int($1) })",
                                expected: "\(serialBytes.reduce(0) { $0 + Int($1) })",
                                mismatches: bytes == serialBytes ? 0 : 1))

        let string = try world.broadcast(isLast ? SelfTestPattern.broadcastString(root: last) : "", from: last)
        let serialString = SelfTestPattern.broadcastString(root: last)
        rows.append(SelfTestRow(check: "broadcast.String.from-last", elements: 1,
                                observed: string, expected: serialString,
                                mismatches: string == serialString ? 0 : 1))

        let scalar = try world.broadcast(isLast ? 0.5 + Double(last) : -1, from: last)
        rows.append(SelfTestRow(check: "broadcast.scalar-Double.from-last", elements: 1,
                                observed: "\(scalar)", expected: "\(0.5 + Double(last))",
                                mismatches: scalar == 0.5 + Double(last) ? 0 : 1))
    }

    // MARK: gather

    /// Gathers to rank 0: rank 0 checks the values, the others check that they received nothing.
    private mutating func gathers() throws {
        let ranks = 0..<world.size

        let doubles = try world.gather(SelfTestPattern.gatherDouble(rank: world.rank), to: 0)
        let serialDoubles = ranks.map(SelfTestPattern.gatherDouble(rank:))
        appendGatherRow("gather.Double.to-0", doubles, serialDoubles)

        let ints = try world.gather(SelfTestPattern.gatherInt64(rank: world.rank), to: 0)
        let serialInts = ranks.map(SelfTestPattern.gatherInt64(rank:))
        appendGatherRow("gather.Int64.to-0", ints, serialInts)

        let strings = try world.gather(SelfTestPattern.gatherString(rank: world.rank), to: 0)
        let serialStrings = ranks.map(SelfTestPattern.gatherString(rank:))
        appendGatherRow("gather.String.to-0", strings, serialStrings)
    }

    private mutating func appendGatherRow<T: Equatable>(_ check: String, _ received: [T]?, _ serial: [T]) {
        let expected = world.isRoot ? serial.map { "\($0)" }.joined(separator: ",") : "nil"
        let observed = received.map { $0.map { "\($0)" }.joined(separator: ",") } ?? "nil"
        let correct = world.isRoot ? received == serial : received == nil
        rows.append(SelfTestRow(check: check, elements: serial.count, observed: observed,
                                expected: expected, mismatches: correct ? 0 : 1))
    }

    // MARK: barrier

    /// Rank 0 enters the barrier `delay` late; every other rank must wait at least half of it.
    private mutating func barrierWaits() throws {
        let delay = 0.2
        try world.barrier()  // start together
        let start = Date()
        if world.rank == 0 { Thread.sleep(forTimeInterval: delay) }
        try world.barrier()
        let waited = Date().timeIntervalSince(start)
        // The shortest wait of the ranks that did not sleep (none in a world of 1).
        let shortest = try world.allReduce(world.rank == 0 ? Double.infinity : waited, .min)
        let tooShort = world.rank != 0 && waited < delay / 2
        rows.append(SelfTestRow(
            check: "barrier.waits-for-rank-0", elements: 1,
            observed: shortest.isFinite ? String(format: "%.3fs", shortest) : "n/a",
            expected: world.size > 1 ? String(format: ">=%.3fs", delay / 2) : "n/a",
            mismatches: tooShort ? 1 : 0))
    }
}

/// The collective self-test's outcome, the same on every rank: each check's row on this rank,
/// and over all ranks the elements that differed and the ranks on which some did.
public struct SelfTestReport {
    public let rows: [SelfTestRow]
    public let mismatches: [Int64]
    public let failingRanks: [Int64]

    /// The names of the checks that failed on some rank.
    public var failedChecks: [String] { rows.indices.filter { mismatches[$0] > 0 }.map { rows[$0].check } }

    /// Runs every check (`SelfTestChecks`) and combines the mismatches over the ranks. Collective.
    public static func run(on world: Communicator) throws -> SelfTestReport {
        var checks = SelfTestChecks(world: world)
        try checks.runAll()
        var mismatches = checks.rows.map { Int64($0.mismatches) }
        var failingRanks = checks.rows.map { Int64($0.mismatches > 0 ? 1 : 0) }
        try world.allReduce(&mismatches, .sum)
        try world.allReduce(&failingRanks, .sum)
        return SelfTestReport(rows: checks.rows, mismatches: mismatches, failingRanks: failingRanks)
    }

    /// The table rank 0 prints: one row per check (names without spaces: tests parse it).
    public var tableLines: [String] {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        let widths = [34, 9, 30, 30, 9]
        let header = ["check", "elements", "observed(rank0)", "expected(serial)", "bad-ranks"]
        var lines = [zip(header, widths).map { pad($0, $1) }.joined(separator: "  ") + "  result"]
        for (index, row) in rows.enumerated() {
            let cells = [row.check, "\(row.elements)", row.observed, row.expected, "\(failingRanks[index])"]
            let result = mismatches[index] == 0 ? "ok" : "MISMATCH(\(mismatches[index]) elements)"
            lines.append(zip(cells, widths).map { pad($0, $1) }.joined(separator: "  ") + "  " + result)
        }
        return lines
    }
}

/// The error `selftest --fail-on-rank` throws on purpose.
public struct InjectedFailure: Error, CustomStringConvertible {
    public let rank: Int
    public init(rank: Int) { self.rank = rank }
    public var description: String { "injected failure on rank \(rank) (--fail-on-rank \(rank))" }
}

/// Some collective returned a value different from the serial computation.
public struct SelfTestFailure: Error, CustomStringConvertible {
    public let checks: [String]
    public init(checks: [String]) { self.checks = checks }
    public var description: String { "selftest failed: \(checks.joined(separator: ", "))" }
}
