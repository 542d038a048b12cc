import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Prints a line and flushes standard output at once, so that lines printed before an abort
/// reach the terminal or the log file.
public func printNow(_ line: String = "") {
    print(line)
    fflush(nil)
}

/// One line of compact, key-sorted JSON.
public func jsonLine(_ object: [String: Any]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self)
}

/// "1h02m03s" / "2m05s" / "7s".
public func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h" + String(format: "%02dm%02ds", (s % 3600) / 60, s % 60) }
    if s >= 60 { return "\(s / 60)m" + String(format: "%02ds", s % 60) }
    return "\(s)s"
}
