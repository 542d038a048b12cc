#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import DistributedTraining

/// Stop signals are recorded, not fatal, once the handlers are installed; the decisions agree.
final class StopSignalTests: XCTestCase {
    override func tearDown() {
        // The test process must stay killable by SIGTERM.
        StopSignal.uninstall()
        StopSignal.clear()
    }

    func testSignalsAreRecordedAndAgreed() throws {
        let world = try TestWorld.shared()
        StopSignal.install()
        StopSignal.install()  // idempotent
        StopSignal.clear()
        XCTAssertNil(StopSignal.pending)
        XCTAssertNil(try world.agreedStopSignal())

        XCTAssertEqual(raise(SIGUSR1), 0)  // would end the test process without the handler
        XCTAssertEqual(StopSignal.pending, SIGUSR1)
        XCTAssertEqual(try world.agreedStopSignal(), SIGUSR1)
        XCTAssertEqual(StopSignal.name(SIGUSR1), "SIGUSR1")

        XCTAssertEqual(raise(SIGTERM), 0)
        XCTAssertEqual(try world.agreedStopSignal(), SIGTERM)
        XCTAssertEqual(StopSignal.name(SIGTERM), "SIGTERM")
        StopSignal.clear()
        XCTAssertNil(try world.agreedStopSignal())
    }

    func testDecisionsOnOneRank() throws {
        let world = try TestWorld.shared()
        XCTAssertTrue(try world.agree(true))
        XCTAssertFalse(try world.agree(false))
        XCTAssertTrue(try world.rootDecision(true))
        XCTAssertFalse(try world.rootDecision(false))
    }

    func testResubmissionStatusIsEXTempFail() {
        XCTAssertEqual(ExitStatus.checkpointedResubmit, 75)
        let stop = StoppedForResubmission(signal: SIGUSR1, detail: "checkpoint step-12 written")
        XCTAssertEqual("\(stop)", "stopped by SIGUSR1: checkpoint step-12 written; exit status 75 (resubmit to continue)")
    }
}

/// The replica check on one rank: a world of one always agrees with itself; the hash covers the
/// length and every bit (the multi-rank disagreement is checked by LauncherTests).
final class ReplicaCheckTests: XCTestCase {
    func testOneRankAgreesWithItself() throws {
        let world = try TestWorld.shared()
        XCTAssertTrue(try world.sameOnEveryRank([1, 2, 3]))
        XCTAssertTrue(try world.sameOnEveryRank([]))
    }
}
