/// The rank-dependent values the self-test sends through MPI.
///
/// Every value is a small multiple of a power of two (or an integer), so sums over ranks are
/// exact in any order: MPI's results must equal the serial ones bit for bit.
public enum SelfTestPattern {
    public static let floatCount = 10_007
    public static let doubleCount = 100_003
    public static let int64Count = 10_007

    /// Element `i` of rank `r`'s Float buffer: quarters in [-12.5, 12.5].
    public static func float(rank r: Int, index i: Int) -> Float {
        Float((7 * (r + 1) + 13 * i) % 101) * 0.25 - 12.5
    }

    /// Element `i` of rank `r`'s Double buffer: eighths in [-60, 66].
    public static func double(rank r: Int, index i: Int) -> Double {
        Double((31 * (r + 2) + 17 * i) % 1009) * 0.125 - 60
    }

    /// Element `i` of rank `r`'s Int64 buffer: beyond 32 bits, alternating in sign.
    public static func int64(rank r: Int, index i: Int) -> Int64 {
        (i % 2 == 0 ? 1 : -1) * (Int64(r + 1) << 40) + 3 * Int64(i) - 1_000_003 * Int64(r)
    }

    /// Byte `i` of the bytes broadcast from `root`, which has `300 + root` of them.
    public static func byte(root: Int, index i: Int) -> UInt8 {
        UInt8((7 * i + root) % 256)
    }

    /// The string broadcast from `root` (multi-byte UTF-8 on purpose, no spaces).
    public static func broadcastString(root: Int) -> String {
        "Kob–Andersen-80:20-from-rank-\(root)"
    }

    /// The string rank `r` sends to the gather: its length depends on the rank.
    public static func gatherString(rank r: Int) -> String {
        "rank\(r):" + String(repeating: "ab", count: r)
    }

    /// The Double rank `r` sends to the gather.
    public static func gatherDouble(rank r: Int) -> Double { Double(r) * 1.5 + 0.25 }

    /// The Int64 rank `r` sends to the gather.
    public static func gatherInt64(rank r: Int) -> Int64 { -(Int64(r + 1) << 35) }
}
