import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training
import XCTest

/// The trainer's steps on the tiny model, one at a time, against independent computations.
final class TrainerStepsTests: TrainingTestCase {
    /// A run started and stopped after `steps` steps (a checkpoint written): its directory.
    func trainedRun(_ name: String, steps: Int) throws -> String {
        let base = try trainer(out: name)
        var t = Trainer(world: base.world, trainPaths: base.trainPaths, outDirectory: base.outDirectory, config: base.config,
                        maxSteps: steps)
        t.output = { _ in }
        try t.run()
        return t.outDirectory
    }

    /// The gradient of the mean loss over `batch` at `parameters`, by plain forward/backward per
    /// snapshot summed in Double, and that mean loss.
    func handGradient(_ model: PropensityModel, _ parameters: [Float], _ data: TrainingData, batch: [Int],
                      species: [Int] = [0]) throws -> (gradient: [Double], loss: Double) {
        let t = model.config.times.count
        var sum = [Double](repeating: 0, count: parameters.count), lossSum = 0.0, terms = 0
        for k in batch {
            let p = try data.train.snapshot(k)
            let targets = data.normalization.standardize(targets: p.targets!, species: p.species, times: t)
            let z = model.forward(parameters: parameters, input: p.input)
            var gz = [Float](repeating: 0, count: z.count)
            for i in 0..<p.particleCount where species.contains(Int(p.species[i])) {
                for q in 0..<t {
                    let d = z[i * t + q] - targets[i * t + q]
                    gz[i * t + q] = 2 * d
                    lossSum += Double(d) * Double(d)
                    terms += 1
                }
            }
            var g = [Float](repeating: 0, count: parameters.count)
            model.backward(parameters: parameters, input: p.input, gradPredictions: gz, gradient: &g)
            for i in g.indices { sum[i] += Double(g[i]) }
        }
        return (sum.map { $0 / Double(terms) }, lossSum / Double(terms))
    }

    func testStartIsNewResumeOrTransfer() throws {
        let fresh = try trainer(out: "fresh")
        guard case .new = try fresh.chooseStart().kind else { return XCTFail("an empty directory starts a new run") }

        let run = try trainedRun("first", steps: 2)
        let saved = try Checkpoint.read(path: Checkpoint.list(in: run).last!)
        XCTAssertEqual(saved.step, 2)
        XCTAssertThrowsError(try trainer(out: "first").chooseStart()) {
            XCTAssertTrue("\($0)".contains("already holds checkpoints"), "\($0)")
        }

        // --resume: the checkpoint's configuration (a default model section means none given),
        // --epochs may extend it; the parameters, moments and position are the checkpoint's.
        var longer = try trainer(RunConfig(), out: "first", resume: true)
        longer = Trainer(world: longer.world, trainPaths: longer.trainPaths, outDirectory: longer.outDirectory,
                         config: RunConfig(), resume: true, epochsOverride: 5)
        longer.output = { _ in }
        let resumed = try longer.chooseStart()
        guard case .resume(let c, _) = resumed.kind else { return XCTFail("--resume with a checkpoint resumes") }
        XCTAssertEqual(c.step, 2)
        XCTAssertEqual(resumed.config.model, TinyRun.config().model)
        XCTAssertEqual(resumed.config.training.epochs, 5)
        longer.config = resumed.config
        let state = try longer.initialState(resumed, try longer.prepareData(resumed))
        XCTAssertEqual(state.parameters, saved.parameters)
        XCTAssertEqual(state.adam.m, saved.adamM)
        XCTAssertEqual(state.adam.v, saved.adamV)
        XCTAssertEqual(state.adam.step, 2)
        XCTAssertEqual(state.batchInEpoch, 0)
        XCTAssertEqual(state.epoch, 1)  // 4 snapshots in batches of 2: step 2 ends epoch 1

        var other = TinyRun.config()
        other.model.channels = 3
        XCTAssertThrowsError(try trainer(other, out: "first", resume: true).chooseStart()) {
            XCTAssertTrue("\($0)".contains("channels: requested 3, checkpoint 2"), "\($0)")
        }

        // --init-from: a new run with the source's model and parameters, a fresh optimizer.
        let transfer = try trainer(RunConfig(), out: "transfer", initFrom: run)
        let start = try transfer.chooseStart()
        guard case .transfer(let source) = start.kind else { return XCTFail("--init-from starts a transfer") }
        XCTAssertEqual(source.source.parameters, saved.parameters)
        XCTAssertEqual(start.config.model, TinyRun.config().model)
        XCTAssertEqual(start.initFrom, Checkpoint.list(in: run).last!)
        var t = transfer
        t.config = start.config
        let data = try t.prepareData(start)
        XCTAssertEqual(data.avgNeighbors, saved.avgNeighbors)
        XCTAssertEqual(data.normalization.scalarMean, saved.scalarMean)
        let s = try t.initialState(start, data)
        XCTAssertEqual(s.parameters, saved.parameters)
        XCTAssertEqual(s.adam.step, 0)
        XCTAssertEqual(s.adam.m, [Float](repeating: 0, count: saved.parameters.count))
    }

    /// Two optimizer steps against Adam written out by hand on the hand-computed mean gradient:
    /// m = β1 m + (1 − β1) g, v = β2 v + (1 − β2) g², θ −= lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + ε).
    func testOptimizerStepIsAdamOnTheMeanGradient() throws {
        var t = try trainer(TinyRun.config(batchSize: 2, learningRate: 0.01))
        let start = try t.chooseStart()
        t.config = start.config
        let data = try t.prepareData(start)
        var state = try t.initialState(start, data)
        let plan = data.schedule.epoch(0)
        var theta = state.parameters.map(Double.init)
        var m = [Double](repeating: 0, count: theta.count), v = m
        let (b1, b2, eps, lr) = (0.9, 0.999, 1e-8, 0.01)
        for step in 1...2 {
            let batch = Array(plan.globalBatch(step: step - 1))
            let (g, loss) = try handGradient(state.model, state.parameters, data, batch: batch)
            let result = try t.step(&state, plan: plan, data: data)
            XCTAssertEqual(result.loss, loss, accuracy: 1e-9 * max(1, loss))
            let norm = g.map { $0 * $0 }.reduce(0, +).squareRoot()
            XCTAssertEqual(result.update.gradientNorm, norm, accuracy: 1e-5 * norm)
            for i in theta.indices {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let denominator = v[i].squareRoot() / (1 - pow(b2, Double(step))).squareRoot() + eps
                theta[i] -= lr / (1 - pow(b1, Double(step))) * m[i] / denominator
            }
            var worst = 0.0
            for i in theta.indices { worst = max(worst, abs(Double(state.parameters[i]) - theta[i])) }
            XCTAssertLessThan(worst, 2e-5, "step \(step): largest difference from Adam by hand")
            let scale = m.map(abs).max()!
            for i in m.indices {
                XCTAssertEqual(Double(state.adam.m[i]), m[i], accuracy: 1e-5 * scale, "first moment \(i)")
                XCTAssertEqual(Double(state.adam.v[i]), v[i], accuracy: 1e-5 * scale * scale, "second moment \(i)")
            }
            XCTAssertEqual(state.adam.step, step)
            XCTAssertEqual(state.batchInEpoch, step)
        }
        // The steps moved the parameters by about lr each (Adam's first steps are ±lr).
        let moved = zip(state.parameters, try t.initialState(start, data).parameters).filter { abs($0 - $1) > 0.015 }.count
        XCTAssertGreaterThan(moved, state.parameters.count / 2)
    }

    /// The end of an epoch: one metrics line (epoch, step, the epoch's mean training loss, the
    /// validation loss as a direct computation gives it) and a checkpoint of the state.
    func testEndOfEpochWritesAMetricsLineAndACheckpoint() throws {
        var t = try trainer(validation: true)
        let start = try t.chooseStart()
        t.config = start.config
        let data = try t.prepareData(start)
        var state = try t.initialState(start, data)
        let plan = data.schedule.epoch(0)
        var totals = EpochTotals()
        for _ in 0..<plan.stepCount { totals.add(loss: try t.step(&state, plan: plan, data: data).loss) }
        try t.endEpoch(&state, totals, data: data)
        XCTAssertEqual(state.epoch, 1)
        XCTAssertEqual(state.batchInEpoch, 0)

        let text = try String(contentsOfFile: t.outDirectory + "/metrics.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(line["epoch"] as? Int, 1)
        XCTAssertEqual(line["step"] as? Int, 2)
        // Through JSON text: equal to its printed precision.
        XCTAssertEqual(try XCTUnwrap(line["train_loss"] as? Double), totals.lossSum / 2, accuracy: 1e-12 * totals.lossSum)
        let validation = try XCTUnwrap(line["validation"] as? [String: Any])
        XCTAssertEqual(validation["times"] as? [Double], [1, 4])
        XCTAssertEqual(validation["snapshots"] as? Int, 4)
        // The validation loss: mean squared standardized error of species A over the file.
        let (_, loss) = try handGradient(state.model, state.parameters, data, batch: [0, 1, 2, 3])
        XCTAssertEqual(try XCTUnwrap(validation["loss"] as? Double), loss, accuracy: 1e-7 * loss)

        let files = Checkpoint.list(in: t.outDirectory)
        XCTAssertEqual(files.map { URL(fileURLWithPath: $0).lastPathComponent }, [Checkpoint.fileName(step: 2)])
        let c = try Checkpoint.read(path: files[0])
        XCTAssertEqual(c.parameters, state.parameters)
        XCTAssertEqual(c.adamM, state.adam.m)
        XCTAssertEqual(c.adamV, state.adam.v)
        XCTAssertEqual([c.step, c.epoch, c.batchInEpoch], [2, 1, 0])
        XCTAssertEqual(c.rngState, state.rngState)
        XCTAssertEqual(c.targetMean, data.normalization.targetMean)
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: Data(c.configJSON.utf8)), t.config)
    }

    /// --freeze: the frozen blocks' parameters do not change at all although their gradient is
    /// not zero; every other parameter changes exactly where its gradient is not zero.
    func testFrozenBlocksStayFixedAndTheOthersTrain() throws {
        var t = try trainer(freeze: "embedding, layer0.radial")
        let start = try t.chooseStart()
        XCTAssertEqual(start.freezeItems, ["embedding", "layer0.radial"])
        t.config = start.config
        let data = try t.prepareData(start)
        var state = try t.initialState(start, data)
        let frozen = try XCTUnwrap(state.frozen)
        XCTAssertEqual(frozen.blocks.map(\.name), ["embedding", "layer0.radial.w1", "layer0.radial.w2"])
        XCTAssertEqual(frozen.frozenCount, frozen.blocks.map(\.count).reduce(0, +))
        let before = state.parameters
        let plan = data.schedule.epoch(0)
        let (g, _) = try handGradient(state.model, before, data, batch: Array(plan.globalBatch(step: 0)))
        _ = try t.step(&state, plan: plan, data: data)
        var frozenWithGradient = 0, trained = 0
        for block in state.model.layout.blocks {
            for i in block.range {
                if frozen.blocks.contains(block) {
                    XCTAssertEqual(state.parameters[i], before[i], "frozen \(block.name) changed")
                    if g[i] != 0 { frozenWithGradient += 1 }
                } else {
                    XCTAssertEqual(state.parameters[i] != before[i], g[i] != 0, "\(block.name) [\(i - block.offset)]")
                    if g[i] != 0 { trained += 1 }
                }
            }
        }
        XCTAssertGreaterThan(frozenWithGradient, frozen.frozenCount / 2)
        XCTAssertGreaterThan(trained, (before.count - frozen.frozenCount) / 2)
    }
}
