import CHDF5
import Foundation

/// An open HDF5 file. Closed when the last reference (including its groups and datasets) goes.
///
/// The root group's operations (datasets, subgroups, attributes) are on `root`.
public final class HDF5File {
    public enum Mode: Sendable { case readOnly, readWrite }

    /// Path given at open/create; used in every error message.
    public let path: String
    let id: hid_t

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit { H5Fclose(id) }

    /// Opens an existing file. A missing, truncated or non-HDF5 file is an `HDF5Error`.
    public convenience init(path: String, mode: Mode = .readOnly) throws {
        chdf5_silence_errors()
        guard FileManager.default.fileExists(atPath: path) else {
            throw HDF5Error(file: path, object: "/", operation: "open", detail: "no such file")
        }
        let isHDF5 = H5Fis_hdf5(path)
        if isHDF5 == 0 {
            throw HDF5Error(file: path, object: "/", operation: "open", detail: "not an HDF5 file")
        }
        let flags = mode == .readOnly ? chdf5_acc_rdonly() : chdf5_acc_rdwr()
        let id = H5Fopen(path, flags, chdf5_p_default())
        guard id >= 0 else {
            throw HDF5Error(file: path, object: "/", operation: "open",
                            detail: "damaged, truncated or unreadable HDF5 file")
        }
        self.init(path: path, id: id)
    }

    /// Creates a file, truncating any existing one. Metadata is written in the HDF5 1.8+ format,
    /// whose object headers carry checksums (corruption is then detected rather than misread).
    public static func create(path: String) throws -> HDF5File {
        chdf5_silence_errors()
        let fapl = H5Pcreate(chdf5_p_file_access())
        defer { H5Pclose(fapl) }
        H5Pset_libver_bounds(fapl, chdf5_libver_v18(), chdf5_libver_latest())
        let id = H5Fcreate(path, chdf5_acc_trunc(), chdf5_p_default(), fapl)
        guard id >= 0 else {
            throw HDF5Error(file: path, object: "/", operation: "create file",
                            detail: "missing directory, no permission, or the file is open in this process")
        }
        return HDF5File(path: path, id: id)
    }

    /// The root group "/".
    public var root: HDF5Group { HDF5Group(file: self, id: H5Gopen2(id, "/", chdf5_p_default()), name: "/") }

    /// Writes buffered data to disk.
    public func flush() throws {
        if H5Fflush(id, H5F_SCOPE_LOCAL) < 0 {
            throw HDF5Error(file: path, object: "/", operation: "flush")
        }
    }
}

/// An HDF5 group: holds datasets, subgroups and attributes.
public final class HDF5Group: HDF5AttributeOwner {
    public let file: HDF5File
    /// Full path of the group inside the file, e.g. "/" or "/scalars".
    public let name: String
    let id: hid_t

    init(file: HDF5File, id: hid_t, name: String) {
        self.file = file
        self.id = id
        self.name = name
    }

    deinit { if id >= 0 { H5Gclose(id) } }

    public var objectID: hid_t { id }
    public var objectName: String { name }
    public var filePath: String { file.path }

    func childName(_ child: String) -> String { name == "/" ? "/" + child : name + "/" + child }

    /// Whether a link `name` (a dataset or a group; may be a path "a/b") exists in this group.
    public func contains(_ child: String) -> Bool {
        var prefix = ""
        for component in child.split(separator: "/") {
            prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
            if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
        }
        return !prefix.isEmpty
    }

    /// Whether `child` exists and is a dataset.
    public func containsDataset(_ child: String) -> Bool {
        guard contains(child) else { return false }
        let dataset = H5Dopen2(id, child, chdf5_p_default())
        if dataset < 0 { return false }
        H5Dclose(dataset)
        return true
    }

    /// Whether `child` exists and is a group.
    public func containsGroup(_ child: String) -> Bool {
        guard contains(child) else { return false }
        let group = H5Gopen2(id, child, chdf5_p_default())
        if group < 0 { return false }
        H5Gclose(group)
        return true
    }

    /// Names of the links (datasets and groups) directly in this group, in name order.
    public func childNames() throws -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(id, &info) >= 0 else {
            throw HDF5Error(file: file.path, object: name, operation: "list group")
        }
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                                            chdf5_p_default())
            guard length >= 0 else {
                throw HDF5Error(file: file.path, object: name, operation: "list group",
                                detail: "link \(index)")
            }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count,
                               chdf5_p_default())
            names.append(decodeCString(buffer))
        }
        return names
    }

    /// Opens the subgroup `child`.
    public func group(_ child: String) throws -> HDF5Group {
        guard containsGroup(child) else {
            throw HDF5Error(file: file.path, object: childName(child), operation: "open group",
                            detail: "no such group")
        }
        let gid = H5Gopen2(id, child, chdf5_p_default())
        guard gid >= 0 else {
            throw HDF5Error(file: file.path, object: childName(child), operation: "open group")
        }
        return HDF5Group(file: file, id: gid, name: childName(child))
    }

    /// Creates the subgroup `child`.
    public func createGroup(_ child: String) throws -> HDF5Group {
        let gid = H5Gcreate2(id, child, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard gid >= 0 else {
            throw HDF5Error(file: file.path, object: childName(child), operation: "create group")
        }
        return HDF5Group(file: file, id: gid, name: childName(child))
    }

    /// Opens the dataset `child` (a name or a path such as "scalars/epot").
    public func dataset(_ child: String) throws -> HDF5Dataset {
        guard contains(child) else {
            throw HDF5Error(file: file.path, object: childName(child), operation: "open dataset",
                            detail: "no such dataset")
        }
        let did = H5Dopen2(id, child, chdf5_p_default())
        guard did >= 0 else {
            throw HDF5Error(file: file.path, object: childName(child), operation: "open dataset",
                            detail: "not a readable dataset")
        }
        return try HDF5Dataset(file: file, id: did, name: childName(child))
    }

    /// Creates an n-d dataset of `type` with `shape`. With `chunkRows`, the data is stored in
    /// chunks of that many rows (whole trailing dimensions), gzip-compressed at `gzipLevel`.
    public func createDataset(_ child: String, of type: HDF5Element.Type, shape: [Int],
                              chunkRows: Int? = nil, gzipLevel: Int = 4) throws -> HDF5Dataset {
        let object = childName(child)
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }) else {
            throw HDF5Error(file: file.path, object: object, operation: "create dataset",
                            detail: "invalid shape \(shape)")
        }
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        // The element count saturates: a shape whose product overflows Int is HDF5's to refuse.
        if let chunkRows, saturatingProduct(shape) > 0 {
            var chunk = dims
            chunk[0] = hsize_t(max(1, min(chunkRows, shape[0])))
            guard H5Pset_chunk(dcpl, Int32(chunk.count), &chunk) >= 0,
                  H5Pset_deflate(dcpl, UInt32(gzipLevel)) >= 0 else {
                throw HDF5Error(file: file.path, object: object, operation: "create dataset",
                                detail: "cannot set chunking/gzip")
            }
        }
        let did = H5Dcreate2(id, child, type.nativeType, space, chdf5_p_default(), dcpl,
                             chdf5_p_default())
        guard did >= 0 else {
            throw HDF5Error(file: file.path, object: object, operation: "create dataset",
                            detail: "shape \(shape)")
        }
        return try HDF5Dataset(file: file, id: did, name: object)
    }

    /// Creates a dataset with `shape` and writes `values` (row-major) into it.
    @discardableResult
    public func write<T: HDF5Element>(_ child: String, values: [T], shape: [Int],
                                      chunkRows: Int? = nil, gzipLevel: Int = 4) throws -> HDF5Dataset {
        let dataset = try createDataset(child, of: T.self, shape: shape, chunkRows: chunkRows,
                                        gzipLevel: gzipLevel)
        try dataset.write(values)
        return dataset
    }
}
