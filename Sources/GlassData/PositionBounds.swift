/// What a snapshot's positions must satisfy beyond being finite numbers.
public enum PositionBounds {
    /// Coordinates may lie this many box lengths outside the box (unwrapped trajectories are
    /// legal), no further: at 1000 box lengths a Double coordinate still wraps to ~1e-12 L.
    public static let boxLengths = 1000.0
    /// Two particles closer than this (LJ units, σ_AA = 1) are one particle written twice; no
    /// liquid state comes near it (Kob–Andersen's closest pairs are ≈ 0.7 σ apart).
    public static let coincidence = 1e-3

    /// A rule a snapshot's positions break.
    public enum Violation: Equatable, Sendable {
        /// A coordinate more than `boxLengths` box lengths from the box.
        case far(particle: Int, coordinate: Double, boxLength: Double)
        /// Two particles closer than `coincidence`.
        case coincident(Int, Int, distance: Double)

        /// The message, with particle numbers counted over the file (`offset` is the snapshot's
        /// first particle) and within snapshot `k`.
        public func message(offset: Int, snapshot k: Int) -> String {
            switch self {
            case let .far(i, x, l):
                return "coordinate \(x) of particle \(offset + i) (snapshot \(k), particle \(i) of it) is more than "
                    + "\(Int(boxLengths)) box lengths (\(l)) from the box: its precision is lost when wrapped; "
                    + "unwrapped coordinates within that bound are accepted"
            case let .coincident(i, j, distance):
                return "particles \(offset + i) and \(offset + j) (snapshot \(k), particles \(i) and \(j) of it) are "
                    + "\(distance) apart, closer than \(coincidence): coincident particles"
            }
        }
    }

    /// The first rule `positions` (`[n × 3]`, finite) break in `box`, or nil.
    public static func violation(_ positions: [Double], box: [Double]) -> Violation? {
        for (index, x) in positions.enumerated() {
            let l = box[index % 3]
            if x < -boxLengths * l || x > (boxLengths + 1) * l { return .far(particle: index / 3, coordinate: x, boxLength: l) }
        }
        return closePair(positions, box: box).map { .coincident($0.0, $0.1, distance: $0.2) }
    }

    /// The first pair (i < j) of particles closer than `coincidence` under the minimum image, with
    /// their distance, or nil. A hash grid of cells at least `coincidence` wide: O(n).
    public static func closePair(_ positions: [Double], box: [Double]) -> (Int, Int, Double)? {
        let n = positions.count / 3
        // Cells at least `coincidence` wide; at most 2^20 per edge (any box a file may hold).
        let widest = Double(1 << 20)
        let cells: [Int] = box.map { l in max(1, Int(min(l / coincidence, widest).rounded(.down))) }
        func wrap(_ x: Double, _ l: Double) -> Double {
            let y = x - l * (x / l).rounded(.down)
            return y < l ? y : 0
        }
        // One Int per cell (cells ≤ 2^20 per edge, so the product fits): no array per particle.
        func cell(_ i: Int) -> (Int, Int, Int) {
            func index(_ a: Int) -> Int {
                min(cells[a] - 1, Int(wrap(positions[3 * i + a], box[a]) / box[a] * Double(cells[a])))
            }
            return (index(0), index(1), index(2))
        }
        func key(_ x: Int, _ y: Int, _ z: Int) -> Int {
            (((x + cells[0]) % cells[0]) * cells[1] + (y + cells[1]) % cells[1]) * cells[2] + (z + cells[2]) % cells[2]
        }
        var grid: [Int: [Int]] = [:]
        for i in 0..<n {
            let (x, y, z) = cell(i)
            grid[key(x, y, z), default: []].append(i)
        }
        for i in 0..<n {
            let (x, y, z) = cell(i)
            for dx in -1...1 { for dy in -1...1 { for dz in -1...1 {
                for j in grid[key(x + dx, y + dy, z + dz)] ?? [] where j > i {
                    var r2 = 0.0
                    for a in 0..<3 {
                        var d = positions[3 * j + a] - positions[3 * i + a]
                        d -= box[a] * (d / box[a]).rounded()
                        r2 += d * d
                    }
                    if r2 < coincidence * coincidence { return (i, j, r2.squareRoot()) }
                }
            }}}
        }
        return nil
    }
}
