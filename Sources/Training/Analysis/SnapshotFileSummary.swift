import EquivariantNet
import Foundation
import GlassData

/// What `launcher inspect` reports of a snapshot file, computed once, printed as text or JSON:
/// counts, species, box, times, propensity range per time, mean neighbor count.
public struct SnapshotFileSummary {
    public var dictionary: [String: Any] = [:]
    public var text = ""

    public init(_ data: SnapshotFile, cutoff: Double, neighborSnapshots: Int) throws {
        let tally = try Tally(data, cutoff: cutoff, neighborSnapshots: neighborSnapshots)
        dictionary = Self.dictionary(data, tally, cutoff: cutoff)
        text = Self.text(data, tally, cutoff: cutoff)
    }

    /// One pass over the file: counts, box range, propensity range and sum per time, neighbors.
    struct Tally {
        var counts: [Int] = [], speciesCounts: [Int] = []
        var minimum: [Double] = [], maximum: [Double] = [], sum: [Double] = []
        var boxMin: [Double] = [], boxMax: [Double] = []
        var neighborEdges = 0, neighborParticles = 0, countedSnapshots = 0
        var neighborNote = ""

        var meanNeighbors: Double {
            neighborParticles > 0 ? Double(neighborEdges) / Double(neighborParticles) : Double.nan
        }

        init(_ data: SnapshotFile, cutoff: Double, neighborSnapshots: Int) throws {
            let attributes = data.attributes
            counts = (0..<data.snapshotCount).map { data.particleCount(ofSnapshot: $0) }
            speciesCounts = [Int](repeating: 0, count: attributes.speciesNames.count)
            minimum = [Double](repeating: .infinity, count: data.timeCount)
            maximum = [Double](repeating: -.infinity, count: data.timeCount)
            sum = [Double](repeating: 0, count: data.timeCount)
            boxMin = [Double](repeating: .infinity, count: 3)
            boxMax = [Double](repeating: -.infinity, count: 3)
            for k in 0..<data.snapshotCount {
                let snapshot = try data.readSnapshot(k)
                for s in snapshot.species { speciesCounts[Int(s)] += 1 }
                for axis in 0..<3 {
                    boxMin[axis] = min(boxMin[axis], snapshot.box[axis])
                    boxMax[axis] = max(boxMax[axis], snapshot.box[axis])
                }
                if let propensity = snapshot.propensity {
                    let t = data.timeCount
                    for i in 0..<snapshot.particleCount {
                        for c in 0..<t {
                            let value = Double(propensity[i * t + c])
                            minimum[c] = min(minimum[c], value)
                            maximum[c] = max(maximum[c], value)
                            sum[c] += value
                        }
                    }
                }
                if k < neighborSnapshots, neighborNote.isEmpty {
                    do {
                        let graph = try NeighborGraph(positions: snapshot.positions, box: snapshot.box, cutoff: cutoff)
                        neighborEdges += graph.edgeCount
                        neighborParticles += graph.particleCount
                        countedSnapshots += 1
                    } catch {
                        neighborNote = "not computed: snapshot \(k): \(error)"
                    }
                }
            }
        }
    }

    static func dictionary(_ data: SnapshotFile, _ tally: Tally, cutoff: Double) -> [String: Any] {
        let attributes = data.attributes, total = data.particleCount, meanNeighbors = tally.meanNeighbors
        let (counts, speciesCounts, minimum, maximum, sum) = (tally.counts, tally.speciesCounts, tally.minimum, tally.maximum, tally.sum)
        let (boxMin, boxMax, neighborSnapshots, neighborNote) = (tally.boxMin, tally.boxMax, tally.countedSnapshots, tally.neighborNote)
        var d: [String: Any] = [:]
        d["file"] = data.path
        d["snapshots"] = data.snapshotCount
        d["particles"] = ["total": total, "min_per_snapshot": counts.min()!, "max_per_snapshot": counts.max()!]
        d["species_counts"] = Dictionary(uniqueKeysWithValues: zip(attributes.speciesNames, speciesCounts))
        d["box"] = ["min": boxMin, "max": boxMax]
        d["temperature"] = attributes.temperature.isFinite ? attributes.temperature as Any : NSNull()
        d["density"] = attributes.density
        d["time_unit"] = attributes.timeUnit
        d["times"] = data.times
        d["has_inherent_positions"] = data.hasInherentPositions
        d["scalars"] = data.scalarNames
        d["source"] = attributes.source
        d["propensity_definition"] = attributes.propensityDefinition
        d["propensity_runs"] = attributes.propensityRuns
        d["provenance"] = (try? JSONSerialization.jsonObject(with: Data(attributes.provenance.utf8))) ?? attributes.provenance
        if data.hasPropensity {
            d["propensity"] = (0..<data.timeCount).map {
                ["time": data.times[$0], "min": minimum[$0], "mean": sum[$0] / Double(total), "max": maximum[$0]]
            }
        }
        var neighbors: [String: Any] = ["cutoff": cutoff, "snapshots_used": neighborSnapshots]
        if neighborNote.isEmpty { neighbors["mean_count"] = meanNeighbors } else { neighbors["note"] = neighborNote }
        d["neighbors"] = neighbors
        return d
    }

    static func text(_ data: SnapshotFile, _ tally: Tally, cutoff: Double) -> String {
        let attributes = data.attributes, total = data.particleCount, meanNeighbors = tally.meanNeighbors
        let (counts, speciesCounts, minimum, maximum, sum) = (tally.counts, tally.speciesCounts, tally.minimum, tally.maximum, tally.sum)
        let (boxMin, boxMax, neighborSnapshots, neighborNote) = (tally.boxMin, tally.boxMax, tally.countedSnapshots, tally.neighborNote)
        func f(_ x: Double) -> String { String(format: "%.4g", x) }
        var lines: [String] = []
        lines.append("file            \(data.path)")
        lines.append("source          \(attributes.source.isEmpty ? "-" : attributes.source)")
        lines.append("snapshots       \(data.snapshotCount)")
        lines.append("particles       \(total) total, \(counts.min()!)–\(counts.max()!) per snapshot")
        lines.append("species         " + zip(attributes.speciesNames, speciesCounts).map {
            "\($0): \($1) (\(f(100 * Double($1) / Double(total)))%)" }.joined(separator: ", "))
        lines.append("box             " + (boxMin == boxMax ? boxMin.map(f).joined(separator: " × ")
            : "from \(boxMin.map(f).joined(separator: " × ")) to \(boxMax.map(f).joined(separator: " × "))"))
        lines.append("temperature     \(attributes.temperature.isFinite ? f(attributes.temperature) : "unknown")")
        lines.append("density         \(f(attributes.density))")
        lines.append("times           " + (data.times.isEmpty ? "none" : data.times.map(f).joined(separator: ", ") + " \(attributes.timeUnit)"))
        lines.append("inherent pos.   \(data.hasInherentPositions ? "yes" : "no")")
        lines.append("scalars         \(data.scalarNames.isEmpty ? "none" : data.scalarNames.joined(separator: ", "))")
        if data.hasPropensity {
            lines.append("propensity      (\(attributes.propensityRuns) runs per snapshot) min / mean / max per time:")
            for c in 0..<data.timeCount {
                lines.append("  t = \(f(data.times[c]))".padding(toLength: 16, withPad: " ", startingAt: 0)
                             + "\(f(minimum[c])) / \(f(sum[c] / Double(total))) / \(f(maximum[c]))")
            }
            lines.append("  definition    \(attributes.propensityDefinition)")
        } else {
            lines.append("propensity      none")
        }
        lines.append("neighbors      " + (neighborNote.isEmpty
            ? "\(f(meanNeighbors)) per particle at r_c = \(f(cutoff)) (mean over \(neighborSnapshots) snapshot\(neighborSnapshots == 1 ? "" : "s"))"
            : neighborNote))
        lines.append("provenance      \(attributes.provenance)")
        return lines.joined(separator: "\n")
    }
}
