import EquivariantNet
import Foundation

extension ModelConfig {
    /// Whether this is the default configuration, which is what a run configuration without a
    /// model section decodes to: for a run that continues or starts from a saved model, it
    /// means "none given".
    public var meansNoneGiven: Bool { self == ModelConfig() }

    /// The model configuration of a run that continues (--resume) or starts from (--init-from) a
    /// saved model: `saved`. This configuration, the one asked for, must be none given
    /// (`meansNoneGiven`) or equal it; otherwise the error says `context` and names every field
    /// that differs.
    public func adopting(_ saved: ModelConfig, context: String) throws -> ModelConfig {
        if meansNoneGiven || self == saved { return saved }
        throw ValidationFailure(context + " in " + Self.differences(self, saved).joined(separator: "; ")
                                + " (omit the model section, or make it equal the checkpoint's)")
    }

    /// "key: requested X, checkpoint Y" for every configuration key whose values differ.
    public static func differences(_ requested: ModelConfig, _ saved: ModelConfig) -> [String] {
        func dictionary(_ c: ModelConfig) -> [String: Any] {
            let data = try! JSONEncoder().encode(c)
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        }
        func text(_ v: Any?) -> String {
            guard let v else { return "none" }
            if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(v)"
        }
        let a = dictionary(requested), b = dictionary(saved)
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            let x = text(a[key]), y = text(b[key])
            return x == y ? nil : "\(key): requested \(x), checkpoint \(y)"
        }
    }
}
