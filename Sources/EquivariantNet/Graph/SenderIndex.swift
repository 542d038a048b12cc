/// The edges of a receiver-grouped (CSR) graph regrouped by sender: sender j's edges are
/// `edges[offsets[j] ..< offsets[j+1]]`, in increasing edge order; `receivers[e]` is edge e's
/// receiver. A counting sort, O(N + E).
///
/// `TensorProductUVU.backward` builds one per call; a caller that runs several backward passes
/// on the same graph (the layers of a network) can build it once and pass it in.
public struct SenderIndex: Sendable {
    public let nodeCount: Int, edgeCount: Int
    public private(set) var offsets: [Int], edges: [Int], receivers: [Int]

    public init(receiverOffsets: UnsafePointer<Int>, senders: UnsafePointer<Int>, nodeCount n: Int) {
        let edgeCount = receiverOffsets[n]
        precondition(receiverOffsets[0] == 0, "SenderIndex: receiverOffsets must start at 0")
        self.nodeCount = n
        self.edgeCount = edgeCount
        offsets = [Int](repeating: 0, count: n + 1)
        receivers = [Int](repeating: 0, count: edgeCount)
        edges = [Int](repeating: 0, count: edgeCount)
        for i in 0..<n {
            for e in receiverOffsets[i]..<receiverOffsets[i + 1] {
                precondition(senders[e] >= 0 && senders[e] < n, "SenderIndex: sender \(senders[e]) of edge \(e) is not a node of 0..<\(n)")
                receivers[e] = i
                offsets[senders[e] + 1] += 1
            }
        }
        for j in 0..<n { offsets[j + 1] += offsets[j] }
        var cursor = offsets
        for e in 0..<edgeCount {
            let j = senders[e]
            edges[cursor[j]] = e
            cursor[j] += 1
        }
    }

    /// `[E]`: where each edge sits in the sender-grouped order (the inverse of `edges`). Per-edge
    /// results of the backward (∂L/∂w_e) stored at these rows are written one after the other.
    public var positions: [Int32] {
        var p = [Int32](repeating: 0, count: edgeCount)
        for (position, e) in edges.enumerated() { p[e] = Int32(position) }
        return p
    }
}
