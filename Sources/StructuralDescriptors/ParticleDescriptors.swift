import EquivariantNet

/// All hand-made per-particle descriptors of one periodic snapshot, side by side (≈ 100 columns
/// with the default settings and two species):
///
/// - `epot_inherent` and its neighbor average `cg_epot_inherent`, when the energy is given (2);
/// - local density: neighbors of each species within each `densityRadii` (5 × 2 = 10);
/// - radial shells: neighbors of each species per shell of width 0.1 from 0.5 to 2.5 (20 × 2 = 40)
///   and their neighbor averages (40);
/// - Steinhardt q_l and coarse-grained q̄_l, l = 2…8, over the first shell (r < 1.45) (14).
///
/// Computed on the positions given: the caller passes inherent-structure positions when it has
/// them (they remove the vibrations that blur the shells), thermal ones otherwise.
public enum ParticleDescriptors {
    /// Descriptors of the particles at `positions` ([N × 3]) in the orthorhombic box `box`.
    /// Throws `NeighborGraphError` for a box shorter than 2 × `settings.maxRadius` or bad coordinates.
    public static func compute(positions: [Double], box: [Double], species: [Int32], speciesNames: [String],
                               inherentEnergy: [Double]?, settings: DescriptorSettings = DescriptorSettings()) throws -> FeatureMatrix {
        let graph = try NeighborGraph(positions: positions, box: box, cutoff: settings.maxRadius)
        precondition(species.count == graph.particleCount, "ParticleDescriptors: \(species.count) species for \(graph.particleCount) particles")
        var parts: [FeatureMatrix] = []
        if let energy = inherentEnergy {
            let e = FeatureMatrix(names: ["epot_inherent"], values: energy)
            parts += [e, neighborAverage(e, graph: graph, radius: settings.coarseGrainingRadius)]
        }
        parts.append(localDensityCounts(graph: graph, species: species, speciesNames: speciesNames, radii: settings.densityRadii))
        let shells = radialShellCounts(graph: graph, species: species, speciesNames: speciesNames,
                                       start: settings.shellStart, width: settings.shellWidth, count: settings.shellCount)
        parts += [shells, neighborAverage(shells, graph: graph, radius: settings.coarseGrainingRadius)]
        parts.append(bondOrientationalOrder(graph: graph, cutoff: settings.bondOrderCutoff, degrees: settings.bondOrderDegrees))
        return concatenateColumns(parts)
    }
}

/// The columns of several matrices with the same rows, side by side.
public func concatenateColumns(_ parts: [FeatureMatrix]) -> FeatureMatrix {
    guard let rows = parts.first?.rows else { return FeatureMatrix(names: [], values: []) }
    precondition(parts.allSatisfy { $0.rows == rows }, "concatenateColumns: row counts differ")
    let names = parts.flatMap(\.names)
    var values: [Double] = []
    values.reserveCapacity(rows * names.count)
    for i in 0..<rows {
        for p in parts { values += p.values[(i * p.columns)..<((i + 1) * p.columns)] }
    }
    return FeatureMatrix(names: names, values: values)
}
