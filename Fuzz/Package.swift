// swift-tools-version:6.0
import PackageDescription

// The fuzz targets of EquiGlass's readers (Fuzz/README.md). Built and run by tools/fuzz.sh with
// `-sanitize=fuzzer,address` in its own scratch path; not part of the root package's build.
//
// Sources/GlassData and Sources/CHDF5 are symbolic links to the root package's folders: the
// root package has no library product to depend on, so the reader is compiled here again, with
// the fuzzer's coverage instrumentation.
let package = Package(
    name: "EquiGlassFuzz",
    dependencies: [
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-openmpi",
                       providers: [.apt(["libhdf5-openmpi-dev"])]),
        .systemLibrary(name: "CFuzzer", path: "Sources/CFuzzer"),
        .target(name: "GlassData",
                dependencies: ["CHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer", "CHDF5", "GlassData"]),
        .executableTarget(name: "FuzzNpy", dependencies: ["GlassData", "FuzzSupport"]),
        .executableTarget(name: "FuzzNpz", dependencies: ["GlassData", "FuzzSupport"]),
        .executableTarget(name: "FuzzSnapshot", dependencies: ["GlassData", "FuzzSupport"]),
        .executableTarget(name: "FuzzSnapshotLayout", dependencies: ["GlassData", "FuzzSupport"]),
    ]
)
