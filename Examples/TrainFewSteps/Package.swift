// swift-tools-version:6.0
import PackageDescription

// An example of EquiGlass used as a library from another Swift package: trains a few steps on
// one rank and evaluates (see Sources/TrainFewSteps/main.swift). Built and run by `make example`.
let package = Package(
    name: "TrainFewSteps",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "EquiGlass", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "TrainFewSteps",
            dependencies: [.product(name: "EquiGlass", package: "EquiGlass")]),
    ]
)
