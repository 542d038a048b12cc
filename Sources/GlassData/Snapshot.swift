/// One configuration of the liquid: the particles of one snapshot of a snapshot file.
///
/// Arrays are flat and row-major: particle i's position is `positions[3*i ..< 3*i+3]`, its
/// propensity at time index t is `propensity[i * timeCount + t]`.
public struct Snapshot: Equatable, Sendable {
    /// Edge lengths Lx, Ly, Lz of the orthorhombic periodic box (origin 0); 3 values.
    public var box: [Double]
    /// Thermal positions, [n × 3] (any periodic image).
    public var positions: [Double]
    /// Inherent-structure positions, [n × 3], if the file has them.
    public var inherentPositions: [Double]?
    /// Species index per particle, 0 ..< speciesNames.count.
    public var species: [Int32]
    /// Per-particle scalars by name (e.g. "epot_inherent"), each [n].
    public var scalars: [String: [Double]]
    /// Propensity targets, [n × T] for the file's T times, if the file has them.
    public var propensity: [Float]?

    public init(box: [Double], positions: [Double], inherentPositions: [Double]? = nil,
                species: [Int32], scalars: [String: [Double]] = [:], propensity: [Float]? = nil) {
        self.box = box
        self.positions = positions
        self.inherentPositions = inherentPositions
        self.species = species
        self.scalars = scalars
        self.propensity = propensity
    }

    /// Number of particles.
    public var particleCount: Int { species.count }
}

/// The root attributes of a snapshot file (format version 1).
public struct SnapshotAttributes: Equatable, Sendable {
    /// Temperature in LJ units (NaN if unknown).
    public var temperature: Double
    /// Number density N/V.
    public var density: Double
    /// Species names in index order, e.g. ["A", "B"].
    public var speciesNames: [String]
    /// Unit of `times`, e.g. "tau_LJ".
    public var timeUnit: String
    /// How the propensity was computed.
    public var propensityDefinition: String
    /// Iso-configurational runs per snapshot (0 if unknown).
    public var propensityRuns: Int
    /// Origin: "lammps-generator", "glassbench", "bapst2020", ...
    public var source: String
    /// JSON object: command line, seeds, versions, date, host.
    public var provenance: String

    public init(temperature: Double, density: Double, speciesNames: [String] = ["A", "B"],
                timeUnit: String = "tau_LJ", propensityDefinition: String = "",
                propensityRuns: Int = 0, source: String = "", provenance: String = "{}") {
        self.temperature = temperature
        self.density = density
        self.speciesNames = speciesNames
        self.timeUnit = timeUnit
        self.propensityDefinition = propensityDefinition
        self.propensityRuns = propensityRuns
        self.source = source
        self.provenance = provenance
    }
}

/// Names fixed by format version 1.
public enum SnapshotFormat {
    public static let name = "equiglass-snapshots"
    public static let version: Int64 = 1
}
