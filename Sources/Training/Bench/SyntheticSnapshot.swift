import EquivariantNet
import Foundation

/// A random configuration of the Kob–Andersen mixture's composition (80% A, 20% B) at `density`
/// in a cubic box: positions drawn uniformly, rejected when closer than 0.75 to an accepted one
/// (a cell grid keeps it O(N)).
public func generatedSnapshot(particles n: Int, density: Double, seed: UInt64) -> (positions: [Double], species: [Int32], box: [Double]) {
    let l = Foundation.cbrt(Double(n) / density)
    let minDistance = 0.75
    let cells = max(1, Int(l / minDistance))
    let cellSize = l / Double(cells)
    var grid = [[Int]](repeating: [], count: cells * cells * cells)
    var rng = RandomSource(seed: seed)
    var positions: [Double] = []
    positions.reserveCapacity(3 * n)
    func cell(_ x: Double) -> Int { min(cells - 1, Int(x / cellSize)) }
    while positions.count < 3 * n {
        let p = [rng.uniform() * l, rng.uniform() * l, rng.uniform() * l]
        let c = p.map(cell)
        var ok = true
        search: for dx in -1...1 {
            for dy in -1...1 {
                for dz in -1...1 {
                    let cx: Int = (c[0] + dx + cells) % cells
                    let cy: Int = (c[1] + dy + cells) % cells
                    let cz: Int = (c[2] + dz + cells) % cells
                    let k = (cx * cells + cy) * cells + cz
                    for j in grid[k] {
                        var r2 = 0.0
                        for a in 0..<3 {
                            var d = p[a] - positions[3 * j + a]
                            d -= l * (d / l).rounded()
                            r2 += d * d
                        }
                        if r2 < minDistance * minDistance { ok = false; break search }
                    }
                }
            }
        }
        if ok {
            grid[(c[0] * cells + c[1]) * cells + c[2]].append(positions.count / 3)
            positions += p
        }
    }
    let species = (0..<n).map { Int32($0 < (4 * n) / 5 ? 0 : 1) }
    return (positions, species, [l, l, l])
}

