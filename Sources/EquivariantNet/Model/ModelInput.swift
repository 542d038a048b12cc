/// One snapshot as the network sees it: species, standardized extra scalars, and the directed
/// neighbor graph grouped by receiver (CSR).
///
/// Edge e goes from `senders[e]` to its receiver i (the node whose range
/// `receiverOffsets[i] ..< receiverOffsets[i+1]` holds e) and carries r_ij = x_j − x_i
/// (minimum image), `vectors[3e ..< 3e+3]`. Nothing else about positions or the box enters the
/// network, which is what makes it translation invariant.
public struct ModelInput: Sendable {
    public var species: [Int32]
    /// `[N][E]`, already standardized (`Normalization.standardize(scalars:count:)`).
    public var scalars: [Float]
    /// The extra vectors `[N][V][3]` (x, y, z), already scaled (`Normalization`); empty without.
    public var extraVectors: [Float]
    public let receiverOffsets: [Int]
    public let senders: [Int]
    public let vectors: [Float]
    /// The two directions of each neighbor pair (the radial MLP runs once per pair).
    public let pairs: EdgePairs

    public var nodeCount: Int { species.count }
    public var edgeCount: Int { senders.count }

    public init(species: [Int32], scalars: [Float] = [], extraVectors: [Float] = [], receiverOffsets: [Int],
                senders: [Int], vectors: [Float]) {
        precondition(receiverOffsets.count == species.count + 1, "ModelInput: receiverOffsets must have N + 1 entries")
        precondition(vectors.count == 3 * senders.count, "ModelInput: one vector per edge")
        self.species = species
        self.scalars = scalars
        self.extraVectors = extraVectors
        self.receiverOffsets = receiverOffsets
        self.senders = senders
        self.vectors = vectors
        pairs = EdgePairs(receiverOffsets: receiverOffsets, senders: senders, vectors: vectors)
    }

    /// Builds the graph by brute force over all pairs (O(N²)): every j ≠ i with minimum-image
    /// 0 < |x_j − x_i| < cutoff in an orthorhombic periodic box (or no box: `box == nil`).
    /// Meant for tests and small inputs; training uses the cell-list `NeighborGraph`.
    public static func allPairs(positions: [Double], box: (Double, Double, Double)?, cutoff: Double,
                                species: [Int32], scalars: [Float] = [], extraVectors: [Float] = []) -> ModelInput {
        let n = species.count
        var offsets = [0], senders: [Int] = [], vectors: [Float] = []
        let l = box.map { [$0.0, $0.1, $0.2] }
        for i in 0..<n {
            for j in 0..<n where j != i {
                var d = [0.0, 0.0, 0.0]
                for a in 0..<3 {
                    d[a] = positions[3 * j + a] - positions[3 * i + a]
                    if let l { d[a] -= l[a] * (d[a] / l[a]).rounded() }
                }
                let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).squareRoot()
                if r > 0 && r < cutoff {
                    senders.append(j)
                    vectors += d.map { Float($0) }
                }
            }
            offsets.append(senders.count)
        }
        return ModelInput(species: species, scalars: scalars, extraVectors: extraVectors, receiverOffsets: offsets,
                          senders: senders, vectors: vectors)
    }
}
