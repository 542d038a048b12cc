import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// The MPI world this process belongs to: its rank and the number of ranks.
///
/// Creating the `Communicator` initializes MPI (`MPI_Init_thread` with `MPI_THREAD_FUNNELED`:
/// only the thread that created it may call MPI) and releasing it finalises MPI. MPI can be
/// initialized only once per process, so make one `Communicator` per process and keep it for
/// the whole run. Started without `mpirun`, the process is rank 0 of a world of 1 and every
/// collective is the identity.
///
/// Collectives must be called by every rank, in the same order, with buffers of the same length.
/// Each failed MPI call throws an `MPIError`; after an error on one rank the others may be left
/// waiting in a collective, so the caller should end the job with `abort(message:code:)`.
public final class Communicator {
    /// This process's rank in the world, in `0..<size`.
    public let rank: Int
    /// The number of ranks in the world.
    public let size: Int
    /// `MPI_COMM_WORLD`.
    let handle: MPI_Comm

    /// Rank 0, which gathers results and prints them.
    public var isRoot: Bool { rank == 0 }

    /// Initialises MPI and joins the world communicator.
    ///
    /// Throws if MPI was already initialized or finalised in this process, or if the library
    /// cannot provide `MPI_THREAD_FUNNELED`.
    public init() throws {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try MPIError.check(MPI_Initialized(&initialized), "MPI_Initialized")
        try MPIError.check(MPI_Finalized(&finalized), "MPI_Finalized")
        guard initialized == 0, finalized == 0 else {
            throw MPIError(
                call: "MPI_Init_thread", code: cmpi_err_other(),
                message: finalized != 0
                    ? "MPI was already finalised in this process; MPI cannot be started twice"
                    : "MPI is already initialized: create one Communicator per process")
        }
        // MPI_Init errors are fatal by MPI's default handler; the check is for form's sake.
        var provided: Int32 = 0
        try MPIError.check(
            MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
        let world = cmpi_comm_world()!
        do {
            guard provided >= cmpi_thread_funneled() else {
                throw MPIError(
                    call: "MPI_Init_thread", code: cmpi_err_other(),
                    message: "the MPI library provides thread level \(provided), "
                        + "below MPI_THREAD_FUNNELED (\(cmpi_thread_funneled()))")
            }
            // Errors come back as codes, which we turn into Swift errors.
            try MPIError.check(
                MPI_Comm_set_errhandler(world, cmpi_errors_return()), "MPI_Comm_set_errhandler")
            var rank: Int32 = 0
            var size: Int32 = 0
            try MPIError.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
            try MPIError.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
            self.rank = Int(rank)
            self.size = Int(size)
            self.handle = world
        } catch {
            MPI_Finalize()
            throw error
        }
    }

    deinit {
        let code = MPI_Finalize()
        if code != cmpi_success() {
            writeToStandardError("rank \(rank): warning: \(MPIError(call: "MPI_Finalize", code: code))\n")
        }
    }

    /// Waits until every rank has reached this call.
    public func barrier() throws {
        try MPIError.check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// Ends the whole job: prints `rank R: <message>` to standard error, then calls `MPI_Abort`,
    /// which makes `mpirun`/`srun` kill every rank, so none is left waiting in a collective.
    ///
    /// Call it when one rank cannot go on. Standard output is flushed first so that what was
    /// printed before the failure is not lost.
    public func abort(message: String, code: Int32 = 1) -> Never {
        fflush(nil)  // every C output stream, standard output included
        writeToStandardError("rank \(rank): \(message)\n")
        MPI_Abort(handle, code == 0 ? 1 : code)
        // MPI_Abort does not return; should it ever, do not report success.
        exit(code == 0 ? 1 : code)
    }

    /// The name of the host this rank runs on (`MPI_Get_processor_name`).
    public func processorName() throws -> String {
        var bytes = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        try MPIError.check(MPI_Get_processor_name(&bytes, &length), "MPI_Get_processor_name")
        return string(fromC: bytes, length: length)
    }

    /// The MPI library's own description of itself (`MPI_Get_library_version`), e.g.
    /// "Open MPI v4.1.4, ...". Callable with or without a `Communicator`.
    public static func libraryVersion() throws -> String {
        var bytes = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        try MPIError.check(MPI_Get_library_version(&bytes, &length), "MPI_Get_library_version")
        var text = string(fromC: bytes, length: length)
        while text.last == "\n" || text.last == "\0" { text.removeLast() }
        return text
    }

    /// The version of the MPI standard the library implements (`MPI_Get_version`), e.g. "3.1".
    public static func standardVersion() throws -> String {
        var major: Int32 = 0
        var minor: Int32 = 0
        try MPIError.check(MPI_Get_version(&major, &minor), "MPI_Get_version")
        return "\(major).\(minor)"
    }
}

/// Writes `text` straight to file descriptor 2, unbuffered, so it survives an abort right after.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// A Swift string from the first `length` bytes of a C character buffer.
private func string(fromC bytes: [CChar], length: Int32) -> String {
    String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
