import XCTest
@testable import DistributedTraining

/// The start-up check against N single-rank processes launched by mistake under Slurm.
final class SlurmTaskCountTests: XCTestCase {
    func testOutsideSlurmThereIsNothingToCheck() {
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 1, environment: [:]))
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 1, environment: ["SLURM_NTASKS": "4"]))
    }

    func testBatchScriptIsNotAJobStep() {
        let environment = ["SLURM_JOB_ID": "7", "SLURM_STEP_ID": "batch", "SLURM_NTASKS": "4"]
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 1, environment: environment))
    }

    func testSingleRankProcessesInAFourTaskStepAreCaught() throws {
        let environment = ["SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "4"]
        let mismatch = try XCTUnwrap(slurmTaskCountMismatch(worldSize: 1, environment: environment))
        XCTAssertEqual(mismatch, SlurmTaskCountMismatch(worldSize: 1, slurmTasks: 4, variable: "SLURM_NTASKS"))
        XCTAssertTrue(mismatch.description.hasPrefix(
            "MPI world has 1 rank but this Slurm job step runs 4 tasks (SLURM_NTASKS=4)."), mismatch.description)
        XCTAssertTrue(mismatch.description.contains("srun --mpi=pmix -n 4"))
        XCTAssertTrue(mismatch.description.contains("mpirun -np 4"))
    }

    func testMatchingWorldPasses() {
        let environment = ["SLURM_STEP_ID": "3", "SLURM_NTASKS": "4"]
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 4, environment: environment))
    }

    func testStepTaskCountTakesPrecedenceOverTheJobs() {
        let environment = ["SLURM_STEP_ID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "8"]
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 2, environment: environment))
        XCTAssertEqual(slurmTaskCountMismatch(worldSize: 8, environment: environment)?.slurmTasks, 2)
    }

    func testProcessesStartedByMPIRunAreNotChecked() {
        // mpirun inside an allocation: Slurm's counts describe mpirun's daemons, not the ranks.
        let environment = ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "1",
                           "OMPI_MCA_orte_hnp_uri": "123.0;tcp://10.0.0.1:4000"]
        XCTAssertNil(slurmTaskCountMismatch(worldSize: 4, environment: environment))
    }

    func testCommunicatorCheckUsesItsWorldSize() throws {
        let world = try TestWorld.shared()
        XCTAssertNoThrow(try world.verifySlurmTaskCount(environment: ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "1"]))
        XCTAssertThrowsError(try world.verifySlurmTaskCount(
            environment: ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "2"])) { error in
            XCTAssertEqual((error as? SlurmTaskCountMismatch)?.slurmTasks, 2)
        }
    }
}
