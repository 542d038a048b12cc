import Foundation

/// Every hyper-parameter of training (optimizer, schedule, batching, which particles are scored).
/// Missing keys take the default, unknown keys are an error.
public struct TrainingConfig: Codable, Equatable, Sendable {
    /// Passes over the training snapshots.
    public var epochs = 6
    /// Snapshots per optimizer step (the global batch, independent of the rank count).
    public var batchSize = 1
    /// Adam step size (the peak of the schedule).
    public var learningRate = 1e-3
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-8
    /// Clip the global gradient norm to this value (PyTorch's clip_grad_norm_); nil = no clipping.
    public var gradientClip: Double? = nil
    /// Learning-rate schedule.
    public var schedule = LearningRateSchedule()
    /// Species whose particles enter the loss (by default A only, as the field scores).
    public var trainSpecies = [0]
    /// Seed of weight initialization and of the epoch permutations.
    public var seed: UInt64 = 0
    /// Write a checkpoint every this many epochs (the last epoch always writes one).
    public var checkpointEvery = 1
    /// How many checkpoints to keep in the run directory.
    public var keepCheckpoints = 3

    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ConfigError.invalid("training: " + message) }
        }
        try check(epochs >= 0, "epochs must be non-negative")
        try check(batchSize >= 1, "batchSize must be at least 1")
        try check(learningRate > 0 && learningRate.isFinite, "learningRate must be positive")
        try check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "beta1 and beta2 must be in [0, 1)")
        try check(epsilon > 0, "epsilon must be positive")
        if let clip = gradientClip { try check(clip > 0, "gradientClip must be positive") }
        try check(!trainSpecies.isEmpty, "trainSpecies must not be empty")
        try check(checkpointEvery >= 1, "checkpointEvery must be at least 1")
        try check(keepCheckpoints >= 1, "keepCheckpoints must be at least 1")
        try schedule.validate()
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case epochs, batchSize, learningRate, beta1, beta2, epsilon, gradientClip, schedule
        case trainSpecies, seed, checkpointEvery, keepCheckpoints
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), section: "training")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingConfig()
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        beta1 = try c.decodeIfPresent(Double.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Double.self, forKey: .beta2) ?? d.beta2
        epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? d.epsilon
        gradientClip = try c.decodeIfPresent(Double.self, forKey: .gradientClip) ?? d.gradientClip
        schedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule) ?? d.schedule
        trainSpecies = try c.decodeIfPresent([Int].self, forKey: .trainSpecies) ?? d.trainSpecies
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
        keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? d.keepCheckpoints
    }
}

/// A learning-rate schedule as a function of the optimizer step.
///
/// - "constant": the peak rate throughout (after the warm-up).
/// - "cosine": from the peak down to `minFactor` × peak along half a cosine over the steps after
///   the warm-up.
/// - "exponential": peak × `decay`^(epoch-equivalent fraction), i.e. decay^((step − warmup) / stepsPerDecay).
/// Every kind ramps linearly from 0 to the peak over `warmupSteps` first.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// The shape after the warm-up; its raw values are the JSON spellings.
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case constant, cosine, exponential
    }

    public var kind = Kind.constant
    public var warmupSteps = 0
    public var minFactor = 0.0
    public var decay = 0.5
    public var stepsPerDecay = 1000

    public init() {}

    public init(kind: Kind, warmupSteps: Int = 0, minFactor: Double = 0, decay: Double = 0.5, stepsPerDecay: Int = 1000) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.minFactor = minFactor
        self.decay = decay
        self.stepsPerDecay = stepsPerDecay
    }

    /// The schedule of kind `kind` spelt as in JSON ("constant", "cosine", "exponential"); an
    /// unknown spelling is a programming error.
    public init(kind: String, warmupSteps: Int = 0, minFactor: Double = 0, decay: Double = 0.5, stepsPerDecay: Int = 1000) {
        guard let value = Kind(rawValue: kind) else { preconditionFailure("unknown schedule kind \"\(kind)\"") }
        self.init(kind: value, warmupSteps: warmupSteps, minFactor: minFactor, decay: decay, stepsPerDecay: stepsPerDecay)
    }

    public func validate() throws {
        guard warmupSteps >= 0, minFactor >= 0, minFactor <= 1, decay > 0, stepsPerDecay >= 1 else {
            throw ConfigError.invalid("training.schedule: warmupSteps >= 0, 0 <= minFactor <= 1, decay > 0, stepsPerDecay >= 1")
        }
    }

    /// The factor multiplying the peak rate at optimizer step `step` (0-based) of `totalSteps`.
    public func factor(step: Int, totalSteps: Int) -> Double {
        if step < warmupSteps { return Double(step + 1) / Double(warmupSteps) }
        let s = Double(step - warmupSteps)
        switch kind {
        case .cosine:
            let span = Double(max(totalSteps - warmupSteps, 1))
            let progress = min(s / span, 1)
            return minFactor + (1 - minFactor) * 0.5 * (1 + cos(Double.pi * progress))
        case .exponential:
            return max(pow(decay, s / Double(stepsPerDecay)), minFactor)
        case .constant:
            return 1
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case kind, warmupSteps, minFactor, decay, stepsPerDecay }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), section: "training.schedule")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LearningRateSchedule()
        kind = d.kind
        if let text = try c.decodeIfPresent(String.self, forKey: .kind) {
            guard let value = Kind(rawValue: text) else {
                throw ConfigError.invalid("training.schedule: kind must be constant, cosine or exponential (got \"\(text)\")")
            }
            kind = value
        }
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        minFactor = try c.decodeIfPresent(Double.self, forKey: .minFactor) ?? d.minFactor
        decay = try c.decodeIfPresent(Double.self, forKey: .decay) ?? d.decay
        stepsPerDecay = try c.decodeIfPresent(Int.self, forKey: .stepsPerDecay) ?? d.stepsPerDecay
    }
}

/// A run configuration file: `{"model": {...}, "training": {...}}`, both sections optional.
public struct RunConfig: Codable, Equatable, Sendable {
    public var model = ModelConfig()
    public var training = TrainingConfig()

    public init(model: ModelConfig = ModelConfig(), training: TrainingConfig = TrainingConfig()) {
        self.model = model
        self.training = training
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case model, training }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), section: "configuration")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(ModelConfig.self, forKey: .model) ?? ModelConfig()
        training = try c.decodeIfPresent(TrainingConfig.self, forKey: .training) ?? TrainingConfig()
    }

    /// Reads and validates a JSON configuration file.
    public static func load(path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.invalid("cannot read configuration file \(path)")
        }
        do {
            let config = try JSONDecoder().decode(RunConfig.self, from: data)
            try config.validate()
            return config
        } catch let e as ConfigError {
            throw ConfigError.invalid("\(path): \(e.description)")
        } catch {
            throw ConfigError.invalid("\(path): not a valid configuration: \(error)")
        }
    }

    public func validate() throws {
        try model.validate()
        try training.validate()
        for s in training.trainSpecies where s < 0 || s >= model.speciesCount {
            throw ConfigError.invalid("training.trainSpecies: species \(s) outside 0..<\(model.speciesCount)")
        }
    }

    /// Pretty, key-sorted JSON (what checkpoints store).
    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }
}
