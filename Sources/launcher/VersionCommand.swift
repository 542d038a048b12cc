import ArgumentParser
import DistributedTraining
import Foundation
import Training

/// `launcher version`: what this program is built with and where its ranks run.
struct VersionCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the versions of EquiGlass, Swift and the MPI library, and each rank's host.",
        discussion: """
            Run without mpirun it reports rank 0 of 1. It also reports whether the MPI world \
            matches the Slurm job step, without failing, to help diagnose a launch.
            """)

    /// Reports a Slurm mismatch instead of refusing to run: this is the diagnostic command.
    static let runsCollectively = false

    func run(on world: Communicator) throws {
        let place = "rank \(world.rank) of \(world.size) on \(try world.processorName()) "
            + "(pid \(ProcessInfo.processInfo.processIdentifier))"
        let places = try world.gather(place, to: 0)
        guard let places else { return }
        printNow("EquiGlass launcher \(Launcher.equiGlassVersion)")
        printNow("Swift: \(swiftCompilerVersion)")
        printNow("MPI library: \(try Communicator.libraryVersion())")
        printNow("MPI standard: \(try Communicator.standardVersion())")
        for line in places { printNow(line) }
        let environment = ProcessInfo.processInfo.environment
        if let mismatch = slurmTaskCountMismatch(worldSize: world.size, environment: environment) {
            printNow("Slurm: MISMATCH: \(mismatch)")
        } else if environment["SLURM_JOB_ID"] != nil {
            printNow("Slurm: job \(environment["SLURM_JOB_ID"]!), world size consistent with the launch")
        }
    }
}

/// The Swift compiler this program was built with (as precise as `#if compiler` allows).
private var swiftCompilerVersion: String {
    #if compiler(>=6.5)
    return "6.5 or later"
    #elseif compiler(>=6.4)
    return "6.4"
    #elseif compiler(>=6.3)
    return "6.3"
    #elseif compiler(>=6.2)
    return "6.2"
    #elseif compiler(>=6.1)
    return "6.1"
    #else
    return "6.0"
    #endif
}
