/// Rows (nodes or edges) cut into consecutive blocks of a FIXED size, and the threads that run them:
/// the unit of work of every threaded row-wise pass outside the tensor products (matrix products,
/// activations, gates, elementwise sums).
///
/// Why a fixed size: the blocks depend on the row count alone, never on the thread count. Each
/// block's rows are computed by the same calls (the same `sgemm` shapes, the same loops) whichever
/// thread runs it, and a sum over rows (a weight gradient) is formed per block and the block sums
/// are then added in increasing block order (`addPartials`). So results are bitwise identical for
/// any thread count; threads only decide which thread runs which block.
public struct RowBlocks: Sendable {
    /// Block size for per-node passes (linears, gates): small, so N = 1000 still gives 8 blocks.
    public static let nodeBlockSize = 128
    /// Block size for per-edge passes (radial MLPs): large enough for efficient `sgemm` calls.
    public static let edgeBlockSize = 1024

    public let rows: Int
    public let size: Int
    public let threads: Int

    public init(rows: Int, size: Int, threads: Int = ParallelFor.threadCount) {
        precondition(rows >= 0 && size > 0, "RowBlocks: bad rows \(rows) or block size \(size)")
        self.rows = rows
        self.size = size
        self.threads = max(1, threads)
    }

    /// Number of blocks (0 for no rows).
    public var count: Int { (rows + size - 1) / size }

    /// Rows of block `b`.
    public func range(_ b: Int) -> Range<Int> { (b * size)..<min(rows, (b + 1) * size) }

    /// Calls `body(b, rows of b)` once for every block, from up to `threads` threads.
    public func forEach(_ body: @escaping (Int, Range<Int>) -> Void) {
        let blocks = self
        ParallelFor.ranges(count, threads: threads) { bs in
            for b in bs { body(b, blocks.range(b)) }
        }
    }

    /// `total[i] += Σ_b partials[b · width + i]` with the blocks added one after the other in
    /// increasing b: a fixed order, so the sum does not depend on which thread made which partial.
    public func addPartials(_ partials: UnsafePointer<Float>, width: Int, into total: UnsafeMutablePointer<Float>) {
        for b in 0..<count {
            let p = partials + b * width
            for i in 0..<width { total[i] += p[i] }
        }
    }
}
