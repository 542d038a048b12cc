import ArgumentParser
import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors

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
            the first shell (r < 1.45); (b) the number of neighbours within R, R in 1, 1.25, 1.5, \
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

    @Option(name: .long, help: "Snapshot file with propensity to fit on.")
    var train: String

    @Option(name: .long, help: "Snapshot file with propensity to score on.")
    var test: String

    @Flag(name: .long, help: "Print one JSON object instead of the table (progress goes to standard error).")
    var json = false

    @Flag(name: .long, help: "Use thermal positions even when the files have inherent-structure positions.")
    var thermal = false

    func run() throws {
        let start = Date()
        let trainFile = try open(train), testFile = try open(test)
        guard trainFile.attributes.speciesNames == testFile.attributes.speciesNames else {
            throw ValidationFailure("\(test): species \(testFile.attributes.speciesNames) differ from \(train)'s \(trainFile.attributes.speciesNames)")
        }
        let shared = matchTimes(model: testFile.times, data: trainFile.times)
        guard !shared.isEmpty else {
            throw ValidationFailure("\(test) and \(train) share no time: \(testFile.times) and \(trainFile.times)")
        }
        let inherent = !thermal && trainFile.hasInherentPositions && testFile.hasInherentPositions
        let hasEnergy = trainFile.scalarNames.contains("epot_inherent") && testFile.scalarNames.contains("epot_inherent")
        let hasDisplacement = trainFile.hasInherentPositions && testFile.hasInherentPositions
        var notes: [String] = []
        if !inherent && !thermal {
            notes.append("positions_inherent missing in \(trainFile.hasInherentPositions ? test : train): descriptors use thermal positions")
        }
        if !hasEnergy {
            let missing = trainFile.scalarNames.contains("epot_inherent") ? test : train
            notes.append("scalars/epot_inherent missing in \(missing): the energy baselines are skipped")
        }
        for note in notes { progress("note: \(note)") }
        progress("descriptors on \(inherent ? "inherent-structure" : "thermal") positions")
        let names = testFile.attributes.speciesNames
        let trainSet = try DescriptorTable(file: trainFile, timeColumns: shared.map(\.data), inherent: inherent,
                                           energy: hasEnergy, displacement: hasDisplacement, progress: progress)
        let testSet = try DescriptorTable(file: testFile, timeColumns: shared.map(\.model), inherent: inherent,
                                          energy: hasEnergy, displacement: hasDisplacement, progress: progress)
        let times = shared.map { testFile.times[$0.model] }

        var results: [String: [String: [Double?]]] = [:]
        var order: [String] = []
        for s in names.indices {
            guard let fit = trainSet.rows(ofSpecies: s), let score = testSet.rows(ofSpecies: s) else { continue }
            progress("species \(names[s]): \(fit.features.rows) training and \(score.features.rows) test particles, "
                     + "\(fit.features.columns) descriptors; fitting")
            var table: [String: [Double?]] = [:]
            func single(_ column: String, _ key: String) {
                guard let c = fit.features.names.firstIndex(of: column) else {
                    // Skipped (noted above): null entries keep the JSON's shape.
                    table[key] = Array(repeating: nil, count: times.count); table[key + "_mean"] = table[key]
                    return
                }
                let x = fit.features.column(c), xt = score.features.column(c)
                var pooled: [Double?] = [], mean: [Double?] = []
                for q in times.indices {
                    let sign = pearson(x, fit.targets[q]) < 0 ? -1.0 : 1.0
                    let r = pooledAndMeanPearson(xt.map { sign * $0 }, score.targets[q], groups: score.groups)
                    pooled.append(r.pooled); mean.append(r.mean)
                }
                table[key] = pooled; table[key + "_mean"] = mean
            }
            single("epot_inherent", "epot_inherent")
            single("cg_epot_inherent", "epot_inherent_cg")
            single(DerivedScalar.inherentDisplacement.rawValue, "displacement_inherent")
            // Local density: total neighbours within R, the R and sign best on the training file.
            let radii = DescriptorSettings().densityRadii
            let density = { (m: FeatureMatrix, r: Double) -> [Double] in
                let columns = names.map { m.names.firstIndex(of: "n_\($0)(r<\(descriptorRadius(r)))")! }
                return (0..<m.rows).map { i in columns.reduce(0) { $0 + m[i, $1] } }
            }
            var pooled: [Double?] = [], mean: [Double?] = [], chosen: [Double?] = []
            for q in times.indices {
                var best = (rho: -1.0, radius: radii[0], sign: 1.0)
                for r in radii {
                    let rho = pearson(density(fit.features, r), fit.targets[q])
                    if rho.isFinite && abs(rho) > best.rho { best = (abs(rho), r, rho < 0 ? -1 : 1) }
                }
                let r = pooledAndMeanPearson(density(score.features, best.radius).map { best.sign * $0 },
                                             score.targets[q], groups: score.groups)
                pooled.append(r.pooled); mean.append(r.mean); chosen.append(best.radius)
            }
            table["local_density"] = pooled; table["local_density_mean"] = mean; table["local_density_radius"] = chosen
            // The ridge on the structural descriptors, then with |r − r_IS| added (the last column).
            let structural = Array(0..<trainSet.columnCount)
            for (key, columns) in [("ridge", structural), ("ridge_displacement", hasDisplacement ? structural + [trainSet.columnCount] : [])] {
                guard !columns.isEmpty else {
                    table[key] = Array(repeating: nil, count: times.count); table[key + "_mean"] = table[key]
                    continue
                }
                let ridge = try LinearProbe.scores(
                    trainFeatures: fit.features.selecting(columns: columns), trainTargets: fit.targets, trainGroups: fit.groups,
                    testFeatures: score.features.selecting(columns: columns), testTargets: score.targets, testGroups: score.groups)
                table[key] = ridge.map(\.pooled); table[key + "_mean"] = ridge.map(\.meanPerGroup)
                table[key + "_lambda"] = ridge.map(\.lambda)
            }
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
        printNow("baselines: fitted on \(train) (\(trainSet.snapshots) snapshots), scored on \(test) (\(testSet.snapshots) snapshots)")
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
        printNow("wall time \(duration(elapsed))")
    }

    private func open(_ path: String) throws -> SnapshotFile {
        let file = try SnapshotFile(path: path, checkAllValues: false)
        guard file.hasPropensity else { throw ValidationFailure("\(path): has no propensity; baselines need targets in both files") }
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

/// A radius as `localDensityCounts` writes it in column names.
private func descriptorRadius(_ r: Double) -> String {
    var text = String(r)
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

/// The descriptors and targets of every particle of a file, split by species.
private struct DescriptorTable {
    var features: [FeatureMatrix]
    /// Per species, per time column: the targets of its particles.
    var targets: [[[Double]]]
    /// Per species: the snapshot of each particle.
    var groups: [[Int]]
    let snapshots: Int
    /// The structural descriptors' count; with `displacement`, |r − r_IS| is one more column after them.
    let columnCount: Int

    init(file: SnapshotFile, timeColumns: [Int], inherent: Bool, energy: Bool, displacement: Bool,
         progress: (String) -> Void) throws {
        let speciesCount = file.attributes.speciesNames.count
        features = Array(repeating: FeatureMatrix(names: [], values: []), count: speciesCount)
        targets = Array(repeating: Array(repeating: [], count: timeColumns.count), count: speciesCount)
        groups = Array(repeating: [], count: speciesCount)
        snapshots = file.snapshotCount
        var structuralColumns = 0
        let start = Date()
        var lastReport = start
        for k in 0..<file.snapshotCount {
            let s = try file.readSnapshot(k)
            var descriptors: FeatureMatrix
            do {
                descriptors = try ParticleDescriptors.compute(
                    positions: inherent ? s.inherentPositions! : s.positions, box: s.box, species: s.species,
                    speciesNames: file.attributes.speciesNames, inherentEnergy: energy ? s.scalars["epot_inherent"] : nil)
            } catch {
                throw ValidationFailure("\(file.path), snapshot \(k): \(error)")
            }
            structuralColumns = descriptors.columns
            if displacement, let values = DerivedScalar.inherentDisplacement.values(s) {
                descriptors = concatenateColumns([descriptors, FeatureMatrix(names: [DerivedScalar.inherentDisplacement.rawValue], values: values)])
            }
            let t = file.timeCount
            for sp in 0..<speciesCount {
                let rows = (0..<s.particleCount).filter { Int(s.species[$0]) == sp }
                features[sp].append(rows: descriptors.selecting(rows: rows))
                for (q, column) in timeColumns.enumerated() {
                    targets[sp][q] += rows.map { Double(s.propensity![$0 * t + column]) }
                }
                groups[sp] += Array(repeating: k, count: rows.count)
            }
            if Date().timeIntervalSince(lastReport) > 5 || k == file.snapshotCount - 1 {
                lastReport = Date()
                progress("\(file.path): descriptors of \(k + 1)/\(file.snapshotCount) snapshots (\(duration(lastReport.timeIntervalSince(start))))")
            }
        }
        columnCount = structuralColumns
    }

    /// The rows of species `s`, or nil if the file has none.
    func rows(ofSpecies s: Int) -> (features: FeatureMatrix, targets: [[Double]], groups: [Int])? {
        features[s].rows > 0 ? (features[s], targets[s], groups[s]) : nil
    }
}
