import CHDF5

/// A numeric type that can be read from or written to an HDF5 dataset.
///
/// `nativeType` is the HDF5 memory type; reads request it and let HDF5 convert from whatever
/// type the file stores (so an int64 dataset reads into `[Int32]`, float64 into `[Float]`).
public protocol HDF5Element {
    static var nativeType: hid_t { get }
}

extension Float: HDF5Element { public static var nativeType: hid_t { chdf5_native_float() } }
extension Double: HDF5Element { public static var nativeType: hid_t { chdf5_native_double() } }
extension Int32: HDF5Element { public static var nativeType: hid_t { chdf5_native_int32() } }
extension Int64: HDF5Element { public static var nativeType: hid_t { chdf5_native_int64() } }

/// The broad class of the values stored in a dataset or attribute.
public enum HDF5ValueClass: Sendable, Equatable {
    case integer, float, string, other
}

/// What is wrong with a numeric (integer or float) type read from a file, or nil. HDF5 1.10
/// does not check the bit layout it decodes from a damaged file: converting values of an
/// integer type whose offset + precision exceed its size, or a float type whose sign,
/// exponent or mantissa lie outside its precision, reads and writes out of bounds inside
/// libhdf5 (garbage values, or a smashed stack). Called before any read that converts.
func numericTypeProblem(_ type: hid_t) -> String? {
    let size = H5Tget_size(type)
    guard size >= 1, size <= 16 else { return "its numeric type has a size of \(size) bytes" }
    let precision = H5Tget_precision(type), offset = H5Tget_offset(type)
    guard precision >= 1, offset >= 0, Int(offset) + precision <= 8 * size else {
        return "its numeric type is damaged: bit offset \(offset) + precision \(precision) outside its \(8 * size) bits"
    }
    guard H5Tget_class(type) == H5T_FLOAT else { return nil }
    var sign = 0, exponent = 0, exponentBits = 0, mantissa = 0, mantissaBits = 0
    guard H5Tget_fields(type, &sign, &exponent, &exponentBits, &mantissa, &mantissaBits) >= 0,
          sign < precision, exponentBits >= 1, exponentBits <= 32, exponent + exponentBits <= precision,
          mantissaBits >= 1, mantissa + mantissaBits <= precision else {
        return "its float type is damaged: sign bit \(sign), exponent \(exponentBits) bits at \(exponent), "
            + "mantissa \(mantissaBits) bits at \(mantissa), in a precision of \(precision) bits"
    }
    return nil
}

/// Decodes a NUL-terminated C character buffer as UTF-8.
func decodeCString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
