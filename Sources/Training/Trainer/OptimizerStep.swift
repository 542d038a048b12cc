import DistributedTraining
import EquivariantNet
import Foundation

/// What one optimizer step reports.
public struct StepResult {
    /// The mean loss over the global batch's terms.
    public let loss: Double
    /// Adam's learning rate and gradient norm of the step.
    public let update: Adam.Report
    /// Seconds this rank spent in the gradient all-reduce.
    public let communicationSeconds: Double
}

extension Trainer {
    /// One optimizer step on global batch `state.batchInEpoch` of `plan`: forward and backward
    /// of each of this rank's snapshots, each gradient alone (so bitwise the same on any rank),
    /// the all-reduce of the gradients and of the loss sums, then Adam on the mean gradient.
    /// A non-finite gradient or loss throws on every rank alike; the step is then not applied.
    public func step(_ state: inout TrainingState, plan: EpochPlan, data: TrainingData) throws -> StepResult {
        let tc = config.training, t = config.model.times.count
        let local = plan.localBatch(step: state.batchInEpoch, rank: world.rank, size: world.size)
        let reducer = GradientReducer(parameterCount: state.parameters.count, mode: reduction)
        // Per snapshot: [loss sum, loss terms], in batch order.
        var losses = SnapshotOrderedSum(rowCount: local.globalCount, width: 2)
        var snapshotGradient = [Float](repeating: 0, count: state.parameters.count)
        for (row, k) in zip(local.positions, local.snapshots) {
            let p = try data.train.snapshot(k)
            let targets = data.normalization.standardize(targets: p.targets!, species: p.species, times: t)
            let predictions = state.model.forward(parameters: state.parameters, input: p.input)
            var gPred = [Float](repeating: 0, count: predictions.count)
            // The gradient of this snapshot's loss SUM, alone: bitwise the same on any rank.
            let loss = PropensityLoss.evaluate(predictions: predictions, targets: targets, species: p.species,
                                               trainSpecies: tc.trainSpecies, times: t, globalCount: 1, gradient: &gPred)
            for i in snapshotGradient.indices { snapshotGradient[i] = 0 }
            state.model.backward(parameters: state.parameters, input: p.input, gradPredictions: gPred,
                                 gradient: &snapshotGradient, firstTrained: state.firstTrained)
            state.frozen?.zeroFrozen(&snapshotGradient)  // frozen blocks: no gradient (and none all-reduced)
            reducer.add(snapshotGradient, snapshot: k)
            let terms = PropensityLoss.termCount(species: p.species, trainSpecies: tc.trainSpecies, times: t)
            losses.set(row: row, [loss, Double(terms)])
        }
        var gradient = [Float](repeating: 0, count: state.parameters.count)
        let communication = try reducer.reduce(over: world, into: &gradient).communicationSeconds
        let totals = try losses.reduce(over: world)
        let terms = totals[1]
        let stepLoss = terms > 0 ? totals[0] / terms : 0
        guard stepLoss.isFinite else {  // the same total on every rank: all ranks stop here
            throw ValidationFailure("non-finite loss at step \(state.adam.step + 1) (epoch \(state.epoch + 1), "
                                    + "batch \(state.batchInEpoch + 1)); the last good checkpoint is kept")
        }
        // The mean over the global batch's terms.
        if terms > 0 { for i in gradient.indices { gradient[i] = Float(Double(gradient[i]) / terms) } }
        let update = state.adam.update(parameters: &state.parameters, gradient: &gradient, totalSteps: totalSteps(data))
        state.batchInEpoch += 1
        return StepResult(loss: stepLoss, update: update, communicationSeconds: communication)
    }

    /// Optimizer steps of the whole run (every epoch).
    public func totalSteps(_ data: TrainingData) -> Int { config.training.epochs * data.schedule.stepsPerEpoch }

    /// Rank 0's progress line: at most every 2 s, and after the last step of an epoch.
    func report(_ state: TrainingState, _ progress: inout TrainingProgress, _ result: StepResult, lastOfEpoch: Bool,
                data: TrainingData) {
        guard world.isRoot && (Date().timeIntervalSince(progress.lastReport) > 2 || lastOfEpoch) else { return }
        progress.lastReport = Date()
        let tc = config.training, total = totalSteps(data)
        let elapsed = Date().timeIntervalSince(progress.start)
        let rate = Double(progress.steps * tc.batchSize) / max(elapsed, 1e-9)
        let remaining = Double(total - state.adam.step) * Double(tc.batchSize) / max(rate, 1e-9)
        log("epoch \(state.epoch + 1)/\(tc.epochs) step \(state.adam.step)/\(total) "
            + String(format: "loss %.4f  lr %.2e  |g| %.3g  %.2f snapshots/s  all-reduce %.1f ms/step  ETA %@",
                     result.loss, result.update.learningRate, result.update.gradientNorm, rate,
                     1000 * progress.communicationSeconds / Double(progress.steps), duration(remaining)))
    }
}
