#if canImport(Glibc)
import Glibc
#endif

/// Prints a line and flushes standard output at once, so that lines printed before an abort
/// reach the terminal or the log file.
func printNow(_ line: String = "") {
    print(line)
    fflush(nil)
}
