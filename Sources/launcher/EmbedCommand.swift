import ArgumentParser
import DistributedTraining
import EquivariantNet
import Foundation
import GlassData
import StructuralDescriptors
import Training

/// `launcher embed`: every particle's learned rotation-invariant features, layer by layer, to HDF5.
struct EmbedCommand: RankCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write each particle's learned rotation-invariant features (every layer) to HDF5.",
        discussion: """
            Runs the trained network on every snapshot of the file and writes, per layer k = 0 \
            (embedding) … K (after interaction layer k): embedding/layer_<k> float32 [Ntot, C], \
            the C scalars (l = 0 channels), and for k ≥ 1 embedding/norms_<k> float32 \
            [Ntot, lmax·C], the norms of the l ≥ 1 channels (column (l−1)·C + u); with \
            snapshot_offsets, species, and the input's times and propensity when it has them. \
            docs/data-format.md describes the file. Under mpirun, rank 0 alone does the work.
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
        let embedding = try NetworkEmbeddings(bundle: bundle, paths: [data], progress: { printNow("embed: " + $0) })
        let file = embedding.file
        let config = bundle.config.model
        let h5 = try HDF5File.create(path: out)
        let root = h5.root
        try root.writeAttribute("format", "equiglass-embedding")
        try root.writeAttribute("checkpoint", bundle.path)
        try root.writeAttribute("data", data)
        try root.writeAttribute("species_names", file.attributes.speciesNames.joined(separator: ","))
        try root.writeAttribute("time_unit", file.attributes.timeUnit)
        try root.writeAttribute("positions", config.positions.rawValue)
        try root.writeAttribute("channels", Int64(config.channels))
        try root.writeAttribute("lmax", Int64(config.lmax))
        try root.writeAttribute("layers", Int64(config.layers))
        try root.write("snapshot_offsets", values: file.offsets.map(Int64.init), shape: [file.offsets.count])
        try root.write("species", values: embedding.species, shape: [embedding.species.count])
        if !file.times.isEmpty { try root.write("times", values: file.times, shape: [file.timeCount]) }
        if let propensity = embedding.propensity {
            try root.write("propensity", values: propensity, shape: [file.particleCount, file.timeCount])
        }
        let group = try root.createGroup("embedding")
        let n = file.particleCount
        for (k, layer) in embedding.layers.enumerated() {
            try group.write("layer_\(k)", values: layer.scalars, shape: [n, layer.channels])
            if layer.normColumns > 0 {
                try group.write("norms_\(k)", values: layer.norms, shape: [n, layer.normColumns])
            }
        }
        try h5.flush()
        printNow("wrote the invariants of \(embedding.layers.count) layers (C = \(config.channels), lmax = \(config.lmax)) "
                 + "of \(n) particles (\(file.snapshotCount) snapshots) to \(out)")
    }
}

