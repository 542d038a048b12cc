import XCTest
@testable import DistributedTraining

/// MPI failures become `MPIError`s naming the call, with MPI's own error string.
final class MPIErrorTests: XCTestCase {
    func testBroadcastFromARankOutsideTheWorldThrowsNamingTheCall() throws {
        let world = try TestWorld.shared()
        var values: [Double] = [1, 2]
        XCTAssertThrowsError(try world.broadcast(&values, from: 3)) { error in
            guard let error = error as? MPIError else { return XCTFail("not an MPIError: \(error)") }
            XCTAssertEqual(error.call, "MPI_Bcast")
            XCTAssertNotEqual(error.code, 0)
            // The message is MPI's description of the code, not a placeholder.
            XCTAssertEqual(error.message, MPIError.errorString(error.code))
            XCTAssertNotEqual(error.message, "unknown MPI error")
            XCTAssertTrue(error.description.hasPrefix("MPI_Bcast failed: "), error.description)
        }
        XCTAssertEqual(values, [1, 2])
    }

    func testGatherToARankOutsideTheWorldThrows() throws {
        let world = try TestWorld.shared()
        XCTAssertThrowsError(try world.gather(1.0, to: -2)) { error in
            XCTAssertEqual((error as? MPIError)?.call, "MPI_Gather")
        }
    }

    func testBufferBeyondMPICountLimitIsRefusedBeforeCallingMPI() throws {
        let world = try TestWorld.shared()
        let one = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { one.deallocate() }
        // The length is checked first; the memory is never touched.
        let huge = UnsafeMutableBufferPointer(start: one, count: Int(Int32.max) + 1)
        XCTAssertThrowsError(try world.allReduce(huge, .sum)) { error in
            guard let error = error as? MPIError else { return XCTFail("not an MPIError: \(error)") }
            XCTAssertEqual(error.call, "MPI_Allreduce")
            XCTAssertEqual(error.code, 2)  // MPI_ERR_COUNT
            XCTAssertEqual(error.description,
                           "MPI_Allreduce failed: 2147483648 elements exceed MPI's limit of 2147483647 per call (MPI error code 2)")
        }
    }

    func testASecondCommunicatorInTheSameProcessIsRefused() throws {
        _ = try TestWorld.shared()
        XCTAssertThrowsError(try Communicator()) { error in
            guard let error = error as? MPIError else { return XCTFail("not an MPIError: \(error)") }
            XCTAssertEqual(error.call, "MPI_Init_thread")
            XCTAssertTrue(error.message.contains("one Communicator per process"), error.message)
        }
    }

    func testErrorStringOfSuccessAndOfACountError() {
        // Independent of our formatting: MPI's own strings for two fixed codes differ and are non-empty.
        let success = MPIError.errorString(0)
        let count = MPIError.errorString(2)
        XCTAssertFalse(success.isEmpty)
        XCTAssertFalse(count.isEmpty)
        XCTAssertNotEqual(success, count)
        XCTAssertEqual(MPIError(call: "MPI_Barrier", code: 2).description,
                       "MPI_Barrier failed: \(count) (MPI error code 2)")
    }
}
