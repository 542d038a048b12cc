import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
#if canImport(Glibc)
import Glibc
#endif

/// `launcher bench`: the speed of the default network on one snapshot — training step, forward
/// pass, achieved GFLOP/s, peak memory, gradient all-reduce — for docs/benchmarks.md.
struct BenchCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a training step and a forward pass of the default network (docs/benchmarks.md).",
        discussion: """
            Without --data, the snapshots are generated: a Kob–Andersen-like 80:20 mixture at \
            number density 1.2 (N = 1000 and N = 4096), random non-overlapping positions (no \
            pair closer than 0.75) — not equilibrated liquids, but the same neighbour count \
            (≈ 40 per particle at r_c = 2), which is all the cost depends on. Targets are random.

            A training step is forward, loss, backward and one Adam update; times are medians over \
            --repeats steps after one warm-up step, in ms per snapshot. GFLOP/s = the network's \
            analytic FLOP count (printed; formula in docs/benchmarks.md) / the median step time. \
            peak_rss_mb is the process's peak resident memory so far (getrusage), so cases run in \
            increasing N; run one --particles case for a clean figure. allreduce_ms is the median \
            time of one all-reduce (sum) of the flat gradient buffer over all ranks.

            --threads sets the threads of the whole step: the tensor-product kernels and every \
            row-wise pass, matrix products included, in fixed row blocks (each block's sgemm runs \
            on one thread: OpenBLAS's own threading is not bitwise reproducible across thread \
            counts, so it stays off); by default \
            1 and the cores available are both measured, and the predictions of the thread \
            counts (and the gradients at the initial parameters) are compared bitwise.
            """)

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .long, help: "Only this particle count (default: 1000 and 4096).")
    var particles: Int?

    @Option(name: .long, help: "Only this thread count (default: 1 and the available cores).")
    var threads: Int?

    @Option(name: .long, help: "Timed repetitions per measurement (median reported).")
    var repeats = 5

    @Option(name: .long, help: "Time the first snapshot of this file instead of a generated one.")
    var data: String?

    @Flag(name: .long, help: "Also measure one-thread sgemm (2048³) as the peak reference.")
    var sgemm = false

    @Flag(name: .long, help: "Instead of the network, time one l ≤ 3 tensor-product layer and the harmonics: fast kernels vs the reference loops.")
    var kernels = false

    @Option(name: .long, help: "Write the generated snapshot of --particles (default 1000) as JSON {box, positions, species} for tools/e3nn_bench.py.")
    var saveSnapshot: String?

    func validate() throws {
        if let particles, particles < 64 { throw ValidationError("--particles must be at least 64 (box edge ≥ 2 r_c)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    mutating func run(on world: Communicator) throws {
        let config = ModelConfig()
        let cases = particles.map { [$0] } ?? [1000, 4096]
        let available = ProcessInfo.processInfo.activeProcessorCount
        let threadCases = threads.map { [$0] } ?? Array(Set([1, available])).sorted()
        func say(_ s: String) { if world.isRoot && !json { printNow(s) } }
        say("build: \(BLAS.buildTarget); OpenBLAS kernels: \(BLAS.coreName)")

        var sgemmRate: Double? = nil
        if sgemm {
            ParallelFor.threadCount = 1
            sgemmRate = measureSgemm(size: 2048, repeats: 3)
            say(String(format: "sgemm 2048³, one thread: %.1f GFLOP/s (best of 3)", sgemmRate!))
        }

        var results: [[String: Any]] = []
        var kernelResults: [[String: Any]] = []
        var identical = true, gradientsIdentical = true
        var flopCounts: [Int: Double] = [:], executedFlopCounts: [Int: Double] = [:]
        for n in cases {
            let (input, source) = try benchInput(particles: n, config: config)
            let e = input.edgeCount
            let flops = NetworkFlops(config: config, nodes: input.nodeCount, edges: e)
            let executed = NetworkFlops(config: config, nodes: input.nodeCount, edges: e, radialRows: input.pairs.rowCount,
                                        scalarOutputLastLayer: true)
            flopCounts[input.nodeCount] = flops.trainStep
            executedFlopCounts[input.nodeCount] = executed.trainStep
            say("snapshot: \(source); N = \(input.nodeCount), E = \(e); "
                + String(format: "%.2f GFLOP per training step (%.2f forward) in the network, %.2f executed",
                         flops.trainStep / 1e9, flops.forward / 1e9, executed.trainStep / 1e9))
            var reference: (predictions: [Float], gradient: [Float])? = nil
            for t in threadCases {
                ParallelFor.threadCount = t
                if kernels {
                    let k = timeKernels(input: input, config: config, threads: t)
                    kernelResults.append(["particles": input.nodeCount, "edges": e, "threads": t].merging(k) { a, _ in a })
                    say("  threads \(t), one l≤3 tensor-product layer (ms): "
                        + k.keys.sorted().map { "\($0) \(k[$0]!)" }.joined(separator: ", "))
                    continue
                }
                let r = try timeCase(input: input, config: config, world: world)
                if let reference, reference.predictions != r.predictions { identical = false }
                if let reference, reference.gradient != r.gradient { gradientsIdentical = false }
                reference = reference ?? (r.predictions, r.gradient)
                let gflops = flops.trainStep / (r.trainStepMs * 1e-3) / 1e9
                let gflopsExecuted = executed.trainStep / (r.trainStepMs * 1e-3) / 1e9
                results.append(["particles": input.nodeCount, "edges": e, "threads": t,
                                "train_step_ms": rounded(r.trainStepMs), "forward_ms": rounded(r.forwardMs),
                                "gflops": rounded(gflops), "gflops_executed": rounded(gflopsExecuted),
                                "peak_rss_mb": rounded(peakResidentMB()), "allreduce_ms": rounded(r.allReduceMs, digits: 4)])
                say(String(format: "  threads %d: train step %.1f ms, forward %.1f ms, %.2f GFLOP/s (%.2f executed), "
                           + "%.0f edges/s, peak RSS %.0f MB, all-reduce %.3f ms", t, r.trainStepMs, r.forwardMs, gflops,
                           gflopsExecuted, Double(e) / (r.trainStepMs * 1e-3), peakResidentMB(), r.allReduceMs))
            }
        }
        if threadCases.count > 1 {
            say("predictions identical across thread counts: \(identical); gradients: \(gradientsIdentical)")
        }
        guard world.isRoot && json else { return }
        var configObject: [String: Any] = [
            "channels": config.channels, "lmax": config.lmax, "layers": config.layers, "cutoff": config.cutoff,
            "radial_hidden": config.radialHidden, "decoder_hidden": config.decoderHidden,
            "times": config.times.count, "species": config.speciesCount,
            "parameters": ParameterLayout(config: config).count,
            "repeats": repeats, "ranks": world.size,
            "snapshot": data ?? "generated: KA-like 80:20, density 1.2, random non-overlapping (min distance 0.75)",
            "predictions_identical_across_threads": identical,
            "gradients_identical_across_threads": gradientsIdentical,
            "date": ISO8601DateFormatter().string(from: Date()),
            "build_target": BLAS.buildTarget, "openblas_core": BLAS.coreName,
        ]
        if let sgemmRate { configObject["sgemm_gflops_one_thread"] = rounded(sgemmRate) }
        configObject["gflop_per_train_step"] = Dictionary(uniqueKeysWithValues: flopCounts.map { ("\($0.key)", rounded($0.value / 1e9, digits: 3)) })
        configObject["gflop_executed_per_train_step"] = Dictionary(uniqueKeysWithValues: executedFlopCounts.map {
            ("\($0.key)", rounded($0.value / 1e9, digits: 3))
        })
        var object: [String: Any] = ["config": configObject, "results": results]
        if kernels { object["kernels"] = kernelResults }
        let text = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        printNow(String(decoding: text, as: UTF8.self))
    }

    // MARK: measurements

    struct CaseTimes {
        var trainStepMs: Double, forwardMs: Double, allReduceMs: Double
        /// Predictions and the flat gradient at the initial parameters (compared across threads).
        var predictions: [Float], gradient: [Float]
    }

    func timeCase(input: ModelInput, config: ModelConfig, world: Communicator) throws -> CaseTimes {
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
    func timeKernels(input: ModelInput, config: ModelConfig, threads: Int) -> [String: Double] {
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
    func measureSgemm(size m: Int, repeats: Int) -> Double {
        var rng = RandomSource(seed: 3)
        let a = rng.normalFloats(m * m), b = rng.normalFloats(m * m)
        var c = [Float](repeating: 0, count: m * m)
        BLAS.sgemm(m: m, n: m, k: m, a: a, b: b, c: &c)  // warm-up
        let best = (0..<repeats).map { _ in milliseconds { BLAS.sgemm(m: m, n: m, k: m, a: a, b: b, c: &c) } }.min()!
        return 2 * Double(m * m * m) / (best * 1e-3) / 1e9
    }

    // MARK: the snapshot

    func benchInput(particles n: Int, config: ModelConfig) throws -> (ModelInput, String) {
        if let data {
            let preparer = SnapshotPreparer(config: config)
            let file = try preparer.open(data, needTargets: false, needAllTimes: false)
            let p = try preparer.prepare(file, snapshot: 0)
            return (p.input, "\(data), snapshot 0")
        }
        let s = generatedSnapshot(particles: n, density: 1.2, seed: UInt64(n))
        if let saveSnapshot, n == (particles ?? 1000) {
            let object: [String: Any] = ["box": s.box, "positions": s.positions, "species": s.species.map(Int.init),
                                         "description": "launcher bench: KA-like 80:20, density 1.2, random non-overlapping"]
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: saveSnapshot))
        }
        let graph = try NeighborGraph(positions: s.positions, box: s.box, cutoff: config.cutoff)
        let input = ModelInput(species: s.species, receiverOffsets: graph.receiverOffsets, senders: graph.senders,
                               vectors: graph.edgeVectors)
        return (input, "generated (KA-like 80:20, density 1.2, random non-overlapping positions)")
    }
}

/// A random configuration of the Kob–Andersen mixture's composition (80% A, 20% B) at `density`
/// in a cubic box: positions drawn uniformly, rejected when closer than 0.75 to an accepted one
/// (a cell grid keeps it O(N)).
func generatedSnapshot(particles n: Int, density: Double, seed: UInt64) -> (positions: [Double], species: [Int32], box: [Double]) {
    let l = Foundation.cbrt(Double(n) / density)
    let minDistance = 0.75
    let cells = max(1, Int(l / minDistance))
    let cellSize = l / Double(cells)
    var grid = [[Int]](repeating: [], count: cells * cells * cells)
    var rng = RandomSource(seed: seed)
    var positions: [Double] = []
    positions.reserveCapacity(3 * n)
    func cell(_ x: Double) -> Int { min(cells - 1, Int(x / cellSize)) }
    while positions.count < 3 * n {
        let p = [rng.uniform() * l, rng.uniform() * l, rng.uniform() * l]
        let c = p.map(cell)
        var ok = true
        search: for dx in -1...1 {
            for dy in -1...1 {
                for dz in -1...1 {
                    let cx: Int = (c[0] + dx + cells) % cells
                    let cy: Int = (c[1] + dy + cells) % cells
                    let cz: Int = (c[2] + dz + cells) % cells
                    let k = (cx * cells + cy) * cells + cz
                    for j in grid[k] {
                        var r2 = 0.0
                        for a in 0..<3 {
                            var d = p[a] - positions[3 * j + a]
                            d -= l * (d / l).rounded()
                            r2 += d * d
                        }
                        if r2 < minDistance * minDistance { ok = false; break search }
                    }
                }
            }
        }
        if ok {
            grid[(c[0] * cells + c[1]) * cells + c[2]].append(positions.count / 3)
            positions += p
        }
    }
    let species = (0..<n).map { Int32($0 < (4 * n) / 5 ? 0 : 1) }
    return (positions, species, [l, l, l])
}

/// The arithmetic of one snapshot through the network, counted analytically (multiply and add
/// counted as 2 FLOP): matrix products and tensor-product couplings only; elementwise work
/// (activations, gates, harmonics, Bessel basis, Adam) is not counted.
///
/// Per layer k (P_k paths, T_k Clebsch–Gordan couplings, C channels, E edges, N nodes):
/// - tensor product: forward 2·T_k·C·E; backward 4·T_k·C·E (∂h and ∂w)
/// - radial MLP [b, h1, h2, P_k·C]: forward 2·E·Σ fan_in·fan_out; backward the same for ∂W plus
///   the same again for ∂input of every matrix but the first
/// - self and post linears: 2·N·Σ_l (2l+1)·C_in(l)·C_out(l) each; backward 2× (∂W, ∂input)
/// Plus the embedding (2·N·S·C, backward 1×) and the decoder (as the radial MLP, rows N).
///
/// Two counts: the **network's** (what e3nn's implementation of it performs: every edge through
/// the radial MLP, the whole last layer), and the **executed** one (`radialRows`: the radial
/// MLPs run once per neighbour pair, `EdgePairs`; `scalarOutputLastLayer`: the last layer's
/// l = 0 paths only, as `PropensityModel` runs them). Neither counts recomputation.
struct NetworkFlops {
    var forward = 0.0, backward = 0.0
    var trainStep: Double { forward + backward }

    init(config: ModelConfig, nodes: Int, edges: Int, radialRows: Int? = nil, scalarOutputLastLayer: Bool = false) {
        let (c, lmax) = (config.channels, config.lmax)
        let (n, e) = (Double(nodes), Double(edges))
        func mlp(_ sizes: [Int], rows: Double) -> (Double, Double) {
            let f: [Double] = (0..<(sizes.count - 1)).map { 2 * rows * Double(sizes[$0] * sizes[$0 + 1]) }
            let all = f.reduce(0, +)
            return (all, all + (all - f[0]))
        }
        func linear(_ input: [Int], _ output: [Int]) -> Double {
            var products = 0
            for l in 0..<min(input.count, output.count) { products += (2 * l + 1) * input[l] * output[l] }
            return 2 * n * Double(products)
        }
        let z = [4 * c] + Array(repeating: c, count: lmax)
        let hidden = Array(repeating: c, count: lmax + 1)
        forward += 2 * n * Double(config.embeddingInputs * c)
        backward += 2 * n * Double(config.embeddingInputs * c)
        for k in 0..<config.layers {
            let inputLmax = k == 0 ? 0 : lmax
            let last = scalarOutputLastLayer && k == config.layers - 1
            let tp = TensorProductUVU(channels: c, inputLmax: inputLmax, shLmax: lmax, outputLmax: last ? 0 : lmax)
            let couplings = Double(tp.couplings.count)
            forward += 2 * couplings * Double(c) * e
            backward += 4 * couplings * Double(c) * e
            let radial = mlp([config.radialBasis] + config.radialHidden + [tp.weightsPerEdge], rows: Double(radialRows ?? edges))
            forward += radial.0
            backward += radial.1
            let lin = linear(Array(repeating: c, count: inputLmax + 1), z) + linear(hidden, z)
            forward += lin
            backward += 2 * lin
        }
        let decoder = mlp([c] + config.decoderHidden + [config.times.count * config.speciesCount], rows: n)
        forward += decoder.0
        backward += decoder.1
    }
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// CPU time of the calling thread spent in `body`, in milliseconds: unlike wall time, it does not
/// count the time the thread waits for a core on a busy machine (one-thread kernels only).
func cpuMilliseconds(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) * 1e3 + Double(end.tv_nsec - start.tv_nsec) / 1e6
}

/// Wall time of `body` in milliseconds.
func wallMilliseconds(_ body: () -> Void) -> Double { milliseconds(body) }

func milliseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func rounded(_ x: Double, digits: Int = 2) -> Double {
    let p = Foundation.pow(10, Double(digits))
    return (x * p).rounded() / p
}

/// Peak resident memory of this process so far, in MB (getrusage; Linux reports kB).
func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
