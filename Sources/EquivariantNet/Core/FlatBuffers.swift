/// The row-major `[Float]` buffers of the network's passes (activations, gradients, work
/// space): sized to the snapshot, kept between calls, and handed to the kernels as pointers
/// (Swift's array-to-pointer argument conversion: no copy, no closure).
enum FlatBuffers {
    /// Makes `buffer` hold exactly `count` numbers, reallocating only when the count changes
    /// (contents are then zero; otherwise they are the previous call's).
    static func fit(_ buffer: inout [Float], _ count: Int) {
        if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
    }

    /// Every number of `buffer` ← 0.
    static func zero(_ buffer: inout [Float]) {
        buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// y[i][·] += x[i][·] for the `width` numbers of every row of `blocks`.
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, width: Int, blocks: RowBlocks) {
        if blocks.rows == 0 { return }
        blocks.forEach { _, r in
            for q in (r.lowerBound * width)..<(r.upperBound * width) { y[q] += x[q] }
        }
    }

    /// Row i of `y` (`yWidth` numbers) ← the first numbers of row i of `x` (`xWidth`), for
    /// `rows` rows: min(xWidth, yWidth) copied, the rest of y's row zero.
    static func copyRows(_ x: UnsafePointer<Float>, width xWidth: Int, into y: UnsafeMutablePointer<Float>,
                         width yWidth: Int, rows: Int) {
        let copied = min(xWidth, yWidth)
        for i in 0..<rows {
            let row = y + i * yWidth
            row.update(from: x + i * xWidth, count: copied)
            (row + copied).update(repeating: 0, count: yWidth - copied)
        }
    }
}
