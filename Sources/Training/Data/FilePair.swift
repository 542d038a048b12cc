import EquivariantNet
import GlassData

/// The one check that a training and a test file can be compared (baselines, linear probes):
/// the same species, and at least one shared time. Returns the shared times as pairs of indices
/// (`test` into the test file's times, `train` into the training file's), in the test file's order.
public func sharedTimes(train: SnapshotSet, test: SnapshotSet) throws -> [(test: Int, train: Int)] {
    guard train.attributes.speciesNames == test.attributes.speciesNames else {
        throw ValidationFailure("\(test.path): species \(test.attributes.speciesNames) differ from "
                                + "\(train.path)'s \(train.attributes.speciesNames)")
    }
    let shared = matchTimes(model: test.times, data: train.times)
    guard !shared.isEmpty else {
        throw ValidationFailure("\(test.path) and \(train.path) share no time: \(test.times) and \(train.times)")
    }
    return shared.map { (test: $0.model, train: $0.data) }
}
