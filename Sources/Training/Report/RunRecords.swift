import Foundation

/// One scored snapshot: species, targets and predictions `[N][T]` (physical units, model times).
public struct ObservedSnapshot {
    public let species: [Int32]
    public let targets: [Float]
    public let predictions: [Float]

    public init(species: [Int32], targets: [Float], predictions: [Float]) {
        self.species = species
        self.targets = targets
        self.predictions = predictions
    }
}

/// The per-epoch lines of a run's metrics.jsonl.
public struct TrainingHistory {
    public var epochs: [Double] = []
    public var trainLoss: [Double] = []
    public var validationLoss: [Double] = []
    /// Per epoch: the validation block (times, species → scores), if any.
    public var validation: [[String: Any]?] = []

    /// nil when the file does not exist; an unreadable line is an error naming it.
    public init?(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let epoch = (object["epoch"] as? NSNumber)?.doubleValue else {
                throw ValidationFailure("\(path), line \(n + 1): not a metrics line")
            }
            epochs.append(epoch)
            trainLoss.append((object["train_loss"] as? NSNumber)?.doubleValue ?? .nan)
            let v = object["validation"] as? [String: Any]
            validationLoss.append((v?["loss"] as? NSNumber)?.doubleValue ?? .nan)
            validation.append(v)
        }
    }

    /// Pooled validation ρ of `species` per epoch, for each validation time (in order of first appearance).
    public func validationRho(species: String) -> [(time: Double, values: [Double])] {
        var times: [Double] = []
        for v in validation { for t in (v?["times"] as? [NSNumber] ?? []).map(\.doubleValue) where !times.contains(t) { times.append(t) } }
        return times.map { t in
            (t, validation.map { v -> Double in
                guard let v, let ts = (v["times"] as? [NSNumber])?.map(\.doubleValue), let q = ts.firstIndex(of: t),
                      let s = (v["species"] as? [String: Any])?[species] as? [String: Any],
                      let pooled = s["pearson_pooled"] as? [Any], q < pooled.count else { return .nan }
                return (pooled[q] as? NSNumber)?.doubleValue ?? .nan
            })
        }
    }
}

/// RUN_DIR/probe.json, as `launcher probe` writes it:
/// {"times": [...], "species": "A", "layers": [0, 1, ..., K], "pearson": [[ρ per time] per layer]}.
public struct ProbeResult {
    public let times: [Double]
    public let species: String
    public let layers: [Int]
    public let pearson: [[Double]]

    public init(path: String) throws {
        func fail(_ problem: String) -> ValidationFailure { ValidationFailure("\(path): \(problem)") }
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw fail("not a JSON object") }
        guard let times = (object["times"] as? [NSNumber])?.map(\.doubleValue),
              let layers = (object["layers"] as? [NSNumber])?.map(\.intValue),
              let rows = object["pearson"] as? [[Any]] else {
            throw fail("needs \"times\", \"layers\" and \"pearson\"")
        }
        guard rows.count == layers.count, rows.allSatisfy({ $0.count == times.count }) else {
            throw fail("\"pearson\" must hold one row of \(times.count) values per layer (\(layers.count) layers)")
        }
        self.times = times
        self.layers = layers
        self.species = object["species"] as? String ?? "A"
        self.pearson = rows.map { $0.map { ($0 as? NSNumber)?.doubleValue ?? .nan } }
    }
}
