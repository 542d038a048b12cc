import DistributedTraining
import Foundation
import GlassData

/// The dataset-statistics self-test (`launcher selftest --dataset-statistics FILE`): each rank reads only its own share of the
/// snapshots (`EvaluationShard`, contiguous hyperslabs) and the ranks combine per-snapshot sums
/// with `SnapshotOrderedSum`, as training does for its normalization statistics.
///
/// Rank 0 prints, per species and time, the particle count and the target mean and standard
/// deviation (population), then a hash of the bits of the combined sums: identical at any rank
/// count. A snapshot that cannot be read (a damaged file, NaN coordinates or targets) is an error
/// on the rank that reads it, which ends the whole job with that rank's message.
public struct DatasetStatisticsSelfTest {
    public let path: String
    public let world: Communicator
    /// Where rank 0's lines go.
    public var output: (String) -> Void = { printNow($0) }

    public init(path: String, world: Communicator) {
        self.path = path
        self.world = world
    }

    public func run() throws {
        // Values are checked per snapshot as each rank reads its own; not all on every rank.
        let data = try SnapshotFile(path: path, checkAllValues: false)
        guard data.hasPropensity else {
            throw ValidationFailure("\(path): no propensity targets, nothing to summarise")
        }
        let species = data.attributes.speciesNames.count
        let times = data.timeCount
        // Row of one snapshot: per species, [count, Σ y(t) for each t, Σ y(t)² for each t].
        let perSpecies = 1 + 2 * times
        let shard = EvaluationShard(snapshots: Array(0 ..< data.snapshotCount), rank: world.rank, size: world.size)
        var sums = SnapshotOrderedSum(rowCount: data.snapshotCount, width: species * perSpecies)
        for (offset, k) in shard.snapshots.enumerated() {
            let snapshot = try data.readSnapshot(k)
            var row = [Double](repeating: 0, count: species * perSpecies)
            let propensity = snapshot.propensity!
            for i in 0 ..< snapshot.particleCount {
                let base = Int(snapshot.species[i]) * perSpecies
                row[base] += 1
                for t in 0 ..< times {
                    let y = Double(propensity[i * times + t])
                    row[base + 1 + t] += y
                    row[base + 1 + times + t] += y * y
                }
            }
            sums.set(row: shard.positions.lowerBound + offset, row)
        }
        let total = try sums.reduce(over: world)
        guard world.isRoot else { return }
        output("statistics: \(data.snapshotCount) snapshots over \(world.size) ranks (rank 0 read \(shard.snapshots.count))")
        for s in 0 ..< species {
            let base = s * perSpecies
            let count = total[base]
            for t in 0 ..< times {
                let mean = total[base + 1 + t] / count
                let variance = max(0, total[base + 1 + times + t] / count - mean * mean)
                output("statistics \(data.attributes.speciesNames[s]) t=\(data.times[t]) count \(Int(count)) "
                         + "mean \(mean) std \(variance.squareRoot())")
            }
        }
        output("statistics: sums-hash \(Self.hash(total))")
    }

    /// FNV-1a (64-bit) over the Doubles' bit patterns.
    public static func hash(_ values: [Double]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in values {
            var bits = value.bitPattern
            for _ in 0 ..< 8 {
                hash = (hash ^ (bits & 0xFF)) &* 0x0000_0100_0000_01B3
                bits >>= 8
            }
        }
        return DataParallelSelfTest.hex(hash)
    }
}
