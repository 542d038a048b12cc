import Foundation
import GlassData
import StructuralDescriptors

/// A radius as `localDensityCounts` writes it in column names.
public func descriptorRadius(_ r: Double) -> String {
    var text = String(r)
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

/// The descriptors and targets of every particle of a file, split by species.
public struct DescriptorTable {
    public var features: [FeatureMatrix]
    /// Per species, per time column: the targets of its particles.
    public var targets: [[[Double]]]
    /// Per species: the snapshot of each particle.
    public var groups: [[Int]]
    public let snapshots: Int
    /// The structural descriptors' count; with `displacement`, |r − r_IS| is one more column after them.
    public let columnCount: Int

    public init(file: SnapshotSet, timeColumns: [Int], inherent: Bool, energy: Bool, displacement: Bool,
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
                    speciesNames: file.attributes.speciesNames, inherentEnergy: energy ? s.scalars["epot_inherent"] ?? DerivedScalar.inherentEnergy.values(s) : nil)
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
    public func rows(ofSpecies s: Int) -> (features: FeatureMatrix, targets: [[Double]], groups: [Int])? {
        features[s].rows > 0 ? (features[s], targets[s], groups[s]) : nil
    }
}
