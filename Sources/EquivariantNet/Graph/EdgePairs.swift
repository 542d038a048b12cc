/// The two directions of every neighbour pair, so that the radial MLP runs once per pair.
///
/// The cut-off graph holds each pair twice, i → j and j → i, with exactly negated minimum-image
/// vectors (x_j − x_i and x_i − x_j are negatives in floating point too), hence bitwise equal
/// lengths. The radial MLP sees only |r|, so both edges have the same tensor-product weights w.
/// `EdgePairs` gives w one **row** per pair: the radial MLP runs on R ≈ E/2 rows instead of E
/// (half of the largest matrix products of a step, and half of the w buffer).
///
/// An edge whose reverse is missing or not exactly negated (possible in a hand-made
/// `ModelInput`) gets a row of its own, so the weights are always those of the edge's own length.
///
/// Backward: the two edges of a row each write ∂L/∂w_e to their own **slot** (2·row + side,
/// side 0 for the row's first edge, 1 for its second), and `sumSlots` adds the second slot into
/// the first before the radial MLP's backward: ∂L/∂w_row = ∂L/∂w_e + ∂L/∂w_reverse. Each number
/// has one writer and a two-term sum is the same in either order, so the result does not depend
/// on the thread count.
public struct EdgePairs: Sendable {
    /// Rows of w (pairs, plus single edges).
    public let rowCount: Int
    /// `[E]`: the row of w that edge e reads.
    public let rowOfEdge: [Int32]
    /// `[E]`: the slot (2·row + side) where edge e's ∂L/∂w goes.
    public let slotOfEdge: [Int32]
    /// `[R][2]`: the row's edges, the first in increasing edge order; −1 for a single edge's second.
    public let edgesOfRow: [Int32]

    /// Pairs the edges of a receiver-grouped graph (edge e from `senders[e]` to the receiver whose
    /// range `receiverOffsets[i] ..< receiverOffsets[i+1]` holds it, vector `vectors[3e ..< 3e+3]`).
    /// O(E · mean degree).
    public init(receiverOffsets: [Int], senders: [Int], vectors: [Float]) {
        let n = receiverOffsets.count - 1, e = senders.count
        precondition(n >= 0 && receiverOffsets[n] == e && vectors.count == 3 * e, "EdgePairs: inconsistent graph")
        var row = [Int32](repeating: -1, count: e), slot = [Int32](repeating: -1, count: e)
        var edgesOfRow: [Int32] = []
        edgesOfRow.reserveCapacity(e + 2)
        var receiver = 0
        for q in 0..<e {
            while receiverOffsets[receiver + 1] <= q { receiver += 1 }
            if row[q] >= 0 { continue }  // the second edge of a pair already numbered
            let r = Int32(edgesOfRow.count / 2)
            row[q] = r
            slot[q] = 2 * r
            // The reverse: in the sender's receiver range, from this receiver, exactly negated.
            let j = senders[q]
            var reverse = -1
            for p in receiverOffsets[j]..<receiverOffsets[j + 1]
            where p > q && senders[p] == receiver && row[p] < 0
                && vectors[3 * p] == -vectors[3 * q] && vectors[3 * p + 1] == -vectors[3 * q + 1]
                && vectors[3 * p + 2] == -vectors[3 * q + 2] {
                reverse = p
                break
            }
            if reverse >= 0 {
                row[reverse] = r
                slot[reverse] = 2 * r + 1
            }
            edgesOfRow += [Int32(q), Int32(reverse)]
        }
        rowCount = edgesOfRow.count / 2
        rowOfEdge = row
        slotOfEdge = slot
        self.edgesOfRow = edgesOfRow
    }

    /// Number of edges.
    public var edgeCount: Int { rowOfEdge.count }

    /// `values[2r]` += `values[2r + 1]` (`width` numbers per slot) for every paired row of
    /// `blocks` (rows of w): the per-edge ∂L/∂w of a pair summed into its first slot.
    public func sumSlots(_ values: UnsafeMutablePointer<Float>, width: Int, blocks: RowBlocks) {
        precondition(blocks.rows == rowCount, "EdgePairs.sumSlots: \(blocks.rows) rows, not \(rowCount)")
        edgesOfRow.withUnsafeBufferPointer { eb in
            let edges = eb.baseAddress!
            blocks.forEach { _, rows in
                for r in rows where edges[2 * r + 1] >= 0 {
                    let first = values + 2 * r * width, second = first + width
                    for u in 0..<width { first[u] += second[u] }
                }
            }
        }
    }
}
