/// A per-particle vector computed from a snapshot's configurations; a run configuration names it
/// in `extraVectors`. Like `DerivedScalar`, a function of the snapshot at t = 0 only.
public enum DerivedVector: String, CaseIterable, Sendable {
    /// r_i^IS − r_i: from the particle's thermal position to its place in the inherent structure
    /// (minimum image). Its length is `DerivedScalar.inherentDisplacement`; its direction says
    /// where the cage pulls the particle, the information inherent-structure displacement inputs
    /// carry, here as an l = 1 feature.
    case toInherent = "to_inherent"

    /// What a file must hold to compute it.
    public var requirement: String { "positions_inherent" }

    /// Whether `set` holds what the vector needs.
    public func isComputable(from set: SnapshotSet) -> Bool { set.hasInherentPositions }

    /// The vectors `[n × 3]`, or nil when the snapshot lacks what the vector needs.
    public func values(_ s: Snapshot) -> [Double]? {
        guard let inherent = s.inherentPositions else { return nil }
        return (0..<(3 * s.particleCount)).map { index in
            let l = s.box[index % 3]
            var d = inherent[index] - s.positions[index]
            d -= l * (d / l).rounded()
            return d
        }
    }
}
