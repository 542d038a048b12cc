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
public struct DataParallelSelfTest {
    public let world: Communicator
    /// Mock training snapshots, global batch, floats per gradient, optimizer steps in all.
    public let snapshots: Int, globalBatch: Int, parameters: Int, steps: Int
    /// Seed of the shuffle and of the mock gradients.
    public let seed: UInt64
    /// The floating-point (fast) reduction instead of the exact one.
    public let fast: Bool
    /// Snapshot whose gradient is NaN the first time it is trained on, if any.
    public let nanSnapshot: Int?
    /// Where rank 0's lines go.
    public let output: (String) -> Void

    public init(world: Communicator, snapshots: Int, globalBatch: Int, parameters: Int, steps: Int, seed: UInt64,
                fast: Bool, nanSnapshot: Int?, output: @escaping (String) -> Void) {
        self.world = world
        self.snapshots = snapshots
        self.globalBatch = globalBatch
        self.parameters = parameters
        self.steps = steps
        self.seed = seed
        self.fast = fast
        self.nanSnapshot = nanSnapshot
        self.output = output
    }

    /// Steps whose line rank 0 prints.
    static let printedSteps = 40

    public func run() throws {
        let mode: GradientReductionMode = fast ? .fast : .exact
        let schedule = try TrainingSchedule(
            snapshots: Array(0 ..< snapshots), globalBatchSize: globalBatch, seed: seed)
        let reducer = GradientReducer(parameterCount: parameters, mode: mode)
        var values = [Float](repeating: 0, count: parameters)
        if world.isRoot {
            output("data-parallel: \(world.size) ranks, \(snapshots) snapshots, global batch "
                     + "\(globalBatch), \(schedule.stepsPerEpoch) steps per epoch, \(parameters) parameters, "
                     + "mode \(mode.rawValue)")
        }
        var plan = schedule.epoch(0)
        var step = 0  // within the epoch
        var communicationSeconds = 0.0
        for globalStep in 0 ..< steps {
            try stopIfSignalled(before: globalStep)
            if step == plan.stepCount {
                plan = schedule.epoch(plan.epoch + 1)
                step = 0
            }
            if step == 0, world.isRoot, globalStep < Self.printedSteps {
                output("epoch \(plan.epoch) order: " + plan.order.map(String.init).joined(separator: ","))
            }
            communicationSeconds += try mockStep(plan: plan, step: step, globalStep: globalStep, reducer: reducer,
                                                 mode: mode, values: &values)
            step += 1
        }
        try checkReplicas(values, communicationSeconds: communicationSeconds)
    }

    /// A stop signal agreed by the ranks ends the mock run before `globalStep`.
    func stopIfSignalled(before globalStep: Int) throws {
        guard let signal = try world.agreedStopSignal() else { return }
        let stopSteps = try world.gather(Int64(globalStep), to: 0)
        if let stopSteps {
            output("data-parallel: \(StopSignal.name(signal)) agreed before step \(globalStep); "
                     + "stop step per rank: \(stopSteps.map(String.init).joined(separator: ","))")
        }
        throw StoppedForResubmission(signal: signal, detail: "mock training stopped before step \(globalStep) (nothing to save)")
    }

    /// One mock optimizer step: this rank's mock gradients summed over the ranks, a mock loss per
    /// snapshot, the step applied to `values`; rank 0 checks the sum against the serial one and
    /// prints the step's line. Returns the seconds spent communicating.
    func mockStep(plan: EpochPlan, step: Int, globalStep: Int, reducer: GradientReducer, mode: GradientReductionMode,
                  values: inout [Float]) throws -> Double {
        let p = parameters
        let local = plan.localBatch(step: step, rank: world.rank, size: world.size)
        reducer.reset()
        var losses = SnapshotOrderedSum(rowCount: local.globalCount, width: 2)
        for (offset, snapshot) in local.snapshots.enumerated() {
            var gradient = Self.gradient(snapshot: snapshot, step: globalStep, seed: seed, count: p)
            if snapshot == nanSnapshot { gradient[p / 2] = .nan }
            reducer.add(gradient, snapshot: snapshot)
            // A mock loss: Σ g² in Double, and the snapshot index (catches a duplicated row).
            let loss = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }
            losses.set(row: local.positions.lowerBound + offset, [loss, Double(snapshot)])
        }
        var sum = [Float](repeating: 0, count: p)
        let reduction = try reducer.reduce(over: world, into: &sum)
        let lossSums = try losses.reduce(over: world)
        for i in 0 ..< p { values[i] -= 0.01 * sum[i] / Float(reduction.snapshotCount) }
        guard world.isRoot else { return reduction.communicationSeconds }
        let batch = Array(plan.globalBatch(step: step))
        let check = try Self.checkAgainstSerialSum(sum, batch: batch, step: globalStep, seed: seed, mode: mode)
        guard lossSums[1] == Double(batch.reduce(0, +)) else {
            throw SelfTestFailure(checks: ["data-parallel.loss-rows step \(globalStep)"])
        }
        if globalStep < Self.printedSteps {
            output("step \(globalStep) epoch \(plan.epoch) batch \(batch.map(String.init).joined(separator: ",")) "
                     + "sum-hash \(Self.hexHash(sum)) loss-sum \(Self.hex(lossSums[0])) \(check)")
        }
        if globalStep == 0 { output("data-parallel: running") }
        return reduction.communicationSeconds
    }

    /// The final values must be the same bits on every rank (gathered hashes and the replica
    /// check), and the replica check must see a rank-dependent value differ.
    func checkReplicas(_ values: [Float], communicationSeconds: Double) throws {
        let hashes = try world.gather(Self.hexHash(values), to: 0)
        if let hashes {
            guard Set(hashes).count == 1 else {
                throw SelfTestFailure(checks: ["data-parallel.parameters differ between ranks: \(hashes)"])
            }
            output("data-parallel: parameters-hash \(hashes[0]) after \(steps) steps")
        }
        let parametersAgree = try world.sameOnEveryRank(values)
        let rankValuesAgree = try world.sameOnEveryRank([Float(world.rank)])
        if world.isRoot {
            output("data-parallel: replica-check parameters \(parametersAgree ? "same" : "DIFFER"), "
                     + "rank numbers \(rankValuesAgree ? "same" : "differ")")
            output("data-parallel: gradient reduction \(String(format: "%.3f", 1000 * communicationSeconds / Double(max(1, steps)))) ms per step on rank 0")
        }
        guard parametersAgree, rankValuesAgree == (world.size == 1) else {
            throw SelfTestFailure(checks: ["data-parallel.replica-check"])
        }
    }

    /// The mock gradient of `snapshot` at `step`: `count` Floats m · 2^e with m a signed integer
    /// of at most 24 bits and e in −40 ... −17, from a SplitMix64 seeded by (seed, snapshot, step).
    public static func gradient(snapshot: Int, step: Int, seed: UInt64, count: Int) -> [Float] {
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
    public static func checkAgainstSerialSum(_ sum: [Float], batch: [Int], step: Int, seed: UInt64,
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
    public static func hexHash(_ values: [Float]) -> String {
        hex(values.withUnsafeBufferPointer { bitPatternHash($0) })
    }

    public static func hex(_ value: Double) -> String { hex(value.bitPattern) }

    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
