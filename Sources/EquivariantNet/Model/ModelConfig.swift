import Foundation

/// Every hyper-parameter of the reference network (docs/model.md), with its default.
///
/// Stored as JSON in checkpoints and read from run-configuration files; keys missing from a file
/// take the default, unknown keys are an error (a typo must not silently fall back to a default).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Hidden channels C for each l = 0…lmax.
    public var channels = 8
    /// Highest rotation order of the hidden features and the spherical harmonics.
    public var lmax = 3
    /// Interaction layers K.
    public var layers = 8
    /// Neighbor cutoff r_c (LJ units).
    public var cutoff = 2.0
    /// Bessel radial basis functions.
    public var radialBasis = 8
    /// Power p of the polynomial envelope.
    public var envelopePower = 6
    /// Hidden widths of each layer's radial MLP (edge embedding → tensor-product weights).
    public var radialHidden = [16, 16]
    /// Hidden widths of the decoder C → … → times × species.
    public var decoderHidden = [32, 32]
    /// The times (in the dataset's time unit) the network predicts, matched to a dataset by value.
    public var times: [Double] = [0.1, 0.5, 2, 5, 12, 30]
    /// Number of species (one decoder head per species and time).
    public var speciesCount = 2
    /// Names of extra per-particle input scalars (datasets `scalars/<name>`), standardized.
    public var extraScalars: [String] = []
    /// Names of extra per-particle input vectors (l = 1), e.g. "to_inherent" (r_IS − r), scaled
    /// to unit mean square. The embedding turns them into C vectors, so the first interaction
    /// layer starts from a vector field (docs/model.md: the embedding).
    public var extraVectors: [String] = []
    /// h ← h + Gate(z) instead of h ← Gate(z) (off by default, see model.md).
    public var residual = false
    /// Which positions the network reads: "thermal" or "inherent" (in JSON and on the command line).
    public var positions = Positions.thermal

    public init() {}

    /// Throws a readable error if a value is out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ConfigError.invalid("model: " + message) }
        }
        try check(channels > 0, "channels must be positive (got \(channels))")
        try check(lmax >= 0 && lmax <= 6, "lmax must be in 0...6 (got \(lmax))")
        try check(layers >= 1, "layers must be at least 1 (got \(layers))")
        try check(cutoff > 0 && cutoff.isFinite, "cutoff must be positive (got \(cutoff))")
        try check(radialBasis > 0, "radialBasis must be positive")
        try check(envelopePower >= 1, "envelopePower must be at least 1")
        try check(radialHidden.allSatisfy { $0 > 0 }, "radialHidden widths must be positive")
        try check(decoderHidden.allSatisfy { $0 > 0 }, "decoderHidden widths must be positive")
        try check(!times.isEmpty, "times must not be empty")
        try check(zip(times, times.dropFirst()).allSatisfy { $0 < $1 } && times.allSatisfy { $0 > 0 },
                  "times must be positive and strictly increasing (got \(times))")
        try check(speciesCount >= 1, "speciesCount must be at least 1")
        try check(Set(extraScalars).count == extraScalars.count, "extraScalars has duplicates")
        try check(Set(extraVectors).count == extraVectors.count, "extraVectors has duplicates")
        try check(extraVectors.isEmpty || lmax >= 1, "extraVectors need lmax ≥ 1 (the features must carry vectors)")
    }

    /// Inputs of the embedding: one-hot species then the extra scalars.
    public var embeddingInputs: Int { speciesCount + extraScalars.count }

    /// The rotation orders of the features entering layer 0: scalars, and vectors when the
    /// embedding has extra vectors.
    public var firstLayerOrders: [Int] { extraVectors.isEmpty || lmax == 0 ? [0] : [0, 1] }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case channels, lmax, layers, cutoff, radialBasis, envelopePower, radialHidden, decoderHidden
        case times, speciesCount, extraScalars, extraVectors, residual, positions
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), section: "model")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ModelConfig()
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? d.channels
        lmax = try c.decodeIfPresent(Int.self, forKey: .lmax) ?? d.lmax
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? d.layers
        cutoff = try c.decodeIfPresent(Double.self, forKey: .cutoff) ?? d.cutoff
        radialBasis = try c.decodeIfPresent(Int.self, forKey: .radialBasis) ?? d.radialBasis
        envelopePower = try c.decodeIfPresent(Int.self, forKey: .envelopePower) ?? d.envelopePower
        radialHidden = try c.decodeIfPresent([Int].self, forKey: .radialHidden) ?? d.radialHidden
        decoderHidden = try c.decodeIfPresent([Int].self, forKey: .decoderHidden) ?? d.decoderHidden
        times = try c.decodeIfPresent([Double].self, forKey: .times) ?? d.times
        speciesCount = try c.decodeIfPresent(Int.self, forKey: .speciesCount) ?? d.speciesCount
        extraScalars = try c.decodeIfPresent([String].self, forKey: .extraScalars) ?? d.extraScalars
        extraVectors = try c.decodeIfPresent([String].self, forKey: .extraVectors) ?? d.extraVectors
        residual = try c.decodeIfPresent(Bool.self, forKey: .residual) ?? d.residual
        positions = d.positions
        if let text = try c.decodeIfPresent(String.self, forKey: .positions) {
            guard let value = Positions(rawValue: text) else {
                throw ConfigError.invalid("model: positions must be \"thermal\" or \"inherent\" (got \"\(text)\")")
            }
            positions = value
        }
    }
}

/// The positions the network reads: the thermal configuration, or its inherent structure
/// (`positions_inherent`). The raw values are the JSON and command-line spellings.
public enum Positions: String, Codable, CaseIterable, Sendable {
    case thermal, inherent
}

/// A configuration problem, with a message meant for the user.
public enum ConfigError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): return m
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Unknown keys in a configuration section are an error naming them.
func rejectUnknownKeys(_ decoder: Decoder, known: [String], section: String) throws {
    let all = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
    let unknown = all.filter { !known.contains($0) }
    if !unknown.isEmpty {
        throw ConfigError.invalid(
            "\(section): unknown key(s) \(unknown.sorted().joined(separator: ", ")); known: \(known.joined(separator: ", "))")
    }
}
