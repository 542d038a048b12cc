import Foundation

/// Adam (Kingma & Ba) on flat buffers, with PyTorch's arithmetic (`torch.optim.Adam`, no weight
/// decay, no amsgrad), optional global gradient-norm clipping (`clip_grad_norm_`) and a
/// learning-rate schedule.
///
/// The moments `m`, `v` share the parameter layout; together with `step` they are the whole
/// optimizer state a checkpoint stores.
public struct Adam: Sendable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var gradientClip: Double?
    public var schedule: LearningRateSchedule

    /// First and second moments.
    public var m: [Float]
    public var v: [Float]
    /// Number of updates done so far.
    public var step: Int
    /// Which parameters are trained (nil: all). A frozen parameter (false) is never changed and
    /// its moments stay as they are, whatever its gradient (transfer learning: `--freeze`).
    public var trainable: [Bool]? = nil

    public init(parameterCount: Int, config: TrainingConfig) {
        learningRate = config.learningRate
        beta1 = config.beta1
        beta2 = config.beta2
        epsilon = config.epsilon
        gradientClip = config.gradientClip
        schedule = config.schedule
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
        step = 0
    }

    /// Euclidean norm of a flat gradient, accumulated in Double.
    public static func norm(_ g: [Float]) -> Double {
        var s = 0.0
        for x in g { s += Double(x) * Double(x) }
        return s.squareRoot()
    }

    /// What one update did (for logging).
    public struct Report: Sendable {
        public let learningRate: Double
        public let gradientNorm: Double
        public let clipped: Bool
    }

    /// One update of `parameters` from `gradient` (modified in place when clipped).
    /// `totalSteps` is the length of the run, for schedules that need it.
    @discardableResult
    public mutating func update(parameters: inout [Float], gradient: inout [Float], totalSteps: Int) -> Report {
        precondition(parameters.count == m.count && gradient.count == m.count, "Adam: buffer sizes differ")
        precondition(trainable == nil || trainable!.count == m.count, "Adam: mask size differs")
        // Frozen parameters take no part in the update, nor in the norm that clipping uses.
        if let trainable { for i in gradient.indices where !trainable[i] { gradient[i] = 0 } }
        let gnorm = Self.norm(gradient)
        var clipped = false
        if let maxNorm = gradientClip {
            // torch.nn.utils.clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is < 1.
            let coef = maxNorm / (gnorm + 1e-6)
            if coef < 1 {
                let c = Float(coef)
                for i in gradient.indices { gradient[i] *= c }
                clipped = true
            }
        }
        let lr = learningRate * schedule.factor(step: step, totalSteps: totalSteps)
        step += 1
        let t = Double(step)
        let bias1 = 1 - pow(beta1, t)
        let bias2 = 1 - pow(beta2, t)
        let stepSize = Float(lr / bias1)
        let sqrtBias2 = Float(bias2.squareRoot())
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let mask = trainable ?? []
        parameters.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        for i in 0..<p.count {
                            if !mask.isEmpty && !mask[i] { continue }
                            let gi = g[i]
                            m[i] = b1 * m[i] + (1 - b1) * gi
                            v[i] = b2 * v[i] + (1 - b2) * gi * gi
                            let denom = v[i].squareRoot() / sqrtBias2 + eps
                            p[i] -= stepSize * m[i] / denom
                        }
                    }
                }
            }
        }
        return Report(learningRate: lr, gradientNorm: gnorm, clipped: clipped)
    }
}
