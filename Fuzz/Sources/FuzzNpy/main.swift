// libFuzzer target: the .npy parser, `NpyArray(npyData:source:)`, on the raw input bytes.
// A thrown NpyError naming the source is the right answer to a bad input; a crash (trap,
// sanitizer report) or an array whose values do not match its shape is a finding.
import FuzzSupport
import GlassData

runFuzzer { bytes, count in
    let source = "fuzz-input.npy"
    do {
        let array = try NpyArray(npyData: inputData(bytes, count), source: source)
        let stored: Int
        switch array.values {
        case .float(let values): stored = values.count
        case .integer(let values): stored = values.count
        }
        if array.shape.contains(where: { $0 < 0 }) { finding("negative dimension in shape \(array.shape)") }
        if stored != array.count { finding("shape \(array.shape) has \(array.count) elements, \(stored) values read") }
        if array.doubles.count != stored { finding("doubles has \(array.doubles.count) values, \(stored) stored") }
    } catch {
        requireNamed(error, source)
    }
    return 0
}
