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
        // Swift over MPI. Not named `Distributed`: that shadows the toolchain's module.
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
        .executableTarget(
            name: "launcher",
            dependencies: [
                "DistributedTraining", "EquivariantNet", "GlassData", "CBLAS", "StructuralDescriptors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "EquivariantNetTests", dependencies: ["EquivariantNet"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "GlassDataTests", dependencies: ["GlassData"]),
        .testTarget(name: "StructuralDescriptorsTests", dependencies: ["StructuralDescriptors", "EquivariantNet"]),
        .testTarget(name: "DistributedTrainingTests", dependencies: ["DistributedTraining"]),
        // Runs the built `launcher` executable as child processes, alone and under mpirun.
        .testTarget(name: "LauncherTests", dependencies: ["GlassData", "CHDF5"]),
    ]
)
