import ArgumentParser
import EquivariantNet
import Foundation
import GlassData

/// `launcher inspect FILE [--json]`: validates a snapshot file and prints a summary.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a snapshot file and summarise it (counts, box, times, targets, neighbours).")

    @Argument(help: "Snapshot file (HDF5, docs/data-format.md).")
    var file: String

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Option(help: "Cut-off radius for the neighbour count.")
    var cutoff: Double = 2.0

    @Option(help: "Largest number of snapshots used for the neighbour count.")
    var neighborSnapshots: Int = 100

    func run() throws {
        let data = try SnapshotFile(path: file)
        let summary = try Summary(data, cutoff: cutoff, neighborSnapshots: neighborSnapshots)
        if json {
            let encoded = try JSONSerialization.data(withJSONObject: summary.dictionary, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: encoded, as: UTF8.self))
        } else {
            print(summary.text)
        }
    }
}

/// What `inspect` reports, computed once, printed as text or JSON.
private struct Summary {
    var dictionary: [String: Any] = [:]
    var text = ""

    init(_ data: SnapshotFile, cutoff: Double, neighborSnapshots: Int) throws {
        let attributes = data.attributes
        let counts = (0..<data.snapshotCount).map { data.particleCount(ofSnapshot: $0) }
        var speciesCounts = [Int](repeating: 0, count: attributes.speciesNames.count)
        var minimum = [Double](repeating: .infinity, count: data.timeCount)
        var maximum = [Double](repeating: -.infinity, count: data.timeCount)
        var sum = [Double](repeating: 0, count: data.timeCount)
        var boxMin = [Double](repeating: .infinity, count: 3)
        var boxMax = [Double](repeating: -.infinity, count: 3)
        var neighbourEdges = 0, neighbourParticles = 0, neighbourSnapshots = 0
        var neighbourNote = ""
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
            if k < neighborSnapshots, neighbourNote.isEmpty {
                do {
                    let graph = try NeighborGraph(positions: snapshot.positions, box: snapshot.box, cutoff: cutoff)
                    neighbourEdges += graph.edgeCount
                    neighbourParticles += graph.particleCount
                    neighbourSnapshots += 1
                } catch {
                    neighbourNote = "not computed: snapshot \(k): \(error)"
                }
            }
        }
        let total = data.particleCount
        let meanNeighbours = neighbourParticles > 0 ? Double(neighbourEdges) / Double(neighbourParticles) : Double.nan

        dictionary["file"] = data.path
        dictionary["snapshots"] = data.snapshotCount
        dictionary["particles"] = ["total": total, "min_per_snapshot": counts.min()!, "max_per_snapshot": counts.max()!]
        dictionary["species_counts"] = Dictionary(uniqueKeysWithValues: zip(attributes.speciesNames, speciesCounts))
        dictionary["box"] = ["min": boxMin, "max": boxMax]
        dictionary["temperature"] = attributes.temperature.isFinite ? attributes.temperature as Any : NSNull()
        dictionary["density"] = attributes.density
        dictionary["time_unit"] = attributes.timeUnit
        dictionary["times"] = data.times
        dictionary["has_inherent_positions"] = data.hasInherentPositions
        dictionary["scalars"] = data.scalarNames
        dictionary["source"] = attributes.source
        dictionary["propensity_definition"] = attributes.propensityDefinition
        dictionary["propensity_runs"] = attributes.propensityRuns
        dictionary["provenance"] = (try? JSONSerialization.jsonObject(with: Data(attributes.provenance.utf8))) ?? attributes.provenance
        if data.hasPropensity {
            dictionary["propensity"] = (0..<data.timeCount).map {
                ["time": data.times[$0], "min": minimum[$0], "mean": sum[$0] / Double(total), "max": maximum[$0]]
            }
        }
        var neighbours: [String: Any] = ["cutoff": cutoff, "snapshots_used": neighbourSnapshots]
        if neighbourNote.isEmpty { neighbours["mean_count"] = meanNeighbours } else { neighbours["note"] = neighbourNote }
        dictionary["neighbors"] = neighbours

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
        lines.append("neighbours      " + (neighbourNote.isEmpty
            ? "\(f(meanNeighbours)) per particle at r_c = \(f(cutoff)) (mean over \(neighbourSnapshots) snapshot\(neighbourSnapshots == 1 ? "" : "s"))"
            : neighbourNote))
        lines.append("provenance      \(attributes.provenance)")
        text = lines.joined(separator: "\n")
    }
}
