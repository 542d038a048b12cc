import DistributedTraining
import EquivariantNet
import Foundation

extension Trainer {
    /// The end of an epoch: validation over every rank, one line of metrics.jsonl (rank 0), and
    /// a checkpoint every `checkpointEvery` epochs and after the last. Collective.
    public func endEpoch(_ state: inout TrainingState, _ totals: EpochTotals, data: TrainingData) throws {
        state.epoch += 1
        state.batchInEpoch = 0
        let tc = config.training
        var line: [String: Any] = [
            "epoch": state.epoch, "step": state.adam.step, "ranks": world.size,
            "train_loss": totals.meanLoss ?? NSNull(),
            "learning_rate": tc.learningRate * tc.schedule.factor(step: max(state.adam.step - 1, 0), totalSteps: totalSteps(data)),
            "seconds": Date().timeIntervalSince(totals.start),
        ]
        if data.validation != nil { line["validation"] = try validate(state, data: data) }
        try appendMetrics(line)
        if state.epoch % tc.checkpointEvery == 0 || state.epoch == tc.epochs { try save(state, data: data) }
    }

    /// Scores the model on the validation file (collective) and logs a summary line; returns the
    /// metrics line's "validation" object.
    func validate(_ state: TrainingState, data: TrainingData) throws -> [String: Any] {
        let validation = data.validation!, shared = data.validationShared
        let mc = config.model, tc = config.training
        let (metrics, loss) = try score(model: state.model, parameters: state.parameters, normalization: data.normalization,
                                        snapshots: Array(0..<validation.file.snapshotCount), read: validation.snapshot,
                                        shared: shared, trainSpecies: tc.trainSpecies, world: world)
        let summary = shared.enumerated().map { q, pair in
            String(format: "t=%g ρ=%.3f", mc.times[pair.model], metrics.pearsonPooled(species: tc.trainSpecies[0], time: q))
        }.joined(separator: "  ")
        log("epoch \(state.epoch) validation: loss \(String(format: "%.4f", loss))  \(summary)")
        return ["loss": loss.isFinite ? loss : NSNull(), "snapshots": metrics.snapshots,
                "times": shared.map { mc.times[$0.model] },
                "species": speciesScores(metrics, speciesNames: data.speciesNames)] as [String: Any]
    }

    /// Rank 0 drops the lines of metrics.jsonl past epoch `epoch` (none in a run that resumes
    /// from its last line's checkpoint); failing to is an error naming the file.
    func trimMetrics(toEpoch epoch: Int) throws {
        let path = outDirectory + "/metrics.jsonl"
        guard world.isRoot, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let kept = lines.filter { line in
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return (object?["epoch"] as? Int).map { $0 <= epoch } ?? true
        }
        guard kept.count < lines.count else { return }
        do {
            try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationFailure("cannot rewrite \(path) (the run's metrics): \(error.localizedDescription)")
        }
    }

    /// Rank 0 appends `line` to the run's metrics.jsonl; failing to is an error naming the file.
    func appendMetrics(_ line: [String: Any]) throws {
        guard world.isRoot else { return }
        let path = outDirectory + "/metrics.jsonl", url = URL(fileURLWithPath: path)
        do {
            if !FileManager.default.fileExists(atPath: path) { try Data().write(to: url) }
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((jsonLine(line) + "\n").utf8))
            try handle.close()
        } catch {
            throw ValidationFailure("cannot append to \(path) (the run's metrics): \(error.localizedDescription)")
        }
    }
}
