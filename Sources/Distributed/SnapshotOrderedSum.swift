/// A sum of per-snapshot Double rows (loss sums, counts, target sums and squares, neighbor
/// counts) that is bitwise the same at any rank count.
///
/// Each rank fills the rows of its own snapshots (positions in a global batch, or in a list of
/// snapshots); `reduce` all-reduces the whole table — every row is non-zero on one rank only, and
/// x + 0 = x exactly, so this is an exact all-gather — then adds the rows in row order on every
/// rank. The result depends on the rows only, never on which rank held which.
///
/// Sized rows × width Doubles: meant for statistics (tens of values per snapshot), not gradients.
public struct SnapshotOrderedSum {
    public let rowCount: Int
    public let width: Int
    /// rowCount × (width + 1) Doubles; the last column counts the ranks that filled the row.
    private var table: [Double]

    public init(rowCount: Int, width: Int) {
        precondition(rowCount >= 0 && width >= 1, "rowCount \(rowCount), width \(width)")
        self.rowCount = rowCount
        self.width = width
        table = [Double](repeating: 0, count: rowCount * (width + 1))
    }

    /// Sets row `row` (this rank's snapshot at that position) to `values` (`width` Doubles).
    public mutating func set(row: Int, _ values: [Double]) {
        precondition(row >= 0 && row < rowCount, "row \(row) outside 0..<\(rowCount)")
        precondition(values.count == width, "\(values.count) values, expected \(width)")
        let start = row * (width + 1)
        for j in 0 ..< width { table[start + j] = values[j] }
        table[start + width] = 1
    }

    /// Σ over rows, in row order, of every column: the same `width` Doubles on every rank.
    /// Collective. Throws if two ranks filled the same row (a sharding bug); rows nobody filled
    /// count as zeros.
    public func reduce(over world: Communicator) throws -> [Double] {
        var gathered = table
        try world.allReduce(&gathered, .sum)
        var total = [Double](repeating: 0, count: width)
        for row in 0 ..< rowCount {
            let start = row * (width + 1)
            guard gathered[start + width] <= 1 else {
                throw ShardingError("row \(row) of a snapshot-ordered sum was filled by \(Int(gathered[start + width])) ranks")
            }
            for j in 0 ..< width { total[j] += gathered[start + j] }
        }
        return total
    }
}
