import ArgumentParser

/// Minimal root command for the glassdata branch (the lead merges the full root): registers the
/// data subcommands so they can be run and tested.
@main
struct Launcher: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launcher",
        abstract: "EquiGlass: equivariant GNNs for glassy dynamics.",
        subcommands: [Inspect.self, Import.self])
}
