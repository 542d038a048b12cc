/// Which snapshots each optimiser step uses, on which rank: functions of (seed, epoch, rank, size)
/// alone, so that every rank agrees without communicating and a resumed run continues the same
/// sequence.

/// The order of the training snapshots in `epoch`: a permutation drawn from (seed, epoch) alone,
/// the same on every rank and after a resume.
public func epochOrder(seed: UInt64, epoch: Int, count: Int) -> [Int] {
    var rng = RandomSource(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 1)
    var order = Array(0..<count)
    if count > 1 {
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
    }
    return order
}

/// The snapshots of `batch` this rank handles: a contiguous slice, sizes differing by at most one.
public func rankSlice(_ batch: ArraySlice<Int>, rank: Int, size: Int) -> ArraySlice<Int> {
    let n = batch.count
    let lo = batch.startIndex + rank * n / size, hi = batch.startIndex + (rank + 1) * n / size
    return batch[lo..<hi]
}
