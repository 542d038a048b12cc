import ArgumentParser

/// The root command: `launcher <subcommand>`.
///
/// To add a subcommand: put it in its own file (e.g. `InspectCommand.swift`) and list its type in
/// `subcommands` below and in the discussion. A command that runs on MPI ranks conforms to
/// `RankCommand` and implements `run(on:)`; a command that needs no MPI is a plain
/// `ParsableCommand` with `run()`.
struct Launcher: ParsableCommand {
    /// The version of EquiGlass this launcher belongs to.
    static let equiGlassVersion = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "launcher",
        abstract: "EquiGlass: rotation-equivariant graph networks for glassy liquids, data-parallel over MPI.",
        discussion: """
            Runs the same way as a single process (rank 0 of 1) or on every rank of an MPI job:
              mpirun -np 2 launcher <subcommand>
              srun -n 2 launcher <subcommand>          (inside a Slurm allocation)
            An error on any rank prints "rank R: error: ..." and aborts every rank.

            Subcommands:
              version    versions of EquiGlass, Swift and the MPI library; rank and size
              selftest   runs every MPI collective across the ranks and checks the results
              inspect    summary and validation of a snapshot file
              import     converts other formats to the snapshot format
              train      trains the network (checkpoints, metrics.jsonl, --resume)
              evaluate   Pearson ρ and MSE of a trained model per species and time
              predict    a trained model's predictions to HDF5
              bench      speed of a training step (docs/benchmarks.md)
              cross-evaluate  ρ of several models on several datasets (train × test temperature)
              report     SVG figures and a Markdown/HTML page for a run directory
              baselines  expert-feature baselines (IS energy, local density, ridge on descriptors)
              embed      each particle's rotation-invariant features of every layer, to HDF5
              probe      per-layer ρ of a ridge fit on those features (RUN_DIR/probe.json)
            """,
        version: equiGlassVersion,
        subcommands: [VersionCommand.self, SelfTestCommand.self, Inspect.self, Import.self,
                      TrainCommand.self, EvaluateCommand.self, PredictCommand.self, BenchCommand.self,
                      CrossEvaluateCommand.self, ReportCommand.self,
                      BaselinesCommand.self, EmbedCommand.self, ProbeCommand.self]
    )
}
