import CMPI

/// A failed MPI call, with the name of the call and MPI's own description of the failure.
///
/// Every MPI function used by this module is checked: the world communicator is set to
/// `MPI_ERRORS_RETURN`, so MPI hands back an error code instead of killing the process, and the
/// code becomes one of these.
public struct MPIError: Error, Equatable, CustomStringConvertible {
    /// The MPI function that failed, e.g. `"MPI_Allreduce"`.
    public let call: String
    /// The MPI error code it returned (`MPI_ERR_*`).
    public let code: Int32
    /// MPI's explanation of `code` (from `MPI_Error_string`), or ours for checks made before
    /// calling MPI (for instance a buffer too long for MPI's 32-bit counts).
    public let message: String

    public init(call: String, code: Int32, message: String) {
        self.call = call
        self.code = code
        self.message = message
    }

    /// The error for `code` returned by `call`, with MPI's error string.
    public init(call: String, code: Int32) {
        self.init(call: call, code: code, message: MPIError.errorString(code))
    }

    public var description: String {
        "\(call) failed: \(message) (MPI error code \(code))"
    }

    /// MPI's text for an error code. `MPI_Error_string` may be called at any time, even before
    /// `MPI_Init` and after `MPI_Finalize`.
    static func errorString(_ code: Int32) -> String {
        var bytes = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &bytes, &length) == cmpi_success() else {
            return "unknown MPI error"
        }
        return String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Throws an `MPIError` naming `call` unless `code` is `MPI_SUCCESS`.
    @inline(__always)
    static func check(_ code: Int32, _ call: String) throws {
        if code != cmpi_success() { throw MPIError(call: call, code: code) }
    }

    /// MPI counts are C `int`s: refuse a longer buffer up front instead of truncating it.
    static func count(_ count: Int, _ call: String) throws -> Int32 {
        guard let narrow = Int32(exactly: count) else {
            throw MPIError(
                call: call, code: cmpi_err_count(),
                message: "\(count) elements exceed MPI's limit of \(Int32.max) per call")
        }
        return narrow
    }
}
