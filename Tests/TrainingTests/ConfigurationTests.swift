import EquivariantNet
import Foundation
import Randomness
import Training
import XCTest

/// The enums of the run configuration keep the JSON spellings, and the one SplitMix64 seeds the
/// weights' random source as before.
final class ConfigurationTests: XCTestCase {
    func testPositionsAndScheduleKindKeepTheirJSONSpellings() throws {
        let json = #"{"model": {"positions": "inherent"}, "training": {"schedule": {"kind": "cosine", "minFactor": 0.05}}}"#
        let config = try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))
        XCTAssertEqual(config.model.positions, .inherent)
        XCTAssertEqual(config.training.schedule.kind, .cosine)
        XCTAssertTrue(config.json().contains(#""positions" : "inherent""#), config.json())
        XCTAssertTrue(config.json().contains(#""kind" : "cosine""#), config.json())
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: Data(config.json().utf8)), config)
        XCTAssertEqual(Positions.allCases.map(\.rawValue), ["thermal", "inherent"])
        XCTAssertEqual(LearningRateSchedule.Kind.allCases.map(\.rawValue), ["constant", "cosine", "exponential"])
    }

    func testUnknownSpellingsAreErrorsNamingTheKey() {
        for (json, message) in [(#"{"model": {"positions": "relaxed"}}"#, #"positions must be "thermal" or "inherent" (got "relaxed")"#),
                                (#"{"training": {"schedule": {"kind": "linear"}}}"#,
                                 #"kind must be constant, cosine or exponential (got "linear")"#)] {
            XCTAssertThrowsError(try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
    }

    /// The bundled demo configuration still loads, with the values its file spells.
    func testDemoConfigurationLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try RunConfig.load(path: root.appendingPathComponent("configs/demo.json").path)
        XCTAssertEqual(config.model.positions, .inherent)
        XCTAssertEqual(config.training.schedule.kind, .cosine)
        XCTAssertEqual(config.training.schedule.warmupSteps, 10)
    }

    /// RandomSource's state words are SplitMix64's first four outputs, the published sequence for
    /// seed 1234567 (the same as the former inline seeding).
    func testRandomSourceIsSeededBySplitMix64() {
        let source = RandomSource(seed: 1_234_567)
        XCTAssertEqual([source.state.0, source.state.1, source.state.2, source.state.3],
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423, 4_593_380_528_125_082_431])
        var generator = SplitMix64(seed: 99)
        let again = RandomSource(seed: 99)
        XCTAssertEqual(again.state.0, generator.next())
    }
}
