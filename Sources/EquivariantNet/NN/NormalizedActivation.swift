import Foundation

/// Activations rescaled to unit second moment under a standard normal input, with e3nn's own
/// constants (`normalize2mom`, estimated by e3nn from 10⁶ float64 normals with seed 0; the exact
/// integrals differ by 0.16%, see docs/model.md): the doubles e3nn 0.6 computes, as its fixture
/// prints them. The network uses them rounded to Float.
public enum NormalizedActivation: String, Sendable, Codable {
    case silu
    case sigmoid

    /// e3nn's `normalize2mom` factor.
    public var constant: Double {
        switch self {
        case .silu: return 1.6791767923989418
        case .sigmoid: return 1.8467055342154763
        }
    }

    /// (value, derivative) of the normalized activation at x.
    @inline(__always)
    public func valueAndDerivative(_ x: Float) -> (Float, Float) {
        let c = Float(constant)
        let s = 1 / (1 + expf(-x))
        switch self {
        case .silu: return (c * x * s, c * s * (1 + x * (1 - s)))
        case .sigmoid: return (c * s, c * s * (1 - s))
        }
    }

    @inline(__always)
    public func value(_ x: Float) -> Float {
        let c = Float(constant)
        let s = 1 / (1 + expf(-x))
        switch self {
        case .silu: return c * x * s
        case .sigmoid: return c * s
        }
    }
}
