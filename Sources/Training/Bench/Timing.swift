import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// CPU time of the calling thread spent in `body`, in milliseconds: unlike wall time, it does not
/// count the time the thread waits for a core on a busy machine (one-thread kernels only).
public func cpuMilliseconds(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) * 1e3 + Double(end.tv_nsec - start.tv_nsec) / 1e6
}

/// Wall time of `body` in milliseconds.
public func wallMilliseconds(_ body: () -> Void) -> Double { milliseconds(body) }

public func milliseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

public func rounded(_ x: Double, digits: Int = 2) -> Double {
    let p = Foundation.pow(10, Double(digits))
    return (x * p).rounded() / p
}

/// Peak resident memory of this process so far, in MB (getrusage; Linux reports kB).
public func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
