/// The training loss: squared error between predicted and true standardized propensities,
/// summed over the selected particles (by default species A) and all times, divided by the
/// GLOBAL count of terms in the batch (every rank's selected particles × times). Each rank adds
/// its own snapshots' terms; the sum over ranks is the batch mean, and the gradient does not depend
/// on how the batch is split.
public enum PropensityLoss {
    /// Number of loss terms of one snapshot: selected particles × times.
    public static func termCount(species: [Int32], trainSpecies: [Int], times: Int) -> Int {
        species.reduce(0) { $0 + (trainSpecies.contains(Int($1)) ? 1 : 0) } * times
    }

    /// Returns Σ (pred − target)² / globalCount over the selected particles of one snapshot and
    /// writes ∂loss/∂pred (zero for particles not selected).
    ///
    /// - predictions, targets, gradient: `[N][T]`, standardized units.
    public static func evaluate(predictions: UnsafePointer<Float>, targets: UnsafePointer<Float>,
                                species: [Int32], trainSpecies: [Int], times: Int, globalCount: Int,
                                gradient: UnsafeMutablePointer<Float>) -> Double {
        precondition(globalCount > 0, "PropensityLoss: the global count of terms is zero")
        let scale = 1 / Double(globalCount)
        let gscale = Float(2 * scale)
        var selected = [Bool](repeating: false, count: 64)
        for s in trainSpecies where s >= 0 && s < 64 { selected[s] = true }
        var sum = 0.0
        for i in 0..<species.count {
            let s = Int(species[i])
            let on = s >= 0 && s < 64 && selected[s]
            for t in 0..<times {
                let k = i * times + t
                if on {
                    let d = predictions[k] - targets[k]
                    sum += Double(d) * Double(d)
                    gradient[k] = gscale * d
                } else {
                    gradient[k] = 0
                }
            }
        }
        return sum * scale
    }
}
