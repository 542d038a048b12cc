import ArgumentParser
import EquivariantNet
import Foundation
import GlassData
import Training

/// `launcher inspect FILE [--json]`: validates a snapshot file and prints a summary.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a snapshot file and summarise it (counts, box, times, targets, neighbors).")

    @Argument(help: "Snapshot file (HDF5, docs/data-format.md).")
    var file: String

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Option(help: "Cutoff radius for the neighbor count.")
    var cutoff: Double = 2.0

    @Option(help: "Largest number of snapshots used for the neighbor count.")
    var neighborSnapshots: Int = 100

    func run() throws {
        let data = try SnapshotFile(path: file)
        let summary = try SnapshotFileSummary(data, cutoff: cutoff, neighborSnapshots: neighborSnapshots)
        if json {
            let encoded = try JSONSerialization.data(withJSONObject: summary.dictionary, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: encoded, as: UTF8.self))
        } else {
            print(summary.text)
        }
    }
}
