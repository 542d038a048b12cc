import ArgumentParser
import DistributedTraining
import Foundation

/// `launcher selftest --data-parallel`: the data-parallel machinery of training, without a
/// network, on every rank.
///
/// A mock training run: the training snapshots 0..<n are shuffled per epoch
/// (`TrainingSchedule`), each global batch is cut over the ranks, each rank makes one pseudo-random
/// "gradient" per snapshot of its slice (a function of snapshot and step only, like a real
/// gradient is a function of the snapshot and the parameters), `GradientReducer` sums them over
/// the ranks, `SnapshotOrderedSum` sums a per-snapshot "loss", and the parameters take a step.
/// Before each step the ranks agree on a stop signal (`agreedStopSignal`).
///
/// Rank 0 prints each epoch's order, one line per step (the first 40) with a hash of the bits of
/// the gradient sum and of the loss sum, and the hash of the final parameters. All of it must be
/// identical at any rank count (in the exact mode). Rank 0 also checks each step's sum against
/// the serial sum of the whole batch, computed exactly in integers (the gradient values are
/// multiples of 2^−40 below 2^7, so the fixed-point sum loses nothing): the exact mode must give
/// that sum rounded once to Float, bit for bit; the fast mode must be within n · 2^−23 · Σ|g|.
struct DataParallelOptions: ParsableArguments {
    @Flag(name: .customLong("data-parallel"), help: ArgumentHelp(
        "Check sharding, the reproducible gradient sum and stop signals across the ranks (a mock training run)."))
    var enabled = false

    @Option(name: .customLong("dp-snapshots"), help: "Mock training snapshots.")
    var snapshots = 37

    @Option(name: .customLong("dp-global-batch"), help: "Snapshots per step over all ranks.")
    var globalBatch = 8

    @Option(name: .customLong("dp-parameters"), help: "Floats per gradient.")
    var parameters = 1001

    @Option(name: .customLong("dp-steps"), help: "Optimiser steps in all (over as many epochs as needed).")
    var steps = 12

    @Option(name: .customLong("dp-seed"), help: "Seed of the shuffle and of the mock gradients.")
    var seed: UInt64 = 2026

    @Flag(name: .customLong("dp-fast"), help: "Use the floating-point (fast) reduction instead of the exact one.")
    var fast = false

    @Option(name: .customLong("dp-nan-snapshot"), help: ArgumentHelp(
        "Give snapshot K a NaN gradient the first time it is trained on: every rank must stop at that step.",
        valueName: "K"))
    var nanSnapshot: Int?

    func validate() throws {
        guard snapshots >= 1, globalBatch >= 1, parameters >= 1, steps >= 0 else {
            throw ValidationError("--dp-snapshots, --dp-global-batch and --dp-parameters must be >= 1, --dp-steps >= 0")
        }
    }
}

struct SelfTestDataParallel {
    let options: DataParallelOptions
    let world: Communicator

    /// Steps whose line rank 0 prints.
    static let printedSteps = 40

    func run() throws {
        let mode: GradientReductionMode = options.fast ? .fast : .exact
        let schedule = try TrainingSchedule(
            snapshots: Array(0 ..< options.snapshots), globalBatchSize: options.globalBatch, seed: options.seed)
        let p = options.parameters
        let reducer = GradientReducer(parameterCount: p, mode: mode)
        var parameters = [Float](repeating: 0, count: p)
        var sum = [Float](repeating: 0, count: p)
        if world.isRoot {
            printNow("data-parallel: \(world.size) ranks, \(options.snapshots) snapshots, global batch "
                     + "\(options.globalBatch), \(schedule.stepsPerEpoch) steps per epoch, \(p) parameters, "
                     + "mode \(mode.rawValue)")
        }
        var plan = schedule.epoch(0)
        var step = 0  // within the epoch
        var communicationSeconds = 0.0
        for globalStep in 0 ..< options.steps {
            if let signal = try world.agreedStopSignal() {
                let stopSteps = try world.gather(Int64(globalStep), to: 0)
                if let stopSteps {
                    printNow("data-parallel: \(StopSignal.name(signal)) agreed before step \(globalStep); "
                             + "stop step per rank: \(stopSteps.map(String.init).joined(separator: ","))")
                }
                throw StoppedForResubmission(signal: signal, detail: "mock training stopped before step \(globalStep) (nothing to save)")
            }
            if step == plan.stepCount {
                plan = schedule.epoch(plan.epoch + 1)
                step = 0
            }
            if step == 0, world.isRoot, globalStep < Self.printedSteps {
                printNow("epoch \(plan.epoch) order: " + plan.order.map(String.init).joined(separator: ","))
            }

            let local = plan.localBatch(step: step, rank: world.rank, size: world.size)
            reducer.reset()
            var losses = SnapshotOrderedSum(rowCount: local.globalCount, width: 2)
            for (offset, snapshot) in local.snapshots.enumerated() {
                var gradient = Self.gradient(snapshot: snapshot, step: globalStep, seed: options.seed, count: p)
                if snapshot == options.nanSnapshot { gradient[p / 2] = .nan }
                reducer.add(gradient, snapshot: snapshot)
                // A mock loss: Σ g² in Double, and the snapshot index (catches a duplicated row).
                let loss = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }
                losses.set(row: local.positions.lowerBound + offset, [loss, Double(snapshot)])
            }
            let reduction = try reducer.reduce(over: world, into: &sum)
            communicationSeconds += reduction.communicationSeconds
            let lossSums = try losses.reduce(over: world)
            for i in 0 ..< p { parameters[i] -= 0.01 * sum[i] / Float(reduction.snapshotCount) }

            if world.isRoot {
                let batch = Array(plan.globalBatch(step: step))
                let check = try Self.checkAgainstSerialSum(sum, batch: batch, step: globalStep, seed: options.seed, mode: mode)
                guard lossSums[1] == Double(batch.reduce(0, +)) else {
                    throw SelfTestFailure(checks: ["data-parallel.loss-rows step \(globalStep)"])
                }
                if globalStep < Self.printedSteps {
                    printNow("step \(globalStep) epoch \(plan.epoch) batch \(batch.map(String.init).joined(separator: ",")) "
                             + "sum-hash \(Self.hexHash(sum)) loss-sum \(Self.hex(lossSums[0])) \(check)")
                }
                if globalStep == 0 { printNow("data-parallel: running") }
            }
            step += 1
        }
        let hashes = try world.gather(Self.hexHash(parameters), to: 0)
        if let hashes {
            guard Set(hashes).count == 1 else {
                throw SelfTestFailure(checks: ["data-parallel.parameters differ between ranks: \(hashes)"])
            }
            printNow("data-parallel: parameters-hash \(hashes[0]) after \(options.steps) steps")
        }
        // The replica check must see the parameters equal, and a rank-dependent value unequal.
        let parametersAgree = try world.sameOnEveryRank(parameters)
        let rankValuesAgree = try world.sameOnEveryRank([Float(world.rank)])
        if world.isRoot {
            printNow("data-parallel: replica-check parameters \(parametersAgree ? "same" : "DIFFER"), "
                     + "rank numbers \(rankValuesAgree ? "same" : "differ")")
            printNow("data-parallel: gradient reduction \(String(format: "%.3f", 1000 * communicationSeconds / Double(max(1, options.steps)))) ms per step on rank 0")
        }
        guard parametersAgree, rankValuesAgree == (world.size == 1) else {
            throw SelfTestFailure(checks: ["data-parallel.replica-check"])
        }
    }

    /// The mock gradient of `snapshot` at `step`: `count` Floats m · 2^e with m a signed integer
    /// of at most 24 bits and e in −40 ... −17, from a SplitMix64 seeded by (seed, snapshot, step).
    static func gradient(snapshot: Int, step: Int, seed: UInt64, count: Int) -> [Float] {
        var generator = SplitMix64(seed: SplitMix64.mix(seed ^ SplitMix64.mix(UInt64(snapshot) << 32 | UInt64(step))))
        return (0 ..< count).map { _ in
            let bits = generator.next()
            let mantissa = Int64(bits >> 40) - (1 << 23)      // −2^23 ..< 2^23
            let exponent = Int((bits >> 8) % 24) - 40        // −40 ... −17
            return Float(mantissa) * Float(sign: .plus, exponent: exponent, significand: 1)
        }
    }

    /// Compares `sum` with the exact serial sum of the batch's mock gradients (integers in units of
    /// 2^−40). Exact mode: every element must be that sum rounded to Float. Fast mode: within
    /// n · 2^−23 · Σ|g|. Returns the text for the step line; throws on a violation.
    static func checkAgainstSerialSum(_ sum: [Float], batch: [Int], step: Int, seed: UInt64,
                                      mode: GradientReductionMode) throws -> String {
        let unit = Double(sign: .plus, exponent: -40, significand: 1)
        var exact = [Int64](repeating: 0, count: sum.count)
        var magnitude = [Double](repeating: 0, count: sum.count)
        for snapshot in batch {
            for (i, g) in gradient(snapshot: snapshot, step: step, seed: seed, count: sum.count).enumerated() {
                exact[i] += Int64(Double(g) / unit)  // exact: g is a multiple of 2^−40 below 2^7
                magnitude[i] += Double(abs(g))
            }
        }
        var mismatches = 0
        var worstRatio = 0.0
        for i in 0 ..< sum.count {
            let reference = Double(exact[i]) * unit  // exact: |exact| < 2^53
            switch mode {
            case .exact:
                if sum[i].bitPattern != Float(reference).bitPattern { mismatches += 1 }
            case .fast:
                let bound = Double(batch.count) * 0x1p-23 * magnitude[i]
                let error = abs(Double(sum[i]) - reference)
                if error > bound { mismatches += 1 }
                if bound > 0 { worstRatio = max(worstRatio, error / bound) }
            }
        }
        guard mismatches == 0 else {
            throw SelfTestFailure(checks: ["data-parallel.sum step \(step): \(mismatches) elements off the serial sum"])
        }
        return mode == .exact ? "serial-check exact" : "serial-check within-bound worst-ratio \(String(format: "%.3g", worstRatio))"
    }

    /// FNV-1a (64-bit) over the Floats' bit patterns, as 16 hex digits.
    static func hexHash(_ values: [Float]) -> String {
        hex(values.withUnsafeBufferPointer { bitPatternHash($0) })
    }

    static func hex(_ value: Double) -> String { hex(value.bitPattern) }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
