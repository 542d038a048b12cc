import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import Training

/// `launcher predict`: writes a trained model's predictions to HDF5.
struct PredictCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict the propensity of every particle of a snapshot file, in physical units, to HDF5.",
        discussion: """
            The output file holds: predictions float32 [Ntot, T] (particle order of the input \
            file), times float64 [T] (the model's), snapshot_offsets int64 [S+1], species int32 \
            [Ntot], and attributes checkpoint, data, time_unit. The input needs no propensity. \
            Under mpirun, rank 0 alone does the work.
            """)

    static let runsCollectively = false

    @Option(name: .long, help: "A checkpoint file, or a run directory (its newest checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "Snapshot file.")
    var data: String

    @Option(name: .long, help: "Output HDF5 file.")
    var out: String

    @OptionGroup var threadsOption: ThreadsOption

    mutating func run(on world: Communicator) throws {
        guard world.isRoot else { return }
        threadsOption.configure()
        let bundle = try ModelBundle.load(checkpoint)
        let (file, snapshots) = try bundle.predictions(on: [data], needTargets: false)
        let t = bundle.config.model.times.count
        let predictions = snapshots.flatMap(\.1), species = snapshots.flatMap(\.0.species)
        let h5 = try HDF5File.create(path: out)
        let root = h5.root
        try root.writeAttribute("checkpoint", bundle.path)
        try root.writeAttribute("data", data)
        try root.writeAttribute("time_unit", file.attributes.timeUnit)
        try root.writeAttribute("species_names", file.attributes.speciesNames.joined(separator: ","))
        try root.write("predictions", values: predictions, shape: [file.particleCount, t])
        try root.write("times", values: bundle.config.model.times, shape: [t])
        try root.write("snapshot_offsets", values: file.offsets.map(Int64.init), shape: [file.offsets.count])
        try root.write("species", values: species, shape: [species.count])
        try h5.flush()
        printNow("wrote \(file.particleCount) × \(t) predictions (\(file.snapshotCount) snapshots) to \(out)")
    }
}
