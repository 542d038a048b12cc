import XCTest
@testable import DistributedTraining

/// The collectives in a world of one rank, where each has a known result: a reduction over one
/// rank is that rank's value, a broadcast from rank 0 leaves the data as it was, a gather returns
/// the one value. The multi-rank results are checked by LauncherTests under mpirun.
final class SingleRankCollectiveTests: XCTestCase {
    func testWorldWithoutMPIRunIsRankZeroOfOne() throws {
        let world = try TestWorld.shared()
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertTrue(world.isRoot)
    }

    func testAllReduceOfOneRankIsTheIdentityForEveryTypeAndOperation() throws {
        let world = try TestWorld.shared()
        for operation in ReductionOperation.allCases {
            let floats: [Float] = [1.5, -2.25, 3e-8, .greatestFiniteMagnitude]
            var f = floats
            try world.allReduce(&f, operation)
            XCTAssertEqual(f, floats, "\(operation)")

            let doubles: [Double] = [0.1, -1e300, 7, -0.0]
            var d = doubles
            try world.allReduce(&d, operation)
            XCTAssertEqual(d, doubles, "\(operation)")

            let ints: [Int64] = [.max, .min, 0, -3, 1 << 40]
            var i = ints
            try world.allReduce(&i, operation)
            XCTAssertEqual(i, ints, "\(operation)")
        }
    }

    func testAllReduceThroughBufferPointerWorksInPlace() throws {
        let world = try TestWorld.shared()
        let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: 1000)
        defer { buffer.deallocate() }
        for i in 0..<1000 { buffer[i] = Double(i) * 0.5 - 7 }
        try world.allReduce(buffer, .sum)
        // Sum over one rank: every element unchanged; and the buffer is the one we passed.
        var total = 0.0
        for i in 0..<1000 {
            XCTAssertEqual(buffer[i], Double(i) * 0.5 - 7)
            total += buffer[i]
        }
        XCTAssertEqual(total, 0.5 * 999 * 1000 / 2 - 7000)
    }

    func testScalarReductions() throws {
        let world = try TestWorld.shared()
        XCTAssertEqual(try world.allReduce(2.75, .sum), 2.75)
        XCTAssertEqual(try world.allReduce(Int64(-5), .max), -5)
        XCTAssertEqual(try world.allReduce(Int64(1) << 50, .min), 1 << 50)
    }

    func testEmptyBuffersAreAccepted() throws {
        let world = try TestWorld.shared()
        var empty: [Float] = []
        try world.allReduce(&empty, .sum)
        try world.broadcast(&empty)
        XCTAssertEqual(empty, [])
        XCTAssertEqual(try world.broadcast([UInt8](), from: 0), [])
        XCTAssertEqual(try world.broadcast("", from: 0), "")
    }

    func testBroadcastFromRankZeroKeepsTheData() throws {
        let world = try TestWorld.shared()
        var ints: [Int64] = [3, 1, 4, 1, 5, 9, 2, 6]
        try world.broadcast(&ints, from: 0)
        XCTAssertEqual(ints, [3, 1, 4, 1, 5, 9, 2, 6])
        XCTAssertEqual(try world.broadcast(0.125, from: 0), 0.125)
        XCTAssertEqual(try world.broadcast(Int64(-42)), -42)
        XCTAssertEqual(try world.broadcast("Kob–Andersen ε=1.5", from: 0), "Kob–Andersen ε=1.5")
        XCTAssertEqual(try world.broadcast([0, 255, 7], from: 0), [0, 255, 7] as [UInt8])
    }

    func testGatherReturnsEachRanksValueOnTheRoot() throws {
        let world = try TestWorld.shared()
        XCTAssertEqual(try world.gather(3.5, to: 0), [3.5])
        XCTAssertEqual(try world.gather(Int64(-9), to: 0), [-9])
        XCTAssertEqual(try world.gather("rank 0 on a host named σ", to: 0), ["rank 0 on a host named σ"])
        XCTAssertEqual(try world.gather("", to: 0), [""])
    }

    func testBarrierReturns() throws {
        try TestWorld.shared().barrier()
    }

    func testLibraryVersionIsReported() throws {
        let version = try Communicator.libraryVersion()
        XCTAssertFalse(version.isEmpty)
        XCTAssertFalse(version.hasSuffix("\n"))
        let standard = try Communicator.standardVersion()
        XCTAssertNotNil(standard.range(of: #"^[1-9]\.[0-9]$"#, options: .regularExpression), standard)
    }
}
