import XCTest
@testable import DistributedTraining

/// The exact (fixed-point) and fast gradient sums on a world of one rank, against a serial
/// Double sum. Their equality across rank counts is checked under mpirun by LauncherTests
/// (DataParallelTests).
final class GradientReducerTests: XCTestCase {
    /// Gradients whose magnitudes span 2^−100 ... 2^10, of both signs: a Float sum of these
    /// depends on the order, a fixed-point one does not.
    private func gradients(count: Int, parameters: Int, seed: UInt64) -> [[Float]] {
        var generator = SplitMix64(seed: seed)
        return (0 ..< count).map { _ in
            (0 ..< parameters).map { _ in
                let bits = generator.next()
                let mantissa = Float(Int64(bits >> 40) - (1 << 23)) * 0x1p-23  // (−1, 1)
                let exponent = Int(bits % 111) - 100
                return mantissa * Float(sign: .plus, exponent: exponent, significand: 1)
            }
        }
    }

    private func reduce(_ gradients: [[Float]], order: [Int], mode: GradientReductionMode = .exact) throws
        -> (sum: [Float], report: GradientReduction)
    {
        let reducer = GradientReducer(parameterCount: gradients.first?.count ?? 0, mode: mode)
        reducer.reset()
        for index in order { reducer.add(gradients[index], snapshot: index) }
        var sum = [Float](repeating: -1, count: reducer.parameterCount)
        let report = try reducer.reduce(over: try TestWorld.shared(), into: &sum)
        return (sum, report)
    }

    func testExactSumIsWithinTheQuantisationBoundOfADoubleReference() throws {
        let parameters = 257
        let data = gradients(count: 13, parameters: parameters, seed: 5)
        let (sum, report) = try reduce(data, order: Array(0 ..< 13))
        XCTAssertEqual(report.snapshotCount, 13)
        XCTAssertEqual(report.maxAbs, data.flatMap { $0 }.map { abs($0) }.max())
        let k = try XCTUnwrap(report.scaleExponent)
        // 13 snapshots: c = 4; max |g| < 2^10: e <= 10.
        XCTAssertEqual(k, 62 - 4 - (Int(report.maxAbs.exponent) + 1))
        let bound = try XCTUnwrap(report.quantisationBound)
        XCTAssertEqual(bound, 13 * Double(sign: .plus, exponent: -(k + 1), significand: 1))
        var worst = 0.0
        for i in 0 ..< parameters {
            // The reference: Double sum of the Float values (its own error ~1e-16 relative is far
            // below the tolerance), then the final rounding to Float allowed for.
            let reference = data.reduce(0.0) { $0 + Double($1[i]) }
            let tolerance = bound + Double(Float(reference).ulp) + abs(reference) * 0x1p-50
            worst = max(worst, abs(Double(sum[i]) - reference) / tolerance)
        }
        XCTAssertLessThanOrEqual(worst, 1)
        // The quantum is fine: 2^−k is far below a Float ulp of the largest values.
        XCTAssertLessThan(bound, Double(report.maxAbs) * 0x1p-40)
    }

    func testExactSumIsBitwiseTheSameInEveryOrder() throws {
        let data = gradients(count: 17, parameters: 101, seed: 9)
        let (first, _) = try reduce(data, order: Array(0 ..< 17))
        var generator = SplitMix64(seed: 3)
        var fastSums: Set<[UInt32]> = []
        for _ in 0 ..< 6 {
            var order = Array(0 ..< 17)
            for i in stride(from: 16, to: 0, by: -1) { order.swapAt(i, Int(generator.next(below: UInt64(i + 1)))) }
            let (sum, _) = try reduce(data, order: order)
            XCTAssertEqual(sum.map(\.bitPattern), first.map(\.bitPattern), "order \(order)")
            fastSums.insert(try reduce(data, order: order, mode: .fast).sum.map(\.bitPattern))
        }
        // The same data summed in Float is order-dependent: what the exact mode is for.
        XCTAssertGreaterThan(fastSums.count, 1)
    }

    /// The sum of the whole batch equals the sum of the sums of any split: what the Int64
    /// all-reduce computes across ranks (here the split's parts are fixed-point sums at the
    /// global scale, added as MPI would).
    func testFixedPointSumsAddAcrossAnySplit() throws {
        let data = gradients(count: 12, parameters: 64, seed: 21)
        let maxAbs = data.flatMap { $0 }.map { abs($0) }.max()!
        let k = FixedPointScale.exponent(maxAbs: maxAbs, count: 12)
        let scale = Double(sign: .plus, exponent: k, significand: 1)
        func fixed(_ part: ArraySlice<[Float]>) -> [Int64] {
            var total = [Int64](repeating: 0, count: 64)
            for g in part { for i in 0 ..< 64 { total[i] += Int64((Double(g[i]) * scale).rounded(.toNearestOrEven)) } }
            return total
        }
        let (sum, report) = try reduce(data, order: Array(0 ..< 12))
        XCTAssertEqual(report.scaleExponent, k)
        for cuts in [[4, 8], [0, 12], [1, 2, 3, 11], [6]] {
            var total = [Int64](repeating: 0, count: 64)
            var start = 0
            for end in cuts + [12] {
                let part = fixed(data[start ..< end])
                for i in 0 ..< 64 { total[i] += part[i] }
                start = end
            }
            let split = total.map { Float(Double($0) / scale) }
            XCTAssertEqual(split.map(\.bitPattern), sum.map(\.bitPattern), "cuts \(cuts)")
        }
    }

    func testScaleKeepsAnySumOfCountValuesBelowTwoToThe62() {
        XCTAssertEqual(FixedPointScale.exponent(maxAbs: 0, count: 10), 0)
        XCTAssertEqual(FixedPointScale.exponent(maxAbs: 1, count: 0), 0)
        XCTAssertEqual(FixedPointScale.exponent(maxAbs: 1, count: 1), 61)      // 1 < 2^1
        XCTAssertEqual(FixedPointScale.exponent(maxAbs: 0.75, count: 2), 61)   // 0.75 < 2^0, 2 <= 2^1
        XCTAssertEqual(FixedPointScale.exponent(maxAbs: 1, count: 3), 59)      // 3 <= 2^2
        for maxAbs: Float in [.leastNonzeroMagnitude, 1e-30, 0.1, 1, 3, 1e20, .greatestFiniteMagnitude] {
            for count in [1, 2, 3, 4, 5, 64, 65, 1000, 1 << 20] {
                let k = FixedPointScale.exponent(maxAbs: maxAbs, count: count)
                // count · round(maxAbs · 2^k) <= 2^62, computed in Double (exact powers of two).
                let largest = (Double(maxAbs) * Double(sign: .plus, exponent: k, significand: 1)).rounded()
                XCTAssertLessThanOrEqual(Double(count) * largest, 0x1p62, "maxAbs \(maxAbs) count \(count)")
                // And not needlessly coarse: one more bit would risk the bound.
                XCTAssertGreaterThan(Double(count) * Double(maxAbs) * Double(sign: .plus, exponent: k + 2, significand: 1), 0x1p62 / 4)
            }
        }
    }

    func testAllZerosGiveZeros() throws {
        let (sum, report) = try reduce([[Float](repeating: 0, count: 5), [0, -0.0, 0, 0, 0]], order: [0, 1])
        XCTAssertEqual(sum, [0, 0, 0, 0, 0])
        XCTAssertEqual(report.scaleExponent, 0)
        XCTAssertEqual(report.maxAbs, 0)
    }

    func testNoSnapshotsOnThisRankGiveZeros() throws {
        let reducer = GradientReducer(parameterCount: 3)
        var sum: [Float] = [7, 7, 7]
        let report = try reducer.reduce(over: try TestWorld.shared(), into: &sum)
        XCTAssertEqual(sum, [0, 0, 0])
        XCTAssertEqual(report.snapshotCount, 0)
        XCTAssertEqual(report.quantisationBound, 0)
    }

    func testHugeAndTinyValuesDoNotOverflow() throws {
        let big = Float.greatestFiniteMagnitude
        let (sum, report) = try reduce([[big, 1, -big], [-big, 1e-30, big], [big, -1, 0.5]], order: [0, 1, 2])
        XCTAssertEqual(report.scaleExponent, 62 - 2 - 128)
        // The quantum is 2^68 here: the large values are exact, the small ones (exact sums 1e−30
        // and 0.5) vanish, within the bound of 3 · 2^67.
        XCTAssertEqual(sum, [big, 0, 0])
        XCTAssertEqual(report.quantisationBound, 3 * 0x1p67)
        // Only subnormals: a scale of 2^210 or so, and the sum exact.
        let tiny = Float.leastNonzeroMagnitude
        let (small, smallReport) = try reduce([[tiny, 3 * tiny], [tiny, -tiny]], order: [1, 0])
        XCTAssertEqual(small, [2 * tiny, 2 * tiny])
        XCTAssertGreaterThan(smallReport.scaleExponent!, 200)
    }

    func testNonFiniteGradientIsAClearErrorNamingTheSnapshot() throws {
        for bad: Float in [.nan, .infinity, -.infinity] {
            let reducer = GradientReducer(parameterCount: 3)
            reducer.add([1, 2, 3], snapshot: 40)
            reducer.add([1, bad, 3], snapshot: 12)
            reducer.add([1, bad, bad], snapshot: 7)
            var sum: [Float] = [5, 5, 5]
            XCTAssertThrowsError(try reducer.reduce(over: try TestWorld.shared(), into: &sum)) { error in
                XCTAssertEqual(error as? NonFiniteGradient, NonFiniteGradient(snapshot: 7, rank: 0))
                XCTAssertEqual("\(error)", "non-finite gradient (NaN or infinity) for snapshot 7 on rank 0; the step is not applied")
            }
            XCTAssertEqual(sum, [5, 5, 5], "the sum is left untouched")
            // The next step starts clean.
            reducer.reset()
            reducer.add([1, 2, 3], snapshot: 1)
            XCTAssertEqual(try reducer.reduce(over: try TestWorld.shared(), into: &sum).snapshotCount, 1)
            XCTAssertEqual(sum, [1, 2, 3])
        }
    }

    func testFastModeIsAPlainFloatSum() throws {
        let data = gradients(count: 5, parameters: 33, seed: 2)
        let (sum, report) = try reduce(data, order: [0, 1, 2, 3, 4], mode: .fast)
        XCTAssertNil(report.scaleExponent)
        XCTAssertNil(report.quantisationBound)
        for i in 0 ..< 33 {
            var serial: Float = 0
            for g in data { serial += g[i] }
            XCTAssertEqual(sum[i].bitPattern, serial.bitPattern)
        }
    }

    func testOrderedSumAddsRowsInRowOrder() throws {
        var table = SnapshotOrderedSum(rowCount: 4, width: 2)
        table.set(row: 2, [1e16, 3])
        table.set(row: 0, [1, 0.5])
        table.set(row: 3, [-1e16, 0.25])
        // Row 1 left empty counts as zeros. In row order: ((1 + 0) + 1e16) − 1e16 = 0 in Double.
        let total = try table.reduce(over: try TestWorld.shared())
        XCTAssertEqual(total, [((1.0 + 0) + 1e16) - 1e16, 3.75])
        XCTAssertEqual(total[0], 0)
    }
}
