import Foundation
import XCTest
@testable import EquivariantNet

/// The e3nn reference values written by tools/e3nn_fixtures.py.
enum E3nnFixture {
    nonisolated(unsafe) static let root: [String: Any] = {
        guard let url = Bundle.module.url(forResource: "e3nn_blocks", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { fatalError("Fixtures/e3nn_blocks.json missing or unreadable: run tools/e3nn_fixtures.py") }
        return json
    }()

    static func section(_ name: String) -> [String: Any] { root[name] as! [String: Any] }
}

extension Dictionary where Key == String, Value == Any {
    func doubles(_ key: String) -> [Double] { (self[key] as! [Any]).map { ($0 as! NSNumber).doubleValue } }
    func ints(_ key: String) -> [Int] { (self[key] as! [Any]).map { ($0 as! NSNumber).intValue } }
    func int(_ key: String) -> Int { (self[key] as! NSNumber).intValue }
    func double(_ key: String) -> Double { (self[key] as! NSNumber).doubleValue }
}

/// max |a − b|.
func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "size mismatch \(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

func toDouble(_ a: [Float]) -> [Double] { a.map(Double.init) }
func toFloat(_ a: [Double]) -> [Float] { a.map(Float.init) }

/// Σ g·x in Double: the scalar "loss" whose gradient the backward passes are checked on.
func dot(_ g: [Float], _ x: [Float]) -> Double {
    zip(g, x).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central finite differences of `loss` with respect to `x[i]` for a few indices, compared with
/// `analytic[i]`. Float inputs: |numeric − analytic| ≤ tolerance · max(1, max|analytic|).
func checkGradient(_ name: String, x: [Float], analytic: [Float], indices: [Int], step: Float,
                   tolerance: Double, loss: ([Float]) -> Double,
                   file: StaticString = #filePath, line: UInt = #line) {
    let scale = max(1, analytic.reduce(0) { max($0, abs(Double($1))) })
    var worst = 0.0
    for i in indices {
        var xp = x, xm = x
        xp[i] += step; xm[i] -= step
        let h = Double(xp[i]) - Double(xm[i])  // the step actually taken in Float
        let numeric = (loss(xp) - loss(xm)) / h
        worst = max(worst, abs(numeric - Double(analytic[i])))
    }
    XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(name): finite-difference mismatch \(worst) (scale \(scale))",
                             file: file, line: line)
}

/// Evenly spread sample of indices in 0..<count (at most `maximum`).
func sampleIndices(_ count: Int, _ maximum: Int = 24) -> [Int] {
    if count <= maximum { return Array(0..<count) }
    return (0..<maximum).map { $0 * count / maximum }
}

extension RandomSource {
    mutating func unitVector() -> (Double, Double, Double) {
        let v = (normal(), normal(), normal())
        let n = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
        return (v.0 / n, v.1 / n, v.2 / n)
    }
}
