// swift-tools-version:6.0
import PackageDescription

// EquiGlass: rotation-equivariant GNNs for glassy liquids, data-parallel over MPI.
//
// System libraries come from Debian/Ubuntu packages through pkg-config:
//   CMPI  <- libopenmpi-dev        (ompi)
//   CBLAS <- libopenblas-dev       (openblas)
//   CHDF5 <- libhdf5-openmpi-dev   (hdf5-openmpi)
let package = Package(
    name: "EquiGlass",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "launcher", targets: ["launcher"]),
        // The libraries, for other Swift packages (Examples/TrainFewSteps uses them).
        .library(name: "EquiGlass",
                 targets: ["Training", "DistributedTraining", "EquivariantNet", "GlassData", "StructuralDescriptors"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-openmpi",
            providers: [.apt(["libhdf5-openmpi-dev"])]),

        // SplitMix64, the one generator behind the training order (DistributedTraining) and the
        // seeding of the weights' random source (EquivariantNet). No dependencies.
        .target(name: "Randomness"),
        // Swift over MPI: collectives on flat buffers, sharding, the reproducible gradient sum,
        // stop signals, the MPI self-test. Knows nothing of the network or of HDF5.
        // Not named `Distributed`: that shadows the toolchain's module.
        .target(name: "DistributedTraining", dependencies: ["CMPI", "Randomness"], path: "Sources/Distributed"),
        // The network: irreps, spherical harmonics, Clebsch–Gordan, tensor products, layers,
        // model, loss, optimiser. Free of MPI and HDF5.
        .target(name: "EquivariantNet", dependencies: ["CBLAS", "Randomness"]),
        // Hand-made per-particle structural descriptors, ridge regression, linear probes.
        .target(name: "StructuralDescriptors", dependencies: ["EquivariantNet"]),
        // The HDF5 snapshot format, validation, importers, and the thin HDF5 layer.
        .target(
            name: "GlassData",
            dependencies: ["CHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // What the commands share: the trainer, data preparation, the model bundle and scoring,
        // transfer learning, embeddings and probes, the benchmark's FLOP model, report figures.
        // MPI only through DistributedTraining, HDF5 only through GlassData.
        .target(
            name: "Training",
            dependencies: ["DistributedTraining", "EquivariantNet", "GlassData", "StructuralDescriptors"]),
        // The command line: ArgumentParser commands and options, calling into the libraries.
        .executableTarget(
            name: "launcher",
            dependencies: [
                "Training", "DistributedTraining", "EquivariantNet", "GlassData", "StructuralDescriptors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "EquivariantNetTests", dependencies: ["EquivariantNet"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "GlassDataTests", dependencies: ["GlassData"]),
        .testTarget(name: "StructuralDescriptorsTests", dependencies: ["StructuralDescriptors", "EquivariantNet"]),
        .testTarget(name: "DistributedTrainingTests", dependencies: ["DistributedTraining"]),
        .testTarget(name: "TrainingTests",
                    dependencies: ["Training", "DistributedTraining", "EquivariantNet", "GlassData", "Randomness"]),
        // Runs the built `launcher` executable as child processes, alone and under mpirun.
        .testTarget(name: "LauncherTests", dependencies: ["GlassData", "CHDF5"]),
    ]
)
