import Foundation

/// A proper rotation of 3D space, as a 3×3 matrix acting on column vectors (x, y, z):
/// `matrix[3 * row + col]`, row-major, det = +1.
public struct Rotation: Sendable {
    public var matrix: [Double]

    public init(matrix: [Double]) {
        precondition(matrix.count == 9)
        self.matrix = matrix
    }

    public static var identity: Rotation { Rotation(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1]) }

    /// The rotation by `angle` (right-handed) about the unit `axis`.
    public init(axis: (Double, Double, Double), angle: Double) {
        let n = (axis.0 * axis.0 + axis.1 * axis.1 + axis.2 * axis.2).squareRoot()
        let (x, y, z) = (axis.0 / n, axis.1 / n, axis.2 / n)
        let c = cos(angle), s = sin(angle), t = 1 - c
        matrix = [t * x * x + c, t * x * y - s * z, t * x * z + s * y,
                  t * x * y + s * z, t * y * y + c, t * y * z - s * x,
                  t * x * z - s * y, t * y * z + s * x, t * z * z + c]
    }

    /// A rotation drawn uniformly (Haar measure) from a normalized Gaussian quaternion.
    public static func random(using rng: inout RandomSource) -> Rotation {
        var q = (rng.normal(), rng.normal(), rng.normal(), rng.normal())
        let n = (q.0 * q.0 + q.1 * q.1 + q.2 * q.2 + q.3 * q.3).squareRoot()
        q = (q.0 / n, q.1 / n, q.2 / n, q.3 / n)
        let (w, x, y, z) = q
        return Rotation(matrix: [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ])
    }

    /// R1 R2: apply R2 first, then R1.
    public static func * (a: Rotation, b: Rotation) -> Rotation {
        var m = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { m[3 * i + j] += a.matrix[3 * i + k] * b.matrix[3 * k + j] } } }
        return Rotation(matrix: m)
    }

    /// R v.
    public func apply(_ v: (Double, Double, Double)) -> (Double, Double, Double) {
        let m = matrix
        return (m[0] * v.0 + m[1] * v.1 + m[2] * v.2,
                m[3] * v.0 + m[4] * v.1 + m[5] * v.2,
                m[6] * v.0 + m[7] * v.1 + m[8] * v.2)
    }

    /// The rotation as `angle · axis` (the axis–angle vector), through the unit quaternion
    /// (Shepperd's method, stable for every angle including π).
    public var axisAngle: (axis: (Double, Double, Double), angle: Double) {
        let m = matrix
        let tr = m[0] + m[4] + m[8]
        var w: Double, x: Double, y: Double, z: Double
        if tr >= m[0] && tr >= m[4] && tr >= m[8] {
            w = (1 + tr).squareRoot() / 2
            x = (m[7] - m[5]) / (4 * w); y = (m[2] - m[6]) / (4 * w); z = (m[3] - m[1]) / (4 * w)
        } else if m[0] >= m[4] && m[0] >= m[8] {
            x = (1 + 2 * m[0] - tr).squareRoot() / 2
            w = (m[7] - m[5]) / (4 * x); y = (m[1] + m[3]) / (4 * x); z = (m[2] + m[6]) / (4 * x)
        } else if m[4] >= m[8] {
            y = (1 + 2 * m[4] - tr).squareRoot() / 2
            w = (m[2] - m[6]) / (4 * y); x = (m[1] + m[3]) / (4 * y); z = (m[5] + m[7]) / (4 * y)
        } else {
            z = (1 + 2 * m[8] - tr).squareRoot() / 2
            w = (m[3] - m[1]) / (4 * z); x = (m[2] + m[6]) / (4 * z); y = (m[5] + m[7]) / (4 * z)
        }
        let s = (x * x + y * y + z * z).squareRoot()
        if s < 1e-300 { return ((0, 0, 1), 0) }
        let angle = 2 * atan2(s, w)
        return ((x / s, y / s, z / s), angle)
    }
}
