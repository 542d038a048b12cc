import Foundation
import GlassData

/// Small synthetic KA-like snapshot files for the launcher's end-to-end tests.
enum SyntheticSnapshots {
    /// Jittered-lattice snapshots at density 1.2 (box 4.05 ≥ 2 r_c for N = 80) with targets that
    /// depend on the local coordination, so a network can learn something.
    static func write(path file: String, count: Int, seed: UInt64, times: [Double], particles: Int = 80,
                      inherent: Bool = false) throws -> String {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func uniform() -> Double {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Double(state >> 11) * 0x1.0p-53
        }
        let l = pow(Double(particles) / 1.2, 1.0 / 3.0)
        let cells = Int(ceil(pow(Double(particles), 1.0 / 3.0)))
        let a = l / Double(cells)
        var snapshots: [Snapshot] = []
        for _ in 0..<count {
            var positions: [Double] = [], species: [Int32] = []
            for p in 0..<particles {
                let g = [p / (cells * cells), (p / cells) % cells, p % cells]
                for d in 0..<3 { positions.append((Double(g[d]) + 0.5 + 0.3 * (2 * uniform() - 1)) * a) }
                species.append(uniform() < 0.8 ? 0 : 1)
            }
            var propensity: [Float] = []
            for i in 0..<particles {
                var z = 0.0
                for j in 0..<particles where j != i {
                    var r2 = 0.0
                    for d in 0..<3 {
                        var x = positions[3 * j + d] - positions[3 * i + d]
                        x -= l * (x / l).rounded()
                        r2 += x * x
                    }
                    if r2 < 1.69 { z += 1 }
                }
                for t in times { propensity.append(Float(t.squareRoot() * (0.3 + 0.02 * (z - 12)) + 0.02 * uniform())) }
            }
            snapshots.append(Snapshot(box: [l, l, l], positions: positions,
                                      inherentPositions: inherent ? positions.map { $0 + 0.01 * (uniform() - 0.5) } : nil,
                                      species: species,
                                      scalars: ["epot_inherent": (0..<particles).map { _ in -6 + uniform() }],
                                      propensity: propensity))
        }
        try SnapshotFileWriter.write(path: file, attributes: SnapshotAttributes(temperature: 0.6, density: 1.2, source: "test"),
                                     times: times, snapshots: snapshots)
        return file
    }
}
