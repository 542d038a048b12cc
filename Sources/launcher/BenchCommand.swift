import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training

/// `launcher bench`: the speed of the default network on one snapshot — training step, forward
/// pass, achieved GFLOP/s, peak memory, gradient all-reduce — for docs/benchmarks.md.
struct BenchCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a training step and a forward pass of the default network (docs/benchmarks.md).",
        discussion: """
            Without --data, the snapshots are generated: a Kob–Andersen-like 80:20 mixture at \
            number density 1.2 (N = 1000 and N = 4096), random non-overlapping positions (no \
            pair closer than 0.75) — not equilibrated liquids, but the same neighbor count \
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
        let measurements = BenchMeasurements(repeats: repeats)
        say("build: \(BLAS.buildTarget); OpenBLAS kernels: \(BLAS.coreName)")

        var sgemmRate: Double? = nil
        if sgemm {
            ParallelFor.threadCount = 1
            sgemmRate = BenchMeasurements.measureSgemm(size: 2048, repeats: 3)
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
                    let k = measurements.timeKernels(input: input, config: config, threads: t)
                    kernelResults.append(["particles": input.nodeCount, "edges": e, "threads": t].merging(k) { a, _ in a })
                    say("  threads \(t), one l≤3 tensor-product layer (ms): "
                        + k.keys.sorted().map { "\($0) \(k[$0]!)" }.joined(separator: ", "))
                    continue
                }
                let r = try measurements.timeCase(input: input, config: config, world: world)
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
        printNow(try jsonText(config: config, results: results, kernelResults: kernelResults, identical: identical,
                              gradientsIdentical: gradientsIdentical, flopCounts: flopCounts,
                              executedFlopCounts: executedFlopCounts, sgemmRate: sgemmRate, ranks: world.size))
    }

    /// The --json object: the configuration, the machine and build, the FLOP counts, the results.
    func jsonText(config: ModelConfig, results: [[String: Any]], kernelResults: [[String: Any]], identical: Bool,
                  gradientsIdentical: Bool, flopCounts: [Int: Double], executedFlopCounts: [Int: Double],
                  sgemmRate: Double?, ranks: Int) throws -> String {
        var configObject: [String: Any] = [
            "channels": config.channels, "lmax": config.lmax, "layers": config.layers, "cutoff": config.cutoff,
            "radial_hidden": config.radialHidden, "decoder_hidden": config.decoderHidden,
            "times": config.times.count, "species": config.speciesCount,
            "parameters": ParameterLayout(config: config).count,
            "repeats": repeats, "ranks": ranks,
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
        return String(decoding: text, as: UTF8.self)
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

