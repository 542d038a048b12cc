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

    /// What a file must hold to compute it.
    public var requirement: String {
        switch self {
        case .inherentDisplacement: return "positions_inherent"
        }
    }

    /// Whether `file` holds what the scalar needs.
    public func isComputable(from file: SnapshotFile) -> Bool {
        switch self {
        case .inherentDisplacement: return file.hasInherentPositions
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
        }
    }
}
