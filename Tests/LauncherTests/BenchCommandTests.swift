import Foundation
import XCTest

/// `launcher bench --json` on a small generated snapshot: the JSON shape of issue 7, the FLOP
/// count against the formula of docs/benchmarks.md worked out here by hand, and bitwise equal
/// predictions for the thread counts it runs.
final class BenchCommandTests: XCTestCase {
    func testJSONShapeFlopCountAndThreadIndependence() throws {
        let launcher = try LauncherProcess.launcherPath()
        let r = try LauncherProcess.run([launcher, "bench", "--json", "--particles", "80", "--repeats", "1"], timeout: 600)
        XCTAssertEqual(r.status, 0, r.standardError)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["config", "results"])
        let config = try XCTUnwrap(object["config"] as? [String: Any])
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertFalse(results.isEmpty)
        XCTAssertEqual(config["parameters"] as? Int, 42704)
        XCTAssertEqual(config["predictions_identical_across_threads"] as? Bool, true)

        let keys: Set<String> = ["particles", "edges", "threads", "train_step_ms", "forward_ms", "gflops",
                                 "gflops_executed", "peak_rss_mb", "allreduce_ms"]
        for result in results {
            XCTAssertEqual(Set(result.keys), keys)
            XCTAssertEqual(result["particles"] as? Int, 80)
            let e = try XCTUnwrap(result["edges"] as? Int)
            XCTAssertGreaterThan(e, 80 * 20)  // ~39 neighbors per particle at density 1.2, r_c = 2
            let step = try XCTUnwrap(result["train_step_ms"] as? Double)
            XCTAssertGreaterThan(step, 0)
            XCTAssertGreaterThan(try XCTUnwrap(result["peak_rss_mb"] as? Double), 1)

            // The default network's FLOP count for N = 80 and this E, by the documented formula;
            // executed: the radial MLPs on E/2 pair rows (every edge of the generated snapshot has
            // its reverse), the last layer's 4 l = 0 paths (16 couplings) only.
            func count(radialRows: Double, lastCouplings: Double, lastPaths: Double) -> Double {
                let (n, edges, c) = (80.0, Double(e), 8.0)
                let couplings = 16.0 + 6 * 611 + lastCouplings  // layer 0 (scalar input), 7 layers with l ≤ 3 input
                var forward = 2 * couplings * c * edges, backward = 4 * couplings * c * edges
                for paths in [4.0] + Array(repeating: 34.0, count: 6) + [lastPaths] {  // radial MLP 8 → 16 → 16 → paths·C
                    let products = [8 * 16, 16 * 16, 16 * paths * c].map { 2 * radialRows * $0 }
                    forward += products.reduce(0, +)
                    backward += 2 * products.reduce(0, +) - products[0]
                }
                // Linears: layer 0's self map 8 scalars → 32; every other map 8+8·3+8·5+8·7 → 32+8·3+8·5+8·7.
                let full = 2 * n * (8 * 32 + 3 * 64 + 5 * 64 + 7 * 64), scalarOnly = 2 * n * 8 * 32
                forward += scalarOnly + 15 * full
                backward += 2 * (scalarOnly + 15 * full)
                forward += 2 * n * 2 * 8; backward += 2 * n * 2 * 8  // embedding
                let decoder = [8 * 32, 32 * 32, 32 * 12].map { 2 * n * $0 }  // 8 → 32 → 32 → 2·6
                forward += decoder.reduce(0, +)
                backward += 2 * decoder.reduce(0, +) - decoder[0]
                return (forward + backward) / 1e9
            }
            let gflop = count(radialRows: Double(e), lastCouplings: 611, lastPaths: 34)
            let executed = count(radialRows: Double(e) / 2, lastCouplings: 16, lastPaths: 4)
            let stated = try XCTUnwrap((config["gflop_per_train_step"] as? [String: Any])?["80"] as? Double)
            XCTAssertEqual(stated, gflop, accuracy: 0.0011)  // printed with 3 decimals
            let statedExecuted = try XCTUnwrap((config["gflop_executed_per_train_step"] as? [String: Any])?["80"] as? Double)
            XCTAssertEqual(statedExecuted, executed, accuracy: 0.0011)
            let rate = try XCTUnwrap(result["gflops"] as? Double)
            XCTAssertEqual(rate, gflop / (step / 1e3), accuracy: 0.01 + 0.01 * rate)
            let executedRate = try XCTUnwrap(result["gflops_executed"] as? Double)
            XCTAssertEqual(executedRate, executed / (step / 1e3), accuracy: 0.01 + 0.01 * executedRate)
        }
    }
}
