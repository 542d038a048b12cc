import ArgumentParser
import Foundation
import GlassData

/// `launcher import ...`: converts external datasets into the snapshot format.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert external datasets into an EquiGlass snapshot file.",
        subcommands: [GlassBench.self])
}

/// `launcher import glassbench DIR --out FILE (--box L | --density RHO) --times t1,t2,... [--temperature T]`
struct GlassBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbench",
        abstract: "Import a folder of GlassBench .npz files (Zenodo 10118191), one per configuration.")

    @Argument(help: "Folder of .npz files (keys types, initial_positions, initial_positions_inherent, md_prop, EPOT).")
    var directory: String

    @Option(help: "Output snapshot file (HDF5).")
    var out: String

    @Option(help: "Cubic box edge length L (the files do not store the box).")
    var box: Double?

    @Option(help: "Number density N/V; the box edge is (N/density)^(1/3).")
    var density: Double?

    @Option(help: "The time grid of md_prop's rows, comma-separated (the files do not store it).")
    var times: String

    @Option(help: "Temperature (LJ units); written as NaN (unknown) if absent.")
    var temperature: Double?

    func validate() throws {
        guard (box == nil) != (density == nil) else { throw ValidationError("give exactly one of --box and --density") }
        if let box, !(box.isFinite && box > 0) { throw ValidationError("--box must be > 0") }
        if let density, !(density.isFinite && density > 0) { throw ValidationError("--density must be > 0") }
        _ = try parsedTimes()
    }

    func parsedTimes() throws -> [Double] {
        let values = times.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--times must be comma-separated numbers, got '\(times)'")
        }
        let grid = values.map { $0! }
        for t in grid.indices where !(grid[t] > 0 && grid[t].isFinite) || (t > 0 && grid[t] <= grid[t - 1]) {
            throw ValidationError("--times must be > 0 and strictly increasing, got '\(times)'")
        }
        return grid
    }

    func run() throws {
        let specification: GlassBenchImporter.BoxSpecification = box.map { .edge($0) } ?? .density(density!)
        let count = try GlassBenchImporter.importFolder(
            directory: directory, output: out, box: specification, times: try parsedTimes(),
            temperature: temperature, commandLine: CommandLine.arguments.joined(separator: " "))
        _ = try SnapshotFile(path: out)  // re-open: the written file validates
        print("wrote \(count) snapshots to \(out)")
    }
}
