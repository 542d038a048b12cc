import Foundation
import XCTest
@testable import StructuralDescriptors

final class RidgeRegressionTests: XCTestCase {
    func testCholeskySolvesAKnownSystemAndRejectsAnIndefiniteOne() throws {
        let a: [Double] = [4, 2, 0, 2, 5, 1, 0, 1, 3]
        let x: [Double] = [1, -2, 3]
        let b = (0..<3).map { i in (0..<3).reduce(0.0) { $0 + a[i * 3 + $1] * x[$1] } }  // (0, −5, 7)
        let solved = try choleskySolve(matrix: a, size: 3, rhs: b)
        for k in 0..<3 { XCTAssertEqual(solved[k], x[k], accuracy: 1e-12) }
        XCTAssertThrowsError(try choleskySolve(matrix: [1, 2, 2, 1], size: 2, rhs: [1, 1]))
    }

    /// One feature: with z standardized, Σz² = n, so β = Σ z (y − ȳ) / (n + λ).
    func testOneFeatureMatchesTheClosedForm() throws {
        let x: [Double] = [1, 2, 3, 4, 5], y: [Double] = [2, 1, 4, 3, 6], lambda = 3.0
        let model = try RidgeRegression(features: FeatureMatrix(names: ["x"], values: x), targets: y, lambda: lambda)
        let mean = 3.0, sd = 2.0.squareRoot()  // population sd of 1…5
        let yMean = 3.2
        let sxy = zip(x, y).reduce(0.0) { $0 + ($1.0 - mean) / sd * ($1.1 - yMean) }
        XCTAssertEqual(model.coefficients[0], sxy / (5 + lambda), accuracy: 1e-12)
        XCTAssertEqual(model.intercept, yMean, accuracy: 1e-12)
        XCTAssertEqual(model.predict(FeatureMatrix(names: ["x"], values: [6]))[0],
                       yMean + (6 - mean) / sd * sxy / (5 + lambda), accuracy: 1e-12)
    }

    /// Against numpy: tools/ridge_reference.py solves the same problem by SVD of the augmented
    /// system [Z; √λ I]; its printed values are copied here.
    func testMatchesNumpyReference() throws {
        let n = 12, d = 3, lambda = 2.5
        var x: [Double] = [], y: [Double] = []
        for i in 0..<n {
            for k in 0..<d { x.append(sin(1.3 * Double(i) + 0.7 * Double(k) + 0.1 * Double(i * k))) }
            y.append(0.5 * x[i * d] - 2 * x[i * d + 1] + cos(Double(i)) + 3)
        }
        let model = try RidgeRegression(features: FeatureMatrix(names: ["a", "b", "c"], values: x), targets: y, lambda: lambda)
        let beta = [0.5816862617960071, -1.102161785693132, 0.03641009199000643]
        for k in 0..<d { XCTAssertEqual(model.coefficients[k], beta[k], accuracy: 1e-12) }
        XCTAssertEqual(model.intercept, 2.829039551349441, accuracy: 1e-12)
        XCTAssertEqual(model.predict(FeatureMatrix(names: ["a", "b", "c"], values: [0.3, -0.2, 0.9]))[0],
                       3.508452306099997, accuracy: 1e-12)
    }

    /// λ = 0 is least squares: an exactly linear target is recovered, also away from the data.
    func testOrdinaryLeastSquaresRecoversAnExactLinearLaw() throws {
        var x: [Double] = [], y: [Double] = []
        for i in 0..<20 {
            let a = Double(i % 7), b = Double((i * i) % 5)
            x += [a, b]
            y.append(1 + 2 * a - 3 * b)
        }
        let model = try RidgeRegression(features: FeatureMatrix(names: ["a", "b"], values: x), targets: y, lambda: 0)
        let predicted = model.predict(FeatureMatrix(names: ["a", "b"], values: [10, -1]))[0]
        XCTAssertEqual(predicted, 1 + 20 + 3, accuracy: 1e-9)
    }

    /// A constant feature standardizes to 0 and gets β = 0 under any λ > 0.
    func testConstantFeatureIsHarmless() throws {
        let x: [Double] = [1, 7, 2, 7, 3, 7, 4, 7]
        let model = try RidgeRegression(features: FeatureMatrix(names: ["a", "const"], values: x), targets: [1, 2, 3, 4], lambda: 0.1)
        XCTAssertEqual(model.coefficients[1], 0)
        // a = 1…4, sd √1.25: Σ z (y − ȳ) = Σ (a − 2.5)² / √1.25 = 5 / √1.25 = 4 √1.25.
        XCTAssertEqual(model.coefficients[0], 4 * 1.25.squareRoot() / (4 + 0.1), accuracy: 1e-12)
    }

    /// The validation split picks a small λ for a noiseless law, and the probe then scores ρ ≈ 1
    /// on unseen rows; on a target unrelated to the features, ρ stays near 0.
    func testLinearProbeOnNoiselessAndUnrelatedTargets() throws {
        func rows(_ count: Int, seed: Double) -> (FeatureMatrix, [Double], [Double], [Int]) {
            var x: [Double] = [], law: [Double] = [], noise: [Double] = [], groups: [Int] = []
            for i in 0..<count {
                let f = (0..<4).map { sin(seed + 0.37 * Double(i) * Double($0 + 1)) }
                x += f
                law.append(2 * f[0] - f[2] + 0.5 * f[3])
                noise.append(sin(1e4 * (seed + Double(i)) * 1.618))
                groups.append(i / 50)
            }
            return (FeatureMatrix(names: ["a", "b", "c", "d"], values: x), law, noise, groups)
        }
        let (trainX, trainLaw, trainNoise, trainGroups) = rows(400, seed: 0.1)
        let (testX, testLaw, testNoise, testGroups) = rows(200, seed: 5.3)
        let scores = try LinearProbe.scores(trainFeatures: trainX, trainTargets: [trainLaw, trainNoise], trainGroups: trainGroups,
                                            testFeatures: testX, testTargets: [testLaw, testNoise], testGroups: testGroups)
        XCTAssertGreaterThan(scores[0].pooled, 0.9999)
        XCTAssertGreaterThan(scores[0].meanPerGroup, 0.9999)
        XCTAssertLessThanOrEqual(scores[0].lambda, 1e-3 * 400)
        XCTAssertLessThan(abs(scores[1].pooled), 0.25)
    }

    func testPooledAndPerGroupPearson() {
        // Group 0: perfectly correlated; group 1: perfectly anti-correlated.
        let x: [Double] = [1, 2, 3, 1, 2, 3], y: [Double] = [1, 2, 3, 3, 2, 1]
        let r = pooledAndMeanPearson(x, y, groups: [0, 0, 0, 1, 1, 1])
        XCTAssertEqual(r.mean, 0, accuracy: 1e-12)
        XCTAssertEqual(r.pooled, 0, accuracy: 1e-12)
        XCTAssertEqual(pearson([1, 2, 3], [2, 4, 7]), 0.9933992677987828, accuracy: 1e-12)  // numpy.corrcoef
    }
}
