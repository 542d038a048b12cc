import CHDF5

/// Groups and datasets carry attributes: small named scalars (Int64, Double, String).
///
/// Reads accept any stored numeric type (HDF5 converts) and both fixed- and variable-length
/// strings (h5py writes `str` as variable-length UTF-8). Writes replace an existing attribute;
/// strings are written fixed-length UTF-8 (h5py reads them as `numpy.bytes_`: `.decode()`).
public protocol HDF5AttributeOwner {
    var objectID: hid_t { get }
    var objectName: String { get }
    var filePath: String { get }
}

extension HDF5AttributeOwner {
    private func error(_ attribute: String, _ operation: String, _ detail: String = "") -> HDF5Error {
        HDF5Error(file: filePath, object: "\(objectName)@\(attribute)", operation: operation, detail: detail)
    }

    /// Whether the attribute `name` exists on this object.
    public func hasAttribute(_ name: String) -> Bool {
        H5Aexists(objectID, name) > 0
    }

    /// Opens attribute `name`, checks it holds exactly one value, and passes it with its file
    /// type to `body`.
    private func withAttribute<R>(_ name: String, _ body: (_ attribute: hid_t, _ type: hid_t) throws -> R) throws -> R {
        guard hasAttribute(name) else { throw error(name, "read attribute", "missing") }
        let attribute = H5Aopen(objectID, name, chdf5_p_default())
        guard attribute >= 0 else { throw error(name, "open attribute") }
        defer { H5Aclose(attribute) }
        let space = H5Aget_space(attribute)
        defer { if space >= 0 { H5Sclose(space) } }
        guard space >= 0, H5Sget_simple_extent_npoints(space) == 1 else {
            throw error(name, "read attribute", "not a single value")
        }
        let type = H5Aget_type(attribute)
        guard type >= 0 else { throw error(name, "read attribute type") }
        defer { H5Tclose(type) }
        return try body(attribute, type)
    }

    private func readNumber<T: HDF5Element>(_ name: String, _ zero: T) throws -> T {
        try withAttribute(name) { attribute, type in
            let valueClass = HDF5ValueClass(typeClassOf: type)
            guard valueClass == .integer || valueClass == .float else {
                throw error(name, "read attribute", "not a number")
            }
            if let problem = numericTypeProblem(type) { throw error(name, "read attribute", problem) }
            var value = zero
            let status = withUnsafeMutablePointer(to: &value) { H5Aread(attribute, T.nativeType, $0) }
            guard status >= 0 else { throw error(name, "read attribute") }
            return value
        }
    }

    /// Reads a numeric attribute as Int64.
    public func readInt64Attribute(_ name: String) throws -> Int64 { try readNumber(name, Int64(0)) }

    /// Reads a numeric attribute as Double.
    public func readDoubleAttribute(_ name: String) throws -> Double { try readNumber(name, 0.0) }

    /// Reads a string attribute (fixed or variable length).
    public func readStringAttribute(_ name: String) throws -> String {
        try withAttribute(name) { attribute, type in
            guard H5Tget_class(type) == H5T_STRING else { throw error(name, "read attribute", "not a string") }
            let memoryType = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(memoryType) }
            H5Tset_cset(memoryType, H5Tget_cset(type))
            if H5Tis_variable_str(type) > 0 {
                H5Tset_size(memoryType, chdf5_t_variable())
                var pointer: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(attribute, memoryType, &pointer) >= 0 else { throw error(name, "read attribute") }
                defer { if pointer != nil { H5free_memory(pointer) } }
                return pointer.map { String(cString: $0) } ?? ""
            }
            let size = H5Tget_size(type)
            guard size > 0, size < 1 << 30 else { throw error(name, "read attribute", "bad string size") }
            H5Tset_size(memoryType, size)
            H5Tset_strpad(memoryType, H5T_STR_NULLTERM)
            var buffer = [CChar](repeating: 0, count: size + 1)
            H5Tset_size(memoryType, size + 1)
            guard H5Aread(attribute, memoryType, &buffer) >= 0 else { throw error(name, "read attribute") }
            buffer[size] = 0
            return decodeCString(buffer)
        }
    }

    /// Creates (replacing any existing) a scalar attribute of `fileType` and writes `value`.
    private func writeScalar(_ name: String, fileType: hid_t, memoryType: hid_t, _ value: UnsafeRawPointer) throws {
        if hasAttribute(name), H5Adelete(objectID, name) < 0 {
            throw error(name, "replace attribute")
        }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(objectID, name, fileType, space, chdf5_p_default(), chdf5_p_default())
        guard attribute >= 0 else { throw error(name, "create attribute") }
        defer { H5Aclose(attribute) }
        guard H5Awrite(attribute, memoryType, value) >= 0 else { throw error(name, "write attribute") }
    }

    /// Writes an Int64 attribute.
    public func writeAttribute(_ name: String, _ value: Int64) throws {
        var value = value
        try writeScalar(name, fileType: chdf5_native_int64(), memoryType: chdf5_native_int64(), &value)
    }

    /// Writes a Double attribute.
    public func writeAttribute(_ name: String, _ value: Double) throws {
        var value = value
        try writeScalar(name, fileType: chdf5_native_double(), memoryType: chdf5_native_double(), &value)
    }

    /// Writes a String attribute: fixed-length UTF-8 (NUL-padded), stored inside the object
    /// header. Not variable-length: those live in HDF5's global heap, which has no checksum, and
    /// HDF5 1.10 can crash (not just fail) reading a corrupted one.
    public func writeAttribute(_ name: String, _ value: String) throws {
        let bytes = Array(value.utf8)
        let type = H5Tcopy(chdf5_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, max(1, bytes.count))
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        H5Tset_cset(type, H5T_CSET_UTF8)
        var buffer = bytes.isEmpty ? [UInt8(0)] : bytes
        try writeScalar(name, fileType: type, memoryType: type, &buffer)
    }
}
