import ArgumentParser

/// `launcher selftest --dataset-statistics FILE` (`DatasetStatisticsSelfTest`).
struct DatasetStatisticsOptions: ParsableArguments {
    @Option(name: .customLong("dataset-statistics"), help: ArgumentHelp(
        "Read FILE's snapshots split over the ranks and print target statistics combined across them.",
        valueName: "FILE"))
    var file: String?
}

