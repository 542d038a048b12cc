import ArgumentParser
import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors
import Training

/// `launcher baselines`: what hand-made structural descriptors predict of the propensity, fitted
/// on one file and scored on another, so every table of the network's ρ has its reference.
struct BaselinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baselines",
        abstract: "Expert-feature baselines: ρ of the inherent-structure energy, local density, |r − r_IS| and ridge regressions on ~100 descriptors.",
        discussion: """
            Per time (the test file's times that the training file has) and species, the Pearson ρ \
            on the test file, pooled over its particles and as the mean of the per-snapshot ρ, of: \
            (a) epot_inherent alone (its sign chosen on the training file), and its average over \
            the first shell (r < 1.45); (b) the number of neighbors within R, R in 1, 1.25, 1.5, \
            2, 2.5, the R and sign best on the training file; (c) a ridge regression on every \
            descriptor (StructuralDescriptors.ParticleDescriptors: energies, local densities, \
            radial shells of width 0.1 from 0.5 to 2.5 per species and their first-shell averages, \
            Steinhardt q_l and q̄_l for l = 2…8), fitted per time and species on the training file, \
            λ chosen on its last quarter of snapshots. When both files have inherent-structure \
            positions: (d) each particle's distance from its inherent-structure position |r − r_IS| \
            (the computed scalar displacement_inherent), alone and (e) added to the ridge's \
            descriptors. Descriptors use inherent-structure positions when both files have them, \
            thermal ones otherwise; without scalars/epot_inherent the energy baselines are skipped. \
            With --json, one object on standard output: {"times": [...], "species": {"A": \
            {"epot_inherent": [...], "local_density": [...], "displacement_inherent": [...], \
            "ridge": [...], "ridge_displacement": [...], ... "_mean" variants ...}, ...}, \
            "snapshots": n, "descriptors": d} (d counts the ridge's descriptors, without |r − r_IS|).
            """)

    @Option(name: .long, help: "Snapshot file (or folder) with propensity to fit on; repeat for several, read as one set.")
    var train: [String] = []

    @Option(name: .long, help: "Snapshot file (or folder) with propensity to score on; repeat for several.")
    var test: [String] = []

    @Option(name: .long, help: "Fit on the first N snapshots of the training set only (learning curves).")
    var trainSnapshots: Int?

    @Flag(name: .long, help: "Print one JSON object instead of the table (progress goes to standard error).")
    var json = false

    @Flag(name: .long, help: "Use thermal positions even when the files have inherent-structure positions.")
    var thermal = false

    func run() throws {
        let start = Date()
        guard !train.isEmpty, !test.isEmpty else { throw ValidationError("baselines needs --train and --test") }
        var trainFile = try open(train)
        let testFile = try open(test)
        if let trainSnapshots {
            guard trainSnapshots >= 1 && trainSnapshots <= trainFile.snapshotCount else {
                throw ValidationError("--train-snapshots \(trainSnapshots): the training set has \(trainFile.snapshotCount) snapshots")
            }
            trainFile = trainFile.prefix(trainSnapshots)
        }
        let shared = try sharedTimes(train: trainFile, test: testFile)
        let inherent = !thermal && trainFile.hasInherentPositions && testFile.hasInherentPositions
        func energy(_ set: SnapshotSet) -> Bool {
            set.scalarNames.contains("epot_inherent") || DerivedScalar.inherentEnergy.isComputable(from: set)
        }
        let hasEnergy = energy(trainFile) && energy(testFile)
        let hasDisplacement = trainFile.hasInherentPositions && testFile.hasInherentPositions
        var notes: [String] = []
        if !inherent && !thermal {
            notes.append("positions_inherent missing in \(trainFile.hasInherentPositions ? testFile.path : trainFile.path): descriptors use thermal positions")
        }
        if !hasEnergy {
            let missing = energy(trainFile) ? testFile.path : trainFile.path
            notes.append("scalars/epot_inherent missing in \(missing): the energy baselines are skipped")
        }
        for note in notes { progress("note: \(note)") }
        progress("descriptors on \(inherent ? "inherent-structure" : "thermal") positions")
        let names = testFile.attributes.speciesNames
        let trainSet = try DescriptorTable(file: trainFile, timeColumns: shared.map(\.train), inherent: inherent,
                                           energy: hasEnergy, displacement: hasDisplacement, progress: progress)
        let testSet = try DescriptorTable(file: testFile, timeColumns: shared.map(\.test), inherent: inherent,
                                          energy: hasEnergy, displacement: hasDisplacement, progress: progress)
        let times = shared.map { testFile.times[$0.test] }

        var results: [String: [String: [Double?]]] = [:]
        var order: [String] = []
        for s in names.indices {
            guard let fit = trainSet.rows(ofSpecies: s), let score = testSet.rows(ofSpecies: s) else { continue }
            progress("species \(names[s]): \(fit.features.rows) training and \(score.features.rows) test particles, "
                     + "\(fit.features.columns) descriptors; fitting")
            let table = try Baselines.scores(fit: fit, score: score, timeCount: times.count, speciesNames: names,
                                             structuralColumns: trainSet.columnCount, displacement: hasDisplacement)
            results[names[s]] = table
            order.append(names[s])
        }
        let elapsed = Date().timeIntervalSince(start)
        if json {
            let species = results.mapValues { $0.mapValues { $0.map { v -> Any in v.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() } } }
            printNow(jsonLine(["times": times, "species": species, "snapshots": testSet.snapshots,
                               "descriptors": trainSet.columnCount, "positions": inherent ? "inherent" : "thermal",
                               "notes": notes]))
            return
        }
        printTable(results, order: order, times: times, trainFile: trainFile, testFile: testFile, trainSet: trainSet,
                   testSet: testSet, inherent: inherent, notes: notes)
        printNow("wall time \(duration(elapsed))")
    }

    /// The table of every baseline per species and time: ρ pooled (mean of per-snapshot ρ).
    private func printTable(_ results: [String: [String: [Double?]]], order: [String], times: [Double],
                            trainFile: SnapshotSet, testFile: SnapshotSet, trainSet: DescriptorTable, testSet: DescriptorTable,
                            inherent: Bool, notes: [String]) {
        printNow("baselines: fitted on \(trainFile.path) (\(trainSet.snapshots) snapshots), scored on \(testFile.path) (\(testSet.snapshots) snapshots)")
        printNow("\(trainSet.columnCount) descriptors on \(inherent ? "inherent-structure" : "thermal") positions; ρ pooled (mean of per-snapshot ρ)")
        for note in notes { printNow("note: \(note)") }
        for name in order {
            let table = results[name]!
            printNow("species \(name)")
            printNow("      time   epot_inherent        epot_IS (cg)        local density     R      ridge (all descriptors)"
                     + "   |r − r_IS|           ridge + |r − r_IS|")
            for q in times.indices {
                func cell(_ key: String) -> String {
                    guard let p = table[key]?[q], let m = table[key + "_mean"]?[q], p.isFinite, m.isFinite else { return String(repeating: " ", count: 16) + "—" }
                    return String(format: "%8.3f (%6.3f)", p, m)
                }
                let radius = table["local_density_radius"]?[q].map { String(format: "%5g", $0) } ?? "    —"
                printNow(String(format: "%10g", times[q]) + "   " + cell("epot_inherent") + "   " + cell("epot_inherent_cg")
                         + "   " + cell("local_density") + " " + radius + "   " + cell("ridge") + "        "
                         + cell("displacement_inherent") + "   " + cell("ridge_displacement"))
            }
        }
    }

    private func open(_ paths: [String]) throws -> SnapshotSet {
        let file = try SnapshotSet(paths: paths, checkAllValues: false)
        guard file.hasPropensity else { throw ValidationFailure("\(file.path): has no propensity; baselines need targets in both files") }
        return file
    }

    /// Progress lines: to standard error with --json (standard output holds the JSON), else to standard output.
    private func progress(_ line: String) {
        if json {
            FileHandle.standardError.write(Data(("baselines: " + line + "\n").utf8))
        } else {
            printNow("baselines: " + line)
        }
    }
}
