import CBLAS
import Foundation

/// Sets up the threads of this rank before any matrix product.
///
/// OpenBLAS runs on ONE thread whatever is asked: its threaded sgemm does not give bitwise the
/// same products as its one-thread sgemm, and under `mpirun --oversubscribe` (no core binding)
/// OpenBLAS would otherwise start one thread per core of the machine, while a bound rank starts
/// one: the training would then differ in its last bits between rank counts. `requested` (from
/// `--threads`, else `OMP_NUM_THREADS`, else `SLURM_CPUS_PER_TASK`, else 1) is the thread count
/// for the network's own kernels once they are threaded; it never changes the results.
@discardableResult
func configureThreads(_ requested: Int?) -> Int {
    openblas_set_num_threads(1)
    if let requested { return max(1, requested) }
    let environment = ProcessInfo.processInfo.environment
    for key in ["OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"] {
        if let text = environment[key], let t = Int(text.trimmingCharacters(in: .whitespaces)), t > 0 { return t }
    }
    return 1
}
