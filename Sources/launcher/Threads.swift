import ArgumentParser
import EquivariantNet

/// Sets the threads of this rank before any matrix product: `requested` (from `--threads`), else
/// `OMP_NUM_THREADS`, else `SLURM_CPUS_PER_TASK`, else 1.
///
/// The count goes to the network's own kernels (`ParallelFor`), whose results do not depend on
/// it. OpenBLAS stays on ONE thread whatever is asked (`ParallelFor.threadCount`'s setter pins
/// it): its threaded sgemm does not give bitwise the same products as its one-thread sgemm, and
/// under `mpirun --oversubscribe` (no core binding) it would start one thread per core, so the
/// training would differ in its last bits between rank counts.
@discardableResult
func configureThreads(_ requested: Int?) -> Int {
    ParallelFor.threadCount = requested ?? ParallelFor.threadCountFromEnvironment()
    return ParallelFor.threadCount
}

/// `--threads`, the same option in every command that runs the network.
struct ThreadsOption: ParsableArguments {
    @Option(name: .long, help: "Threads per rank for the network's kernels (default: OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else 1). Results do not depend on it.")
    var threads: Int?

    /// Sets this rank's threads (`configureThreads`).
    func configure() { configureThreads(threads) }
}
