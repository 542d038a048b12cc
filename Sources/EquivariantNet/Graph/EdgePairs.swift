/// The two directions of every neighbor pair, so that the radial MLP runs once per pair.
///
/// The cutoff graph holds each pair twice, i → j and j → i, with exactly negated minimum-image
/// vectors (x_j − x_i and x_i − x_j are negatives in floating point too), hence bitwise equal
/// lengths. The radial MLP sees only |r|, so both edges have the same tensor-product weights w.
/// `EdgePairs` gives w one **row** per pair: the radial MLP runs on R ≈ E/2 rows instead of E
/// (half of the largest matrix products of a step, and half of the w buffer).
///
/// An edge whose reverse is missing or not exactly negated (possible in a hand-made
/// `ModelInput`) gets a row of its own, so the weights are always those of the edge's own length.
///
/// Backward: ∂L/∂w of a row is the sum of its edges' ∂L/∂w_e (`sumGradients`). Each edge's part
/// has one writer and a two-term sum is the same in either order, so the result does not depend
/// on the thread count.
public struct EdgePairs: Sendable {
    /// Rows of w (pairs, plus single edges).
    public let rowCount: Int
    /// `[E]`: the row of w that edge e reads.
    public let rowOfEdge: [Int32]
    /// `[R][2]`: the row's edges, the first in increasing edge order; −1 for a single edge's second.
    public let edgesOfRow: [Int32]

    /// Pairs the edges of a receiver-grouped graph (edge e from `senders[e]` to the receiver whose
    /// range `receiverOffsets[i] ..< receiverOffsets[i+1]` holds it, vector `vectors[3e ..< 3e+3]`).
    /// O(E · mean degree).
    public init(receiverOffsets: [Int], senders: [Int], vectors: [Float]) {
        let n = receiverOffsets.count - 1, e = senders.count
        precondition(n >= 0 && receiverOffsets[n] == e && vectors.count == 3 * e, "EdgePairs: inconsistent graph")
        var row = [Int32](repeating: -1, count: e)
        var edgesOfRow: [Int32] = []
        edgesOfRow.reserveCapacity(e + 2)
        var receiver = 0
        for q in 0..<e {
            while receiverOffsets[receiver + 1] <= q { receiver += 1 }
            if row[q] >= 0 { continue }  // the second edge of a pair already numbered
            let r = Int32(edgesOfRow.count / 2)
            row[q] = r
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
            if reverse >= 0 { row[reverse] = r }
            edgesOfRow += [Int32(q), Int32(reverse)]
        }
        rowCount = edgesOfRow.count / 2
        rowOfEdge = row
        self.edgesOfRow = edgesOfRow
    }

    /// Number of edges.
    public var edgeCount: Int { rowOfEdge.count }

    /// `target[r − rows.lowerBound] = Σ_{edges e of row r} perEdge[position(e)]` (`width` numbers
    /// each) for the rows of `rows`: the radial weights' gradient from the edges' (edge e's at row
    /// `positions[e]` of `perEdge`, or row e without `positions`).
    public func sumGradients(_ perEdge: UnsafePointer<Float>, positions: UnsafePointer<Int32>?, width: Int,
                             rows: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        precondition(rows.upperBound <= rowCount, "EdgePairs.sumGradients: rows \(rows) beyond \(rowCount)")
        edgesOfRow.withUnsafeBufferPointer { eb in
            let edges = eb.baseAddress!
            @inline(__always) func position(_ e: Int32) -> Int { positions.map { Int($0[Int(e)]) } ?? Int(e) }
            for r in rows {
                let out = target + (r - rows.lowerBound) * width, first = perEdge + position(edges[2 * r]) * width
                if edges[2 * r + 1] >= 0 {
                    let second = perEdge + position(edges[2 * r + 1]) * width
                    for u in 0..<width { out[u] = first[u] + second[u] }
                } else {
                    out.update(from: first, count: width)
                }
            }
        }
    }
}
