import DistributedTraining
import EquivariantNet
import Foundation

/// What `launcher bench` measures of the network on one snapshot (docs/benchmarks.md).
public struct BenchMeasurements {
    /// Timed repetitions per measurement (the median is reported).
    public let repeats: Int

    public init(repeats: Int) { self.repeats = repeats }

    /// The times of one case: a training step, a forward pass, an all-reduce of the gradient.
    public struct CaseTimes {
        public var trainStepMs: Double, forwardMs: Double, allReduceMs: Double
        /// Predictions and the flat gradient at the initial parameters (compared across threads).
        public var predictions: [Float], gradient: [Float]
    }

    /// Median times of a training step (forward, loss, backward, Adam) and of a forward pass
    /// after one warm-up step, and of an all-reduce (sum) of the gradient over `world`.
    public func timeCase(input: ModelInput, config: ModelConfig, world: Communicator) throws -> CaseTimes {
        let n = input.nodeCount, t = config.times.count
        let model = PropensityModel(config: config, avgNeighbors: Double(input.edgeCount) / Double(n))
        var rng = RandomSource(seed: 1)
        var parameters = model.layout.initialParameters(using: &rng)
        let targets = rng.normalFloats(n * t)
        var adam = Adam(parameterCount: parameters.count, config: TrainingConfig())
        var gradient = [Float](repeating: 0, count: parameters.count)
        var gradPredictions = [Float](repeating: 0, count: n * t)
        let termCount = PropensityLoss.termCount(species: input.species, trainSpecies: [0], times: t)
        let initial = parameters
        let predictions = model.forward(parameters: parameters, input: input)
        _ = PropensityLoss.evaluate(predictions: predictions, targets: targets, species: input.species, trainSpecies: [0],
                                    times: t, globalCount: termCount, gradient: &gradPredictions)
        parameters.withUnsafeBufferPointer { p in
            model.backward(parameters: p.baseAddress!, input: input, gradPredictions: gradPredictions, gradient: &gradient)
        }
        let initialGradient = gradient

        func step() {
            let z = model.forward(parameters: parameters, input: input)
            _ = PropensityLoss.evaluate(predictions: z, targets: targets, species: input.species, trainSpecies: [0],
                                        times: t, globalCount: termCount, gradient: &gradPredictions)
            for k in 0..<gradient.count { gradient[k] = 0 }
            parameters.withUnsafeBufferPointer { p in
                model.backward(parameters: p.baseAddress!, input: input, gradPredictions: gradPredictions, gradient: &gradient)
            }
            adam.update(parameters: &parameters, gradient: &gradient, totalSteps: repeats + 1)
        }
        step()  // warm-up
        let train = median((0..<repeats).map { _ in milliseconds(step) })
        parameters = initial
        let forward = median((0..<repeats).map { _ in milliseconds { _ = model.forward(parameters: parameters, input: input) } })
        var buffer = gradient
        var reduce: [Double] = []
        for _ in 0..<max(20, repeats) {
            try world.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            try world.allReduce(&buffer, .sum)
            reduce.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return CaseTimes(trainStepMs: train, forwardMs: forward, allReduceMs: median(reduce), predictions: predictions,
                         gradient: initialGradient)
    }

    /// One interaction layer's tensor product (input l ≤ 3) on this snapshot's graph: the fast
    /// kernels and the reference loops, forward and backward (∂h and ∂w, as in training).
    public func timeKernels(input: ModelInput, config: ModelConfig, threads: Int) -> [String: Double] {
        let c = config.channels, lmax = config.lmax, n = input.nodeCount, e = input.edgeCount
        let tp = TensorProductUVU(channels: c, inputLmax: lmax, shLmax: lmax, outputLmax: lmax)
        let sh = SphericalHarmonics(lmax: lmax)
        var rng = RandomSource(seed: 2)
        let h = rng.normalFloats(n * tp.input.dimension), w = rng.normalFloats(e * tp.weightsPerEdge)
        let g = rng.normalFloats(n * tp.output.dimension)
        var y = [Float](repeating: 0, count: e * sh.dimension)
        var out = [Float](repeating: 0, count: n * tp.output.dimension)
        var gh = [Float](repeating: 0, count: h.count), gw = [Float](repeating: 0, count: w.count)
        var gv = [Float](repeating: 0, count: 3 * e)
        let scale = Float(1 / (Double(e) / Double(n)).squareRoot())
        var result: [String: Double] = [:]
        // One thread: CPU time of this thread (robust to a busy machine); more: wall time.
        func milliseconds(_ body: () -> Void) -> Double { threads == 1 ? cpuMilliseconds(body) : wallMilliseconds(body) }
        result["sh_forward"] = median((0..<repeats).map { _ in milliseconds { sh.forward(vectors: input.vectors, count: e, output: &y) } })
        result["sh_backward"] = median((0..<repeats).map { _ in
            milliseconds { sh.backward(vectors: input.vectors, count: e, gradOutput: y, gradVectors: &gv) } })
        input.receiverOffsets.withUnsafeBufferPointer { o in
            input.senders.withUnsafeBufferPointer { s in
                let (o, s) = (o.baseAddress!, s.baseAddress!)
                result["tp_forward"] = median((0..<repeats).map { _ in milliseconds {
                    tp.forward(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: o, senders: s,
                               nodeCount: n, scale: scale, output: &out, threads: threads) } })
                result["tp_backward"] = median((0..<repeats).map { _ in milliseconds {
                    tp.backward(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: o, senders: s,
                                nodeCount: n, scale: scale, gradOutput: g, gradFeatures: &gh,
                                gradSphericalHarmonics: nil, gradEdgeWeights: &gw, threads: threads) } })
                // As a network would call it: the sender index built once per snapshot, reused by
                // every layer's backward (its build time reported on its own).
                var index: SenderIndex?
                result["tp_sender_index"] = median((0..<repeats).map { _ in milliseconds {
                    index = SenderIndex(receiverOffsets: o, senders: s, nodeCount: n) } })
                result["tp_backward_prebuilt_index"] = median((0..<repeats).map { _ in milliseconds {
                    tp.backward(features: h, sphericalHarmonics: y, edgeWeights: w, senderIndex: index!, scale: scale,
                                gradOutput: g, gradFeatures: &gh, gradSphericalHarmonics: nil, gradEdgeWeights: &gw,
                                threads: threads) } })
                if threads == 1 {
                    result["tp_forward_reference"] = median((0..<repeats).map { _ in milliseconds {
                        tp.forwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: o,
                                            senders: s, nodeCount: n, scale: scale, output: &out) } })
                    result["tp_backward_reference"] = median((0..<repeats).map { _ in milliseconds {
                        tp.backwardReference(features: h, sphericalHarmonics: y, edgeWeights: w, receiverOffsets: o,
                                             senders: s, nodeCount: n, scale: scale, gradOutput: g, gradFeatures: &gh,
                                             gradSphericalHarmonics: nil, gradEdgeWeights: &gw) } })
                }
            }
        }
        return result.mapValues { rounded($0) }
    }

    /// Best one-thread rate of C = A·B for square Float matrices of `size`, in GFLOP/s.
    public static func measureSgemm(size m: Int, repeats: Int) -> Double {
        var rng = RandomSource(seed: 3)
        let a = rng.normalFloats(m * m), b = rng.normalFloats(m * m)
        var c = [Float](repeating: 0, count: m * m)
        BLAS.sgemm(m: m, n: m, k: m, a: a, b: b, c: &c)  // warm-up
        let best = (0..<repeats).map { _ in milliseconds { BLAS.sgemm(m: m, n: m, k: m, a: a, b: b, c: &c) } }.min()!
        return 2 * Double(m * m * m) / (best * 1e-3) / 1e9
    }
}
