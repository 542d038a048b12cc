/// Per-particle features: `rows` particles × `columns` named features, row-major Double.
public struct FeatureMatrix: Sendable {
    public var names: [String]
    public var values: [Double]
    public var columns: Int { names.count }
    public var rows: Int { columns == 0 ? 0 : values.count / columns }

    public init(names: [String], values: [Double]) {
        precondition(names.isEmpty ? values.isEmpty : values.count % names.count == 0,
                     "FeatureMatrix: \(values.count) values is not a multiple of \(names.count) columns")
        self.names = names
        self.values = values
    }

    /// Feature `column` of particle `row`.
    public subscript(row: Int, column: Int) -> Double { values[row * columns + column] }

    /// Column `c` as an array.
    public func column(_ c: Int) -> [Double] { (0..<rows).map { values[$0 * columns + c] } }

    /// The rows listed, in that order.
    public func selecting(rows list: [Int]) -> FeatureMatrix {
        var out: [Double] = []
        out.reserveCapacity(list.count * columns)
        for r in list { out += values[(r * columns)..<((r + 1) * columns)] }
        return FeatureMatrix(names: names, values: out)
    }

    /// The columns listed, in that order.
    public func selecting(columns list: [Int]) -> FeatureMatrix {
        var out: [Double] = []
        out.reserveCapacity(rows * list.count)
        for r in 0..<rows { for c in list { out.append(values[r * columns + c]) } }
        return FeatureMatrix(names: list.map { names[$0] }, values: out)
    }

    /// Appends the rows of `other` (same columns).
    public mutating func append(rows other: FeatureMatrix) {
        precondition(other.names == names || values.isEmpty, "FeatureMatrix: appending rows with other columns")
        if values.isEmpty { names = other.names }
        values += other.values
    }
}
