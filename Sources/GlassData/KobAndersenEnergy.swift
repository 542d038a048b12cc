/// The Kob–Andersen 80:20 Lennard-Jones potential (Kob & Andersen, PRE 51, 4626 (1995)) and the
/// per-particle energy LAMMPS's `compute pe/atom` gives for it: half of each pair energy, the
/// pair potential shifted to zero at its cutoff 2.5 σ_αβ (`pair_modify shift yes`).
///
/// Species 0 is A and 1 is B. Used for `epot_inherent` on files that hold inherent structures but
/// no energies (GlassBench imports): the values equal the generator's stored ones to ~1e-12.
public enum KobAndersenEnergy {
    /// ε_αβ for (A,A), (A,B), (B,B).
    static let epsilon: [Double] = [1.0, 1.5, 0.5]
    /// σ_αβ for (A,A), (A,B), (B,B).
    static let sigma: [Double] = [1.0, 0.8, 0.88]
    /// The cutoff in units of σ_αβ.
    static let cutoffInSigma = 2.5

    /// The largest pair cutoff, 2.5 σ_AA.
    public static let largestCutoff = 2.5
    /// The shortest box edge the minimum-image pair sum is exact for.
    public static var minimumBoxEdge: Double { 2 * largestCutoff }

    /// Whether the potential applies: at most two species (A, B) and box edges of at least
    /// `minimumBoxEdge`.
    public static func applies(speciesCount: Int, box: [Double]) -> Bool {
        speciesCount <= 2 && box.allSatisfy { $0 >= minimumBoxEdge }
    }

    static func pairIndex(_ a: Int32, _ b: Int32) -> Int { Int(a + b) }

    /// u_αβ(r²) − u_αβ(r_c²), 0 beyond the cutoff.
    static func pairEnergy(_ r2: Double, _ pair: Int) -> Double {
        let s2 = sigma[pair] * sigma[pair]
        guard r2 < cutoffInSigma * cutoffInSigma * s2 else { return 0 }
        let sr6 = (s2 / r2) * (s2 / r2) * (s2 / r2)
        let src6 = 1 / (cutoffInSigma * cutoffInSigma * cutoffInSigma * cutoffInSigma
                        * cutoffInSigma * cutoffInSigma)
        return 4 * epsilon[pair] * ((sr6 * sr6 - sr6) - (src6 * src6 - src6))
    }

    /// Each particle's potential energy `[n]` at `positions` (`[n × 3]`, any periodic image) in
    /// the orthorhombic box `box`. Cell list over the largest cutoff (2.5 σ_AA): O(n).
    /// - Precondition: species are 0 or 1, and every box edge is at least `minimumBoxEdge` (the
    ///   minimum image would miss pairs otherwise); `applies(speciesCount:box:)` checks both.
    public static func perParticle(positions: [Double], species: [Int32], box: [Double]) -> [Double] {
        let n = species.count
        let cutoff = largestCutoff
        precondition(applies(speciesCount: species.contains(1) ? 2 : 1, box: box))
        let cells = (0..<3).map { max(1, Int(box[$0] / cutoff)) }
        var wrapped = [Double](repeating: 0, count: 3 * n)
        var cellOf = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var c = [0, 0, 0]
            for a in 0..<3 {
                var x = positions[3 * i + a].truncatingRemainder(dividingBy: box[a])
                if x < 0 { x += box[a] }
                wrapped[3 * i + a] = x
                c[a] = min(cells[a] - 1, Int(x / box[a] * Double(cells[a])))
            }
            cellOf[i] = (c[0] * cells[1] + c[1]) * cells[2] + c[2]
        }
        var members = [[Int]](repeating: [], count: cells[0] * cells[1] * cells[2])
        for i in 0..<n { members[cellOf[i]].append(i) }

        var energy = [Double](repeating: 0, count: n)
        for cell in members.indices where !members[cell].isEmpty {
            let c = [cell / (cells[1] * cells[2]), cell / cells[2] % cells[1], cell % cells[2]]
            // Each neighboring cell once, even when a dimension has fewer than 3 cells.
            var around: [Int] = []
            for dx in -1...1 { for dy in -1...1 { for dz in -1...1 {
                let x = (c[0] + dx + cells[0]) % cells[0]
                let y = (c[1] + dy + cells[1]) % cells[1]
                let z = (c[2] + dz + cells[2]) % cells[2]
                let neighbor = (x * cells[1] + y) * cells[2] + z
                if !around.contains(neighbor) { around.append(neighbor) }
            }}}
            for i in members[cell] {
                for neighbor in around {
                    for j in members[neighbor] where j != i {
                        var r2 = 0.0
                        for a in 0..<3 {
                            var d = wrapped[3 * j + a] - wrapped[3 * i + a]
                            d -= box[a] * (d / box[a]).rounded()
                            r2 += d * d
                        }
                        energy[i] += 0.5 * pairEnergy(r2, pairIndex(species[i], species[j]))
                    }
                }
            }
        }
        return energy
    }
}
