import CHDF5

/// An n-dimensional HDF5 dataset. Values are exchanged as flat row-major Swift arrays.
public final class HDF5Dataset: HDF5AttributeOwner {
    public let file: HDF5File
    /// Full path of the dataset inside the file, e.g. "/positions".
    public let name: String
    /// Extent of every dimension, e.g. [Ntot, 3].
    public let shape: [Int]
    /// Integer, float, string or other, as stored in the file.
    public let valueClass: HDF5ValueClass
    let id: hid_t

    /// Largest single read accepted, in bytes: a corrupted shape must give an error, not an
    /// attempt to allocate terabytes.
    public static let maxReadBytes = 16 << 30

    init(file: HDF5File, id: hid_t, name: String) throws {
        self.file = file
        self.id = id
        self.name = name
        let space = H5Dget_space(id)
        defer { if space >= 0 { H5Sclose(space) } }
        let rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1
        guard rank >= 0 else {
            H5Dclose(id)
            throw HDF5Error(file: file.path, object: name, operation: "read shape")
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        shape = dims.map { Int(clamping: $0) }
        let type = H5Dget_type(id)
        defer { if type >= 0 { H5Tclose(type) } }
        valueClass = HDF5ValueClass(typeClassOf: type)
        typeProblem = valueClass == .integer || valueClass == .float ? numericTypeProblem(type) : nil
    }

    /// What is wrong with the stored numeric type (see `numericTypeProblem`), or nil.
    private let typeProblem: String?

    deinit { H5Dclose(id) }

    public var objectID: hid_t { id }
    public var objectName: String { name }
    public var filePath: String { file.path }

    /// Number of elements in the whole dataset (product of the shape; Int.max if that
    /// overflows, which only a corrupted file produces and the read-size check then rejects).
    public var elementCount: Int { saturatingProduct(shape) }

    /// Elements per row: product of all dimensions after the first (1 for a 1-d dataset).
    public var rowWidth: Int { saturatingProduct(shape.dropFirst()) }

    private func error(_ operation: String, _ detail: String = "") -> HDF5Error {
        HDF5Error(file: file.path, object: name, operation: operation, detail: detail)
    }

    private func checkNumeric(_ operation: String) throws {
        guard valueClass == .integer || valueClass == .float else {
            throw error(operation, "dataset does not hold numbers")
        }
        if let typeProblem { throw error(operation, typeProblem) }
    }

    private func checkReadSize<T>(_ count: Int, _: T.Type) throws {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, bytes <= HDF5Dataset.maxReadBytes else {
            throw error("read", "\(count) elements is more than the \(HDF5Dataset.maxReadBytes) byte limit")
        }
    }

    /// Whether `checkStored` found every value stored (then it stays so: writes only add).
    private var fullyStored = false

    /// Checks, before any memory is allocated for a read, that the file holds the dataset's
    /// values. HDF5 reads storage that was never written (a dataset only created, or chunks
    /// missing) as fill values without an error, so a file of a few kilobytes that declares a
    /// dataset of 2^31 rows would otherwise have the reader allocate and fill gigabytes.
    /// Contiguous storage must be allocated at its full size, and a chunked dataset must have
    /// every chunk (counted: HDF5 1.10's H5Dget_space_status calls a compressed dataset
    /// "partly allocated"). Compact datasets hold their values in their header.
    private func checkStored(_ operation: String) throws {
        guard !fullyStored, elementCount > 0 else { return }
        let plist = H5Dget_create_plist(id)
        guard plist >= 0 else { throw error(operation, "cannot read its storage properties") }
        defer { H5Pclose(plist) }
        switch H5Pget_layout(plist) {
        case H5D_CONTIGUOUS:
            let type = H5Dget_type(id)
            guard type >= 0 else { throw error(operation, "cannot read its type") }
            let elementSize = H5Tget_size(type)
            H5Tclose(type)
            let stored = H5Dget_storage_size(id)
            let (needed, overflow) = UInt64(elementCount).multipliedReportingOverflow(by: UInt64(elementSize))
            guard stored > 0 else { throw error(operation, "the data of shape \(shape) was never written: the file does not hold its values") }
            guard !overflow, stored >= needed else {
                throw error(operation, "its storage holds \(stored) bytes, its shape \(shape) needs \(overflow ? "more than 2^64" : "\(needed)")")
            }
        case H5D_CHUNKED:
            var chunk = [hsize_t](repeating: 0, count: shape.count)
            guard H5Pget_chunk(plist, Int32(shape.count), &chunk) == Int32(shape.count), !chunk.contains(0) else {
                throw error(operation, "cannot read its chunk shape")
            }
            var chunks: UInt64 = 1
            for (extent, edge) in zip(shape, chunk) {
                let (product, overflow) = chunks.multipliedReportingOverflow(by: (UInt64(extent) + edge - 1) / edge)
                guard !overflow else { throw error(operation, "its shape \(shape) in chunks of \(chunk) is too many chunks") }
                chunks = product
            }
            var written: hsize_t = 0
            let space = H5Dget_space(id)  // all selected: every chunk counts
            defer { if space >= 0 { H5Sclose(space) } }
            guard space >= 0, H5Dget_num_chunks(id, space, &written) >= 0 else {
                throw error(operation, "cannot count its stored chunks")
            }
            guard written >= chunks else {
                let what = written == 0 ? "never written" : "only partly written (\(written) of its \(chunks) chunks)"
                throw error(operation, "the data of shape \(shape) was \(what): the file does not hold its values")
            }
        default:
            break
        }
        fullyStored = true
    }

    /// Reads the whole dataset, converted by HDF5 to `T`.
    public func read<T: HDF5Element>(as _: T.Type = T.self) throws -> [T] {
        try checkNumeric("read")
        let count = elementCount
        try checkReadSize(count, T.self)
        if count == 0 { return [] }
        try checkStored("read")
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let status = H5Dread(id, T.nativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(),
                                 buffer.baseAddress)
            guard status >= 0 else { throw error("read") }
            initialized = count
        }
    }

    /// Selects rows `rows` (all trailing dimensions) in a copy of the file dataspace, and
    /// makes the matching memory dataspace. Caller closes both.
    private func selectRows(_ rows: Range<Int>, operation: String) throws -> (file: hid_t, memory: hid_t) {
        guard !shape.isEmpty else { throw error(operation, "scalar dataset has no rows") }
        guard rows.lowerBound >= 0, rows.upperBound <= shape[0] else {
            throw error(operation, "rows \(rows) outside 0..<\(shape[0])")
        }
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(rows.lowerBound)
        var count = shape.map { hsize_t($0) }
        count[0] = hsize_t(rows.count)
        let fileSpace = H5Dget_space(id)
        guard fileSpace >= 0,
              H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil) >= 0 else {
            if fileSpace >= 0 { H5Sclose(fileSpace) }
            throw error(operation, "cannot select rows \(rows)")
        }
        let memorySpace = H5Screate_simple(Int32(count.count), &count, nil)
        return (fileSpace, memorySpace)
    }

    /// Reads rows `rows` of the first dimension (a hyperslab with all trailing dimensions):
    /// `rows.count * rowWidth` values.
    public func readRows<T: HDF5Element>(_ rows: Range<Int>, as _: T.Type = T.self) throws -> [T] {
        try checkNumeric("read rows \(rows)")
        let count = saturatingProduct([rows.count, rowWidth])
        try checkReadSize(count, T.self)
        let spaces = try selectRows(rows, operation: "read rows \(rows)")
        defer { H5Sclose(spaces.file); H5Sclose(spaces.memory) }
        if count == 0 { return [] }
        try checkStored("read rows \(rows)")
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let status = H5Dread(id, T.nativeType, spaces.memory, spaces.file, chdf5_p_default(),
                                 buffer.baseAddress)
            guard status >= 0 else { throw error("read rows \(rows)") }
            initialized = count
        }
    }

    /// Writes the whole dataset from `values` (row-major, exactly `elementCount` values).
    public func write<T: HDF5Element>(_ values: [T]) throws {
        guard values.count == elementCount else {
            throw error("write", "\(values.count) values for shape \(shape)")
        }
        if values.isEmpty { return }
        let status = values.withUnsafeBufferPointer {
            H5Dwrite(id, T.nativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw error("write") }
    }

    /// Writes rows starting at `firstRow` from `values` (`values.count` must be a whole number
    /// of rows).
    public func writeRows<T: HDF5Element>(_ values: [T], at firstRow: Int) throws {
        let width = rowWidth
        guard width > 0 || values.isEmpty, width == 0 || values.count % width == 0 else {
            throw error("write rows", "\(values.count) values is not a whole number of rows of \(width)")
        }
        let rowCount = width == 0 ? 0 : values.count / width
        let rows = firstRow..<(firstRow + rowCount)
        let spaces = try selectRows(rows, operation: "write rows \(rows)")
        defer { H5Sclose(spaces.file); H5Sclose(spaces.memory) }
        if values.isEmpty { return }
        let status = values.withUnsafeBufferPointer {
            H5Dwrite(id, T.nativeType, spaces.memory, spaces.file, chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else { throw error("write rows \(rows)") }
    }
}

extension HDF5ValueClass {
    init(typeClassOf type: hid_t) {
        guard type >= 0 else { self = .other; return }
        switch H5Tget_class(type) {
        case H5T_INTEGER: self = .integer
        case H5T_FLOAT: self = .float
        case H5T_STRING: self = .string
        default: self = .other
        }
    }
}

/// Product of non-negative sizes, Int.max on overflow.
func saturatingProduct<C: Collection>(_ sizes: C) -> Int where C.Element == Int {
    var product = 1
    for size in sizes {
        let (next, overflow) = product.multipliedReportingOverflow(by: size)
        if overflow { return Int.max }
        product = next
    }
    return product
}
