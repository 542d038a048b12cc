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

/// Decodes a NUL-terminated C character buffer as UTF-8.
func decodeCString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
