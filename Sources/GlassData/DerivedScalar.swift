/// A per-particle scalar computed from a snapshot's configurations instead of stored in the file;
/// a run configuration names it in `extraScalars` like a `scalars/<name>` dataset.
///
/// Static information only: each is a function of the snapshot at t = 0 (thermal positions and
/// their inherent structure), never of the dynamics that the propensity measures.
public enum DerivedScalar: String, CaseIterable, Sendable {
    /// |r_i − r_i^IS|: how far particle i sits from its position in the inherent structure
    /// (minimum image in the periodic box). A one-configuration estimate of the particle's
    /// vibrational amplitude in its cage, which tracks the local Debye–Waller factor, a known
    /// structural predictor of propensity (Widmer-Cooper & Harrowell, PRL 96, 185701 (2006)).
    case inherentDisplacement = "displacement_inherent"

    /// Each particle's Kob–Andersen potential energy in the inherent structure (half per pair,
    /// shifted at the cutoff: what the generator stores from LAMMPS's `pe/atom`). Used when a
    /// file holds inherent structures but no energies, as GlassBench imports do; a file's own
    /// `scalars/epot_inherent` always takes precedence.
    case inherentEnergy = "epot_inherent"

    /// What a file must hold to compute it.
    public var requirement: String {
        switch self {
        case .inherentDisplacement: return "positions_inherent"
        case .inherentEnergy:
            return "positions_inherent, species A and B only, box edges ≥ \(KobAndersenEnergy.minimumBoxEdge)"
        }
    }

    /// Whether `file` holds what the scalar needs.
    public func isComputable(from file: SnapshotSet) -> Bool {
        switch self {
        case .inherentDisplacement: return file.hasInherentPositions
        case .inherentEnergy:
            return file.hasInherentPositions && (0..<file.snapshotCount).allSatisfy {
                KobAndersenEnergy.applies(speciesCount: file.attributes.speciesNames.count, box: file.box(ofSnapshot: $0))
            }
        }
    }

    /// The values `[n]`, or nil when the snapshot lacks what the scalar needs.
    public func values(_ s: Snapshot) -> [Double]? {
        switch self {
        case .inherentDisplacement:
            guard let inherent = s.inherentPositions else { return nil }
            return (0..<s.particleCount).map { i in
                var squared = 0.0
                for a in 0..<3 {
                    var d = s.positions[3 * i + a] - inherent[3 * i + a]
                    d -= s.box[a] * (d / s.box[a]).rounded()
                    squared += d * d
                }
                return squared.squareRoot()
            }
        case .inherentEnergy:
            guard let inherent = s.inherentPositions,
                  KobAndersenEnergy.applies(speciesCount: Int(s.species.max() ?? 0) + 1, box: s.box) else { return nil }
            return KobAndersenEnergy.perParticle(positions: inherent, species: s.species, box: s.box)
        }
    }
}
