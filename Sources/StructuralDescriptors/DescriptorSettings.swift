/// Which hand-made structural descriptors `ParticleDescriptors` computes, and at which radii
/// (LJ units σ_AA; defaults chosen for the Kob–Andersen mixture at density 1.2, whose g_AA(r) has
/// its first minimum near r ≈ 1.45).
public struct DescriptorSettings: Sendable, Equatable {
    /// Local density: the number of neighbors of each species within each of these radii.
    public var densityRadii: [Double] = [1.0, 1.25, 1.5, 2.0, 2.5]
    /// Radial shells [start + k·width, start + (k+1)·width), k = 0 ..< shellCount, counted per
    /// neighbor species (the "radial" half of Boattini et al.'s descriptors; hard shells).
    public var shellStart = 0.5
    public var shellWidth = 0.1
    public var shellCount = 20
    /// Steinhardt bond-orientational order q_l over the neighbors within this radius.
    public var bondOrderCutoff = 1.45
    public var bondOrderDegrees: [Int] = Array(2...8)
    /// Coarse-graining: averages over the particle and its neighbors within this radius
    /// (Lechner–Dellago q̄_l, and the neighbor mean of the energy and of the shell counts).
    public var coarseGrainingRadius = 1.45

    public init() {}

    /// The largest radius any descriptor looks at: the neighbor graph's cutoff.
    public var maxRadius: Double {
        max(densityRadii.max() ?? 0, shellStart + Double(shellCount) * shellWidth, bondOrderCutoff, coarseGrainingRadius)
    }
}
