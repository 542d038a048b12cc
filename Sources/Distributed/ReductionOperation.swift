import CMPI

/// How an all-reduce combines the values that the ranks hold at the same position.
public enum ReductionOperation: String, CaseIterable, Sendable {
    /// The sum over ranks (gradients, loss sums, counts).
    case sum
    /// The largest value over ranks.
    case max
    /// The smallest value over ranks.
    case min

    /// The predefined MPI operation.
    var handle: MPI_Op {
        switch self {
        case .sum: return cmpi_op_sum()
        case .max: return cmpi_op_max()
        case .min: return cmpi_op_min()
        }
    }
}
