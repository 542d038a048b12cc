import Foundation

/// The MPI world does not match the Slurm job step it runs in.
///
/// The usual cause: `srun -n N launcher ...` with an MPI library that cannot talk to Slurm's
/// process manager, or a job script that starts the program N times without `srun`/`mpirun`.
/// Each process then starts MPI on its own and becomes rank 0 of 1: N copies train
/// independently on the whole data set, and nothing fails until the results are wrong.
public struct SlurmTaskCountMismatch: Error, Equatable, CustomStringConvertible {
    /// The number of ranks MPI reports.
    public let worldSize: Int
    /// The number of tasks Slurm started in this job step.
    public let slurmTasks: Int
    /// The environment variable `slurmTasks` was read from.
    public let variable: String

    public var description: String {
        "MPI world has \(worldSize) rank\(worldSize == 1 ? "" : "s") but this Slurm job step runs "
            + "\(slurmTasks) tasks (\(variable)=\(slurmTasks)). The tasks did not join one MPI job: "
            + "each started MPI on its own. Launch with `srun --mpi=pmix -n \(slurmTasks) launcher ...` "
            + "(see `srun --mpi=list` for the plug-ins your Slurm offers) or with "
            + "`mpirun -np \(slurmTasks) launcher ...` inside the allocation, not by starting the "
            + "program several times."
    }
}

extension Communicator {
    /// Checks that every task of the Slurm job step took part in this MPI world.
    ///
    /// Call it before any collective work (the launcher does, for every collective command).
    /// See `slurmTaskCountMismatch(worldSize:environment:)` for when the check applies.
    public func verifySlurmTaskCount(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        if let mismatch = slurmTaskCountMismatch(worldSize: size, environment: environment) {
            throw mismatch
        }
    }
}

/// The mismatch between the MPI world size and the Slurm job step, if there is one.
///
/// The check applies inside a Slurm job step started by `srun` (`SLURM_STEP_ID` is a number;
/// the batch script itself is not such a step) and not when an `mpirun`/`mpiexec` started this
/// process: `mpirun` chooses the world itself and Slurm's counts then describe its daemons.
/// The step's task count is `SLURM_STEP_NUM_TASKS`, else `SLURM_NTASKS`.
public func slurmTaskCountMismatch(
    worldSize: Int, environment: [String: String]
) -> SlurmTaskCountMismatch? {
    guard let step = environment["SLURM_STEP_ID"] ?? environment["SLURM_STEPID"],
          Int(step) != nil
    else { return nil }
    // Open MPI's mpirun (ORTE, 4.x) and PRRTE (5.x) mark the processes they launch.
    let launchedByMPIRun = ["OMPI_MCA_orte_hnp_uri", "PRTE_LAUNCHED", "OMPI_MCA_prte_launched"]
        .contains { environment[$0] != nil }
    guard !launchedByMPIRun else { return nil }
    for variable in ["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"] {
        guard let text = environment[variable] else { continue }
        guard let tasks = Int(text) else { return nil }
        return tasks == worldSize ? nil
            : SlurmTaskCountMismatch(worldSize: worldSize, slurmTasks: tasks, variable: variable)
    }
    return nil
}
