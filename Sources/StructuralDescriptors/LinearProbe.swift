/// A linear probe: how much of a target a set of per-particle features holds linearly.
///
/// For each target column: fits `RidgeRegression.fitChoosingLambda` on the training features
/// and targets, predicts the test rows, and scores the test Pearson ρ pooled over all rows and
/// the mean of the per-group (per-snapshot) ρ. Used on hand-made structural descriptors
/// (`launcher baselines`) and on the network's embeddings (`launcher probe`).
public enum LinearProbe {
    public struct Score: Sendable {
        public let pooled: Double
        public let meanPerGroup: Double
        public let lambda: Double
    }

    /// One score per target column (`trainTargets[q]` and `testTargets[q]` are the same target).
    public static func scores(trainFeatures: FeatureMatrix, trainTargets: [[Double]], trainGroups: [Int],
                              testFeatures: FeatureMatrix, testTargets: [[Double]], testGroups: [Int]) throws -> [Score] {
        precondition(trainTargets.count == testTargets.count, "LinearProbe: train and test have different target columns")
        let models = try RidgeRegression.fitChoosingLambda(features: trainFeatures, targets: trainTargets, groups: trainGroups)
        return zip(models, testTargets).map { model, y in
            let s = pooledAndMeanPearson(model.predict(testFeatures), y, groups: testGroups)
            return Score(pooled: s.pooled, meanPerGroup: s.mean, lambda: model.lambda)
        }
    }
}
