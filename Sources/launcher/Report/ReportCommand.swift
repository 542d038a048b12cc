import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training

/// `launcher report RUN_DIR`: SVG figures of a training run and a page that links them.
struct ReportCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Figures of a training run (SVG) and a Markdown/HTML page linking them.",
        discussion: """
            Writes to --out (default RUN_DIR/report): report.md and report.html, and
              learning-curves.svg   training and validation loss per epoch (RUN_DIR/metrics.jsonl)
              validation-rho.svg    validation ρ (pooled, --species) per epoch, one line per time
              rho-vs-time.svg       ρ against time, pooled and mean of the per-snapshot ρ, per species,
                                    of the newest checkpoint on --data (default: the run's validation file)
              scatter-tau-alpha.svg predicted against true propensity (--species) at the time closest to τα
              probe.svg             per-layer ρ of a linear probe on the embeddings (RUN_DIR/probe.json, as
                                    `launcher probe --out` writes it; when absent, computed here as `launcher
                                    probe` does, fitted on the run's training file (recorded in the checkpoint)
                                    or --train FILE and scored on --data, then saved there for the next report:
                                    one forward pass per snapshot of both files on rank 0, the other ranks
                                    wait; --no-probe skips it)
            A figure whose input is missing is left out and the page says what would make it.
            """)

    @Argument(help: "The run directory (metrics.jsonl, checkpoints).")
    var run: String

    @Option(name: .long, help: "Snapshot file with propensity to evaluate on (default: the run's validation file).")
    var data: String?

    @Option(name: .long, help: "Output directory (default: RUN_DIR/report).")
    var out: String?

    @Option(name: .long, help: "τα: the scatter plot uses the scored time closest to it.")
    var tauAlpha: Double = 12

    @Option(name: .long, help: "Species of the learning curves, the scatter plot and the probe (a name of species_names).")
    var species = "A"

    @Option(name: .long, help: "Snapshot file with propensity to fit the linear probes on (default: the run's training file).")
    var train: String?

    @Flag(name: .long, help: "Do not compute the linear probes when RUN_DIR/probe.json is absent (no probe figure then).")
    var noProbe = false

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        threadsOption.configure()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationFailure("\(run) is not a run directory (launcher train --out DIR writes one)")
        }
        // The newest checkpoint, and the data it is scored on.
        let bundle: ModelBundle? = Checkpoint.list(in: run).isEmpty ? nil : try ModelBundle.load(run)
        let metadata = bundle?.metadata ?? [:]
        // The run's validation files (several since `validation_files`; one before).
        let recorded = metadata["validation_files"] as? [String] ?? (metadata["validation"] as? String).map { [$0] }
        let dataPaths = data.map { [$0] } ?? recorded.flatMap { $0.isEmpty ? nil : $0 }
        if let missing = dataPaths?.first(where: { !FileManager.default.fileExists(atPath: $0) }), data == nil {
            throw ValidationFailure("the run's validation file \(missing) (recorded in its checkpoint) does not exist here; pass --data FILE")
        }
        var evaluation: Evaluation? = nil
        // The scatter plot needs every particle's prediction: on one rank, those of the
        // evaluation; on several, rank 0 computes them again (`propensities`).
        var observed: [Int: ObservedSnapshot] = [:]
        if let bundle, let dataPaths {
            evaluation = try evaluate(bundle, on: dataPaths, world: world, observe: world.size > 1 ? nil : { p, z in
                observed[p.index] = ObservedSnapshot(species: p.species, targets: p.targets!, predictions: z)
            })
        }
        guard world.isRoot else { return }
        let outDirectory = out ?? (run + "/report")
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        var page = ReportPage(title: "EquiGlass run \(run)")
        describeModel(bundle, metadata: metadata, on: &page)
        try learningCurves(on: &page, outDirectory: outDirectory)
        try correlation(bundle, evaluation, dataPaths: dataPaths, observed: observed, on: &page, outDirectory: outDirectory)
        try linearProbe(bundle, metadata: metadata, dataPaths: dataPaths, on: &page, outDirectory: outDirectory)
        try page.write(directory: outDirectory)
        printNow("wrote \(outDirectory)/report.md, report.html and \(page.images.count) figures")
    }

    /// Writes `plot` to `outDirectory`/`name` and returns `name` (for the page's image).
    func figure(_ name: String, _ plot: SVGPlot, _ outDirectory: String) throws -> String {
        try plot.write(to: outDirectory + "/" + name)
        return name
    }

    /// The model, its training data and command, its transfer learning.
    func describeModel(_ bundle: ModelBundle?, metadata: [String: Any], on page: inout ReportPage) {
        guard let bundle else {
            page.paragraph("No checkpoint in `\(run)`: only the learning curves are shown.")
            return
        }
        page.paragraph("Model: `\(bundle.path)` (step \(bundle.checkpoint.step), epoch \(bundle.checkpoint.epoch)); "
                       + "\(bundle.config.model.layers) layers, \(bundle.config.model.channels) channels, lmax \(bundle.config.model.lmax), "
                       + "positions \(bundle.config.model.positions), trained on species \(bundle.config.training.trainSpecies)"
                       + (metadata["train"].map { "; training data `\($0)`" } ?? "") + ".")
        if let command = metadata["command"] as? [String] {
            page.paragraph("Trained with `" + command.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + "`.")
        }
        if let from = metadata["init_from"] as? String {
            page.paragraph("Transfer learning: initialized from `\(from)`"
                           + ((metadata["freeze"] as? [String]).map { ", frozen: \($0.joined(separator: ","))" } ?? "") + ".")
        }
    }

    /// Loss and validation ρ per epoch, from metrics.jsonl.
    func learningCurves(on page: inout ReportPage, outDirectory: String) throws {
        page.heading("Learning curves")
        guard let history = try TrainingHistory(path: run + "/metrics.jsonl"), !history.epochs.isEmpty else {
            page.paragraph("No `metrics.jsonl` lines in `\(run)` yet (one is written per epoch).")
            return
        }
        var loss = SVGPlot(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss (standardized targets)")
        loss.series.append(.init(name: "training", x: history.epochs, y: history.trainLoss))
        if history.validationLoss.contains(where: { $0.isFinite }) {
            loss.series.append(.init(name: "validation", x: history.epochs, y: history.validationLoss))
        }
        page.image(try figure("learning-curves.svg", loss, outDirectory), alt: "training and validation loss per epoch")
        let curves = history.validationRho(species: species)
        guard !curves.isEmpty else {
            page.paragraph("No validation scores in metrics.jsonl (train with --validation FILE).")
            return
        }
        var rho = SVGPlot(title: "Validation ρ (species \(species), pooled) per epoch", xLabel: "epoch", yLabel: "Pearson ρ")
        for (t, values) in curves { rho.series.append(.init(name: "t = \(String(format: "%g", t))", x: history.epochs, y: values)) }
        page.image(try figure("validation-rho.svg", rho, outDirectory), alt: "validation rho per epoch")
    }

    /// ρ against time per species, and predicted against true propensity at τα.
    func correlation(_ bundle: ModelBundle?, _ evaluation: Evaluation?, dataPaths: [String]?, observed: [Int: ObservedSnapshot],
                     on page: inout ReportPage, outDirectory: String) throws {
        page.heading("Correlation against time")
        guard let bundle, let evaluation, let dataPaths else {
            page.paragraph(bundle == nil ? "No checkpoint to evaluate."
                           : "No data to evaluate on: the run has no validation file; pass --data FILE.")
            return
        }
        let dataPath = dataPaths.joined(separator: ", ")
        let m = evaluation.metrics
        var plot = SVGPlot(title: "Pearson ρ against time on \(dataPaths.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))",
                           xLabel: "t", yLabel: "Pearson ρ", xScale: .log)
        var header = ["t"], rows = evaluation.times.map { [String(format: "%g", $0)] }
        for s in 0..<m.species where m.count(species: s) > 0 {
            let speciesName = s < evaluation.speciesNames.count ? evaluation.speciesNames[s] : "species \(s)"
            // A species outside the loss is read by heads that never saw a target: say so.
            let trained = bundle.config.training.trainSpecies.contains(s)
            let name = trained ? speciesName : "\(speciesName), untrained heads"
            let pooled = evaluation.times.indices.map { m.pearsonPooled(species: s, time: $0) }
            let mean = evaluation.times.indices.map { m.pearsonMean(species: s, time: $0) }
            // One colour per species: pooled solid, per-snapshot mean dashed.
            let color = SVGPlot.palette[s % SVGPlot.palette.count]
            plot.series.append(.init(name: "\(name) pooled", x: evaluation.times, y: pooled, color: color))
            plot.series.append(.init(name: "\(name) per-snapshot mean", x: evaluation.times, y: mean, dashed: true, radius: 2,
                                     color: color))
            header.append("ρ_\(name) pooled (per-snapshot mean)")
            for q in rows.indices { rows[q].append(String(format: "%.3f (%.3f)", pooled[q], mean[q])) }
        }
        page.paragraph("Newest checkpoint on `\(dataPath)` (\(m.snapshots) snapshots), as `launcher evaluate` scores it.")
        page.image(try figure("rho-vs-time.svg", plot, outDirectory), alt: "rho against time per species")
        page.table(header: header, rows: rows)

        // Predicted against true at the scored time closest to τα.
        let speciesIndex = try evaluation.speciesIndex(species, file: dataPath)
        let q = evaluation.times.indices.min { abs(evaluation.times[$0] - tauAlpha) < abs(evaluation.times[$1] - tauAlpha) }!
        let time = evaluation.times[q]
        let column = bundle.config.model.times.firstIndex(of: time)!
        let snapshots = observed.isEmpty ? try Self.predictions(bundle, dataPaths: dataPaths)
                                         : observed.keys.sorted().map { observed[$0]! }
        let (truth, predicted) = Self.propensities(snapshots, species: speciesIndex, timeColumn: column,
                                                   times: bundle.config.model.times.count)
        let rho = m.pearsonPooled(species: speciesIndex, time: q)
        var scatter = SVGPlot(title: "Species \(species) at t = \(String(format: "%g", time)) (≈ τα): ρ = \(String(format: "%.3f", rho))",
                              xLabel: "true propensity", yLabel: "predicted propensity")
        scatter.series.append(.init(name: "\(truth.count) particles", x: truth, y: predicted, style: .points, radius: 1.6, opacity: 0.45))
        scatter.diagonal = true
        page.heading("Predicted against true propensity at τα")
        page.image(try figure("scatter-tau-alpha.svg", scatter, outDirectory), alt: "predicted against true propensity")
        page.paragraph("Every particle of species \(species) in `\(dataPath)`, t = \(String(format: "%g", time)) "
                       + "(the scored time closest to τα = \(String(format: "%g", tauAlpha))); dashed: y = x.")
    }

    /// The linear probe per layer: RUN_DIR/probe.json, computed and written here when absent.
    func linearProbe(_ bundle: ModelBundle?, metadata: [String: Any], dataPaths: [String]?, on page: inout ReportPage,
                     outDirectory: String) throws {
        page.heading("Linear probe of the embeddings per layer")
        let probePath = run + "/probe.json"
        var probeSource: String? = nil
        if FileManager.default.fileExists(atPath: probePath) {
            probeSource = "`\(probePath)`"
        } else if noProbe {
            page.paragraph("Skipped (--no-probe): no `probe.json` in `\(run)`. `launcher report` without --no-probe, "
                           + "or `launcher probe --out \(probePath)`, writes it (per-layer ρ of a linear fit on the embeddings).")
        } else if let bundle, let dataPaths {
            probeSource = try fitProbe(bundle, metadata: metadata, dataPaths: dataPaths, probePath: probePath, on: &page)
        } else {
            page.paragraph("No probe: it needs a checkpoint and data to score on (--data FILE); "
                           + "`launcher probe --out \(probePath)` writes `probe.json` (per-layer ρ of a linear fit on the embeddings).")
        }
        guard let probeSource else { return }
        let probe = try ProbeResult(path: probePath)
        var plot = SVGPlot(title: "Linear probe per layer (species \(probe.species))", xLabel: "layer (0 = embedding)",
                           yLabel: "Pearson ρ")
        for (q, t) in probe.times.enumerated() {
            plot.series.append(.init(name: "t = \(String(format: "%g", t))", x: probe.layers.map(Double.init),
                                     y: probe.pearson.map { $0[q] }))
        }
        page.image(try figure("probe.svg", plot, outDirectory), alt: "linear probe rho per layer")
        page.paragraph("ρ pooled over the test particles of a ridge fit of the propensity on each layer's rotation-invariant "
                       + "features: \(probeSource).")
    }

    /// Fits the probes on the training files (--train, or the checkpoint's), scores them on
    /// `dataPaths` and saves them to `probePath`: where they come from, or nil (said on the page).
    func fitProbe(_ bundle: ModelBundle, metadata: [String: Any], dataPaths: [String], probePath: String,
                  on page: inout ReportPage) throws -> String? {
        let trainPaths = train.map { [$0] } ?? metadata["train_files"] as? [String] ?? (metadata["train"] as? String).map { [$0] }
        guard let trainPaths else {
            page.paragraph("No probe: the checkpoint does not record the training file; pass --train FILE to fit the probes on.")
            return nil
        }
        if let absent = trainPaths.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
            page.paragraph("No probe: the training file `\(absent)` " + (train == nil ? "(recorded in the checkpoint) " : "")
                           + "does not exist here; pass --train FILE to fit the probes on.")
            return nil
        }
        let table = try linearProbes(bundle: bundle, train: trainPaths, test: dataPaths, progress: { printNow("report: probe: " + $0) })
        try table.write(to: probePath)
        return "fitted on `\(trainPaths.joined(separator: ", "))` (\(table.trainSnapshots) snapshots), scored on "
            + "`\(dataPaths.joined(separator: ", "))` (\(table.testSnapshots) snapshots), as `launcher probe` computes it; "
            + "saved to `\(probePath)`, which the next report reuses"
    }

    /// Every snapshot of `dataPaths` with the model's predictions, in order.
    static func predictions(_ bundle: ModelBundle, dataPaths: [String]) throws -> [ObservedSnapshot] {
        try bundle.predictions(on: dataPaths, needTargets: true).snapshots.map { p, z in
            ObservedSnapshot(species: p.species, targets: p.targets!, predictions: z)
        }
    }

    /// True and predicted propensity of every particle of `species` at model time `timeColumn`,
    /// in file order (snapshot, then particle).
    static func propensities(_ snapshots: [ObservedSnapshot], species: Int, timeColumn: Int, times t: Int) -> ([Double], [Double]) {
        var truth: [Double] = [], predicted: [Double] = []
        for s in snapshots {
            for i in s.species.indices where Int(s.species[i]) == species {
                truth.append(Double(s.targets[i * t + timeColumn]))
                predicted.append(Double(s.predictions[i * t + timeColumn]))
            }
        }
        return (truth, predicted)
    }
}

