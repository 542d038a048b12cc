/// The radius graph of a periodic configuration: a directed edge j → i for every pair of
/// particles with 0 < |r_ij| < r_c, where r_ij = x_j − x_i under the minimum-image convention of
/// the orthorhombic box [0, Lx) × [0, Ly) × [0, Lz).
///
/// Edges are grouped by receiver i (compressed sparse rows): the edges of receiver i are
/// `receiverOffsets[i] ..< receiverOffsets[i+1]`, ordered by sender index, so the graph is
/// deterministic. Built with a cell list in O(N).
public struct NeighborGraph: Sendable {
    /// Number of particles (nodes) N.
    public let particleCount: Int
    /// Cutoff radius r_c (edges have |r_ij| < r_c).
    public let cutoff: Double
    /// N+1 offsets into the edge arrays; receiver i owns edges receiverOffsets[i] ..< receiverOffsets[i+1].
    public let receiverOffsets: [Int]
    /// Receiver i of each edge (non-decreasing), [E].
    public let receivers: [Int]
    /// Sender j of each edge, [E].
    public let senders: [Int]
    /// Edge vectors r_ij = x_j − x_i (minimum image), [E × 3] row-major.
    public let edgeVectors: [Float]
    /// Edge lengths |r_ij|, [E].
    public let distances: [Float]

    /// Number of directed edges E (each neighboring pair appears twice, once each way).
    public var edgeCount: Int { senders.count }

    /// Builds the graph of `positions` ([N × 3] row-major, any periodic image: they are
    /// wrapped into the box) in the box with edges `box` (Lx, Ly, Lz).
    ///
    /// Throws if the box is not 3 finite positive edges, an edge is shorter than 2 r_c (the
    /// minimum image would be ambiguous), the cutoff is not positive, or a coordinate is not
    /// finite.
    public init(positions: [Double], box: [Double], cutoff: Double) throws {
        try Self.validate(positions: positions, box: box, cutoff: cutoff)
        let n = positions.count / 3
        particleCount = n
        self.cutoff = cutoff
        let cells = CellList(positions: positions, box: box, cutoff: cutoff)
        var offsets = [Int](repeating: 0, count: n + 1)
        var receivers: [Int] = []
        var senders: [Int] = []
        var vectors: [Float] = []
        var distances: [Float] = []
        receivers.reserveCapacity(n * 40)
        senders.reserveCapacity(n * 40)
        vectors.reserveCapacity(n * 120)
        distances.reserveCapacity(n * 40)
        var found: [CellList.Neighbor] = []
        for i in 0..<n {
            cells.neighbors(of: i, box: box, cutoffSquared: cutoff * cutoff, into: &found)
            found.sort { $0.sender < $1.sender }
            for edge in found {
                receivers.append(i)
                senders.append(edge.sender)
                vectors.append(Float(edge.dx)); vectors.append(Float(edge.dy)); vectors.append(Float(edge.dz))
                distances.append(Float(edge.r))
            }
            offsets[i + 1] = senders.count
        }
        receiverOffsets = offsets
        self.receivers = receivers
        self.senders = senders
        edgeVectors = vectors
        self.distances = distances
    }

    static func validate(positions: [Double], box: [Double], cutoff: Double) throws {
        guard cutoff.isFinite, cutoff > 0 else { throw NeighborGraphError("cutoff must be finite and > 0, got \(cutoff)") }
        guard box.count == 3, box.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw NeighborGraphError("box must be 3 finite positive edge lengths, got \(box)")
        }
        for (axis, edge) in box.enumerated() where edge < 2 * cutoff {
            throw NeighborGraphError("box edge \(["Lx", "Ly", "Lz"][axis]) = \(edge) is shorter than 2 r_c = \(2 * cutoff); the minimum image is ambiguous")
        }
        guard positions.count % 3 == 0 else {
            throw NeighborGraphError("positions must hold 3 values per particle, got \(positions.count) values")
        }
        if let bad = positions.firstIndex(where: { !$0.isFinite }) {
            throw NeighborGraphError("particle \(bad / 3) has a non-finite coordinate \(positions[bad]) (component \(bad % 3))")
        }
    }

    /// Mean number of neighbors per particle, E / N.
    public var meanNeighborCount: Double { particleCount == 0 ? 0 : Double(edgeCount) / Double(particleCount) }
}

/// A configuration the neighbor graph cannot be built from (message says why).
public struct NeighborGraphError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { "neighbor graph: \(message)" }
}

/// The particles wrapped into [0, L) and sorted into cells of edge ≥ r_c along each axis
/// (a counting sort, so each cell lists its particles in index order).
struct CellList {
    let wrapped: [Double]
    let cellsPerAxis: [Int]
    let cellOfParticle: [Int]
    /// Cell c holds the particles `particlesByCell[cellStart[c] ..< cellStart[c+1]]`.
    let cellStart: [Int], particlesByCell: [Int]

    init(positions: [Double], box: [Double], cutoff: Double) {
        let n = positions.count / 3
        var wrapped = [Double](repeating: 0, count: 3 * n)
        // At most about 2 N^(1/3) + 2 cells per axis: larger cells stay correct, and a huge box
        // cannot ask for more cells than particles.
        var side = 1
        while side * side * side < n { side += 1 }  // side ≈ N^(1/3)
        let cellLimit = 2 * side + 2
        let cellsPerAxis = box.map { max(1, Int(min(($0 / cutoff).rounded(.down), Double(cellLimit)))) }
        var cellOfParticle = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var cell = 0
            for axis in 0..<3 {
                let edge = box[axis]
                var x = positions[3 * i + axis]
                x -= edge * (x / edge).rounded(.down)
                if x >= edge || x < 0 { x = 0 }  // rounding at the upper edge
                wrapped[3 * i + axis] = x
                let c = min(cellsPerAxis[axis] - 1, Int(x / edge * Double(cellsPerAxis[axis])))
                cell = cell * cellsPerAxis[axis] + c
            }
            cellOfParticle[i] = cell
        }
        let cellCount = cellsPerAxis[0] * cellsPerAxis[1] * cellsPerAxis[2]
        var cellStart = [Int](repeating: 0, count: cellCount + 1)
        for cell in cellOfParticle { cellStart[cell + 1] += 1 }
        for c in 0..<cellCount { cellStart[c + 1] += cellStart[c] }
        var fill = cellStart
        var particlesByCell = [Int](repeating: 0, count: n)
        for i in 0..<n {
            particlesByCell[fill[cellOfParticle[i]]] = i
            fill[cellOfParticle[i]] += 1
        }
        self.wrapped = wrapped
        self.cellsPerAxis = cellsPerAxis
        self.cellOfParticle = cellOfParticle
        self.cellStart = cellStart
        self.particlesByCell = particlesByCell
    }

    /// A neighbor j of a particle: r_ij (minimum image) and |r_ij|.
    typealias Neighbor = (sender: Int, dx: Double, dy: Double, dz: Double, r: Double)

    /// Neighboring cell offsets along each axis; with 1 or 2 cells, −1 and +1 coincide, so keep
    /// the distinct ones (each candidate pair is visited once).
    func neighborCells(_ c: Int, _ count: Int) -> [Int] {
        var cells: [Int] = []
        for d in -1...1 {
            let neighbor = ((c + d) % count + count) % count
            if !cells.contains(neighbor) { cells.append(neighbor) }
        }
        return cells
    }

    /// `found` ← every j ≠ i with 0 < |r_ij|² < `cutoffSquared`, in cell order.
    func neighbors(of i: Int, box: [Double], cutoffSquared: Double, into found: inout [Neighbor]) {
        var cell = cellOfParticle[i]
        let cz = cell % cellsPerAxis[2]; cell /= cellsPerAxis[2]
        let cy = cell % cellsPerAxis[1]; cell /= cellsPerAxis[1]
        let cx = cell
        found.removeAll(keepingCapacity: true)
        let xi = wrapped[3 * i], yi = wrapped[3 * i + 1], zi = wrapped[3 * i + 2]
        for nx in neighborCells(cx, cellsPerAxis[0]) {
            for ny in neighborCells(cy, cellsPerAxis[1]) {
                for nz in neighborCells(cz, cellsPerAxis[2]) {
                    let c = (nx * cellsPerAxis[1] + ny) * cellsPerAxis[2] + nz
                    for slot in cellStart[c] ..< cellStart[c + 1] {
                        let j = particlesByCell[slot]
                        if j == i { continue }
                        var dx = wrapped[3 * j] - xi
                        var dy = wrapped[3 * j + 1] - yi
                        var dz = wrapped[3 * j + 2] - zi
                        dx -= box[0] * (dx / box[0]).rounded()
                        dy -= box[1] * (dy / box[1]).rounded()
                        dz -= box[2] * (dz / box[2]).rounded()
                        let r2 = dx * dx + dy * dy + dz * dz
                        if r2 > 0, r2 < cutoffSquared {
                            found.append((j, dx, dy, dz, r2.squareRoot()))
                        }
                    }
                }
            }
        }
    }
}
