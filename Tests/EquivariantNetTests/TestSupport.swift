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

    /// The text of number `key` in section `name` as the fixture file spells it (for an exact
    /// parse; JSONSerialization may round the last bit).
    static func numberText(section name: String, key: String) -> String? {
        guard let url = Bundle.module.url(forResource: "e3nn_blocks", withExtension: "json", subdirectory: "Fixtures"),
              let text = try? String(contentsOf: url, encoding: .utf8),
              let sectionStart = text.range(of: "\"\(name)\": {") else { return nil }
        let rest = text[sectionStart.upperBound...]
        guard let keyRange = rest.range(of: "\"\(key)\": ") else { return nil }
        return String(rest[keyRange.upperBound...].prefix { "0123456789.eE+-".contains($0) })
    }
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

/// A KA-like test snapshot: a jittered simple-cubic lattice at number density `density` (no two
/// particles very close), 80 % species A; positions `[N][3]` in [0, L).
func latticeSnapshot(cells: Int, density: Double, seed: UInt64, jitter: Double = 0.25)
    -> (positions: [Double], box: Double, species: [Int32]) {
    var rng = RandomSource(seed: seed)
    let n = cells * cells * cells
    let l = pow(Double(n) / density, 1.0 / 3.0)
    let a = l / Double(cells)
    var positions: [Double] = [], species: [Int32] = []
    for i in 0..<cells { for j in 0..<cells { for k in 0..<cells {
        for g in [i, j, k] {
            var x = (Double(g) + 0.5 + jitter * (2 * rng.uniform() - 1)) * a
            x -= l * (x / l).rounded(.down)
            positions.append(x)
        }
        species.append(rng.uniform() < 0.8 ? 0 : 1)
    } } }
    return (positions, l, species)
}

/// A small but complete configuration (every l up to 3, every block present) for fast tests.
func smallConfig(residual: Bool = false, extraScalars: [String] = []) -> ModelConfig {
    var c = ModelConfig()
    c.channels = 3
    c.layers = 3
    c.radialHidden = [6]
    c.decoderHidden = [5]
    c.times = [1, 2]
    c.residual = residual
    c.extraScalars = extraScalars
    return c
}

/// A little-endian Float32 fixture file (parameters.f32, gradient.f32 of tools/e3nn_model.py).
func fixtureFloats(_ url: URL) throws -> [Float] {
    let raw = try Data(contentsOf: url)
    return raw.withUnsafeBytes { b in
        (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
    }
}
