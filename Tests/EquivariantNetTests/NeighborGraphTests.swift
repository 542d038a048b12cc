import XCTest
@testable import EquivariantNet

/// The cell-list neighbor graph against an O(N²) minimum-image brute force.
final class NeighborGraphTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    /// All directed edges (i, j, r_ij) with 0 < |r_ij| < r_c, by checking every pair.
    func bruteForce(_ positions: [Double], _ box: [Double], _ cutoff: Double) -> [(i: Int, j: Int, r: [Double])] {
        let n = positions.count / 3
        var edges: [(i: Int, j: Int, r: [Double])] = []
        for i in 0..<n {
            for j in 0..<n where j != i {
                var r = [0.0, 0, 0]
                for a in 0..<3 {
                    var d = positions[3 * j + a] - positions[3 * i + a]
                    d -= box[a] * (d / box[a]).rounded()
                    r[a] = d
                }
                let r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
                if r2 > 0, r2 < cutoff * cutoff { edges.append((i, j, r)) }
            }
        }
        return edges
    }

    func randomConfiguration(_ n: Int, _ box: [Double], _ rng: inout Rng, spread: Double = 1) -> [Double] {
        // spread > 1 puts particles outside the box too (other periodic images).
        (0..<(3 * n)).map { index in (rng.next() * spread - (spread - 1) / 2) * box[index % 3] }
    }

    func assertMatchesBruteForce(_ positions: [Double], _ box: [Double], _ cutoff: Double,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let graph = try NeighborGraph(positions: positions, box: box, cutoff: cutoff)
        let expected = bruteForce(positions, box, cutoff)  // ordered by i, then j
        XCTAssertEqual(graph.edgeCount, expected.count, "edge count, box \(box)", file: file, line: line)
        guard graph.edgeCount == expected.count else { return }
        XCTAssertEqual(graph.receiverOffsets.count, positions.count / 3 + 1, file: file, line: line)
        for (e, edge) in expected.enumerated() {
            XCTAssertEqual(graph.receivers[e], edge.i, file: file, line: line)
            XCTAssertEqual(graph.senders[e], edge.j, file: file, line: line)
            for a in 0..<3 { XCTAssertEqual(Double(graph.edgeVectors[3 * e + a]), edge.r[a], accuracy: 1e-5, file: file, line: line) }
            let length = (edge.r[0] * edge.r[0] + edge.r[1] * edge.r[1] + edge.r[2] * edge.r[2]).squareRoot()
            XCTAssertEqual(Double(graph.distances[e]), length, accuracy: 1e-5, file: file, line: line)
        }
        for i in 0..<(positions.count / 3) {
            let range = graph.receiverOffsets[i] ..< graph.receiverOffsets[i + 1]
            XCTAssertTrue(graph.receivers[range].allSatisfy { $0 == i }, file: file, line: line)
        }
    }

    func testMatchesBruteForceOnRandomBoxes() throws {
        var rng = Rng(state: 42)
        let cutoff = 2.0
        let boxes: [[Double]] = [
            [9.4, 9.4, 9.4],        // KA N = 1000 at density 1.2
            [4.01, 4.01, 4.01],     // just above 2 r_c: 2 cells per axis
            [4.0, 4.0, 4.0],        // exactly 2 r_c
            [4.3, 7.1, 12.9],       // non-cubic
            [6.2, 4.05, 5.99],      // 3, 2, 2 cells
        ]
        for box in boxes {
            let volume = box[0] * box[1] * box[2]
            let n = Int(1.2 * volume)
            try assertMatchesBruteForce(randomConfiguration(n, box, &rng), box, cutoff)
            try assertMatchesBruteForce(randomConfiguration(n, box, &rng, spread: 3), box, cutoff)
        }
        // Other cutoffs, including a box holding many cells per axis.
        try assertMatchesBruteForce(randomConfiguration(300, [11, 8, 9.5], &rng), [11, 8, 9.5], 1.3)
        try assertMatchesBruteForce(randomConfiguration(50, [3.3, 3.3, 3.3], &rng), [3.3, 3.3, 3.3], 1.6)
    }

    func testTranslationInvariance() throws {
        var rng = Rng(state: 7)
        let box = [7.3, 6.1, 8.2]
        let positions = randomConfiguration(400, box, &rng)
        let graph = try NeighborGraph(positions: positions, box: box, cutoff: 2.0)
        for _ in 0..<3 {
            let shift = [rng.next() * 30 - 15, rng.next() * 30 - 15, rng.next() * 30 - 15]
            let moved = positions.enumerated().map { $0.element + shift[$0.offset % 3] }
            let other = try NeighborGraph(positions: moved, box: box, cutoff: 2.0)
            // Pairs at |r| ≈ r_c can flip under rounding; none lie that close in this sample.
            XCTAssertEqual(other.senders, graph.senders)
            XCTAssertEqual(other.receiverOffsets, graph.receiverOffsets)
            for e in 0..<graph.edgeVectors.count {
                XCTAssertEqual(other.edgeVectors[e], graph.edgeVectors[e], accuracy: 1e-4)
            }
        }
        XCTAssertGreaterThan(graph.edgeCount, 0)
        XCTAssertEqual(graph.edgeCount % 2, 0)  // every pair in both directions
    }

    func testAnalyticSmallCase() throws {
        // Two particles 1.5 apart across the periodic boundary, a third far away.
        let graph = try NeighborGraph(positions: [0.25, 1, 1, 8.75, 1, 1, 5, 5, 5], box: [10, 10, 10], cutoff: 2)
        XCTAssertEqual(graph.receiverOffsets, [0, 1, 2, 2])
        XCTAssertEqual(graph.senders, [1, 0])
        XCTAssertEqual(graph.edgeVectors, [-1.5, 0, 0, 1.5, 0, 0])
        XCTAssertEqual(graph.distances, [1.5, 1.5])
        XCTAssertEqual(graph.meanNeighborCount, 2.0 / 3.0, accuracy: 1e-12)
    }

    func testErrors() {
        func message(_ body: () throws -> NeighborGraph) -> String {
            do { _ = try body(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0, 0], box: [3.9, 5, 5], cutoff: 2) }
            .contains("box edge Lx = 3.9 is shorter than 2 r_c = 4.0"))
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0, 0, 1, .nan, 1], box: [5, 5, 5], cutoff: 2) }
            .contains("particle 1 has a non-finite coordinate nan (component 1)"))
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0, .infinity], box: [5, 5, 5], cutoff: 2) }
            .contains("particle 0"))
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0], box: [5, 5, 5], cutoff: 2) }.contains("3 values per particle"))
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0, 0], box: [5, -5, 5], cutoff: 2) }.contains("finite positive"))
        XCTAssertTrue(message { try NeighborGraph(positions: [0, 0, 0], box: [5, 5, 5], cutoff: 0) }.contains("cutoff"))
        // A huge box is fine (cells are capped), and gives no edges.
        XCTAssertEqual(try NeighborGraph(positions: [0, 0, 0, 1e200, 0, 0], box: [1e300, 1e300, 1e300], cutoff: 2).edgeCount, 0)
    }
}
