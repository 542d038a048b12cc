import CBLAS
import Dispatch
import Foundation

/// Threads inside one rank: a parallel loop over contiguous index ranges, built on Dispatch's
/// `concurrentPerform`.
///
/// Determinism is the caller's contract, and the kernels keep it: every output number is owned by
/// exactly one index (a receiver node, a sender node, an edge) and is summed by that index in a
/// fixed order. How the indices are cut into ranges, and which thread runs which range, then
/// changes nothing: results are bitwise the same for any thread count.
public enum ParallelFor {
    /// Threads the kernels use when not told otherwise. Set once at start-up (`launcher
    /// --threads`); the default is `OMP_NUM_THREADS`, else `SLURM_CPUS_PER_TASK`, else 1 (one
    /// rank per core is the safe default under mpirun).
    ///
    /// Setting it also pins OpenBLAS to ONE thread: OpenBLAS's threaded sgemm does not give
    /// bitwise the same products as its one-thread sgemm (measured here: the predictions of the
    /// network differed between 1 and 2 threads), and results must not depend on the thread count.
    /// The matrix products are threaded one level up instead: rows are cut into fixed blocks
    /// (`RowBlocks`), one one-thread sgemm per block, the blocks spread over these threads.
    /// (Concurrent calls into OpenBLAS from several threads are safe in its pthread build.)
    /// (OpenBLAS is pinned as soon as this setting is first read or written: a program should
    /// set `threadCount` at start-up, before any matrix product.)
    public static var threadCount: Int {
        get { setting.value }
        set {
            setting.value = max(1, newValue)
            openblas_set_num_threads(1)
        }
    }

    /// The default thread count from the environment (see `threadCount`).
    public static func threadCountFromEnvironment() -> Int {
        let env = ProcessInfo.processInfo.environment
        for key in ["OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"] {
            if let text = env[key], let t = Int(text.trimmingCharacters(in: .whitespaces)), t > 0 { return t }
        }
        return 1
    }

    /// Calls `body` on contiguous ranges that together cover `0..<count` exactly once, from up to
    /// `threads` threads at a time. With `weights` (a CSR offset array of `count + 1` entries, e.g.
    /// receiver offsets), ranges are cut so each holds about the same number of items + edges.
    /// One thread: a single call with the whole range, on the calling thread.
    public static func ranges(
        _ count: Int, threads: Int = ParallelFor.threadCount, weights offsets: UnsafePointer<Int>? = nil,
        _ body: @escaping (Range<Int>) -> Void
    ) {
        if count <= 0 { return }
        let t = min(max(1, threads), count)
        if t == 1 { body(0..<count); return }
        // Several ranges per thread, so that a slow range (or a thread the machine slows down)
        // does not leave the other threads idle.
        let parts = min(count, 8 * t)
        var cuts = [Int](repeating: 0, count: parts + 1)
        cuts[parts] = count
        if let offsets {
            // Cut where (index + edges so far) crosses k/parts of the total work.
            let total = Double(count + offsets[count] - offsets[0])
            var i = 0
            for k in 1..<parts {
                let target = total * Double(k) / Double(parts)
                while i < count && Double(i + offsets[i] - offsets[0]) < target { i += 1 }
                cuts[k] = i
            }
        } else {
            for k in 1..<parts { cuts[k] = count * k / parts }
        }
        // Dispatch wants a @Sendable closure; the ranges are disjoint and `body` writes only what
        // its range owns, which is the caller's contract above, so hand it over unchecked.
        let work = Unchecked(body), bounds = cuts
        // concurrentPerform runs iterations on at most the machine's cores; to honour a smaller
        // `t`, t workers each take the next range nobody has taken yet, until none is left.
        // Which worker runs which range changes nothing in the results (see above).
        let next = RangeCounter()
        DispatchQueue.concurrentPerform(iterations: t) { _ in
            while true {
                let k = next.take()
                if k >= parts { break }
                if bounds[k] < bounds[k + 1] { work.value(bounds[k]..<bounds[k + 1]) }
            }
        }
    }

    /// The next range to hand out (0, 1, 2, …), shared by the workers of one `ranges` call.
    private final class RangeCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take() -> Int {
            lock.lock(); defer { lock.unlock() }
            value += 1
            return value - 1
        }
    }

    private struct Unchecked<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    private final class Setting: @unchecked Sendable {
        private let lock = NSLock()
        private var stored = ParallelFor.threadCountFromEnvironment()
        init() { openblas_set_num_threads(1) }  // see `threadCount`
        var value: Int {
            get { lock.lock(); defer { lock.unlock() }; return stored }
            set { lock.lock(); stored = newValue; lock.unlock() }
        }
    }

    private static let setting = Setting()
}
