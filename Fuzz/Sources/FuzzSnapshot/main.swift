// libFuzzer target: the snapshot-file reader. Each input is written to a scratch file, opened
// with `SnapshotFile(path:checkAllValues: true)`, and every snapshot is read. A thrown error
// naming the file is the right answer to a bad input; a crash (trap, sanitizer report, also
// inside libhdf5: tools/fuzz.sh tells the two apart by the stack), a snapshot whose arrays do
// not match its particle count, or an HDF5 object left open after the file is released, is a
// finding.
import FuzzSupport
import GlassData

let scratchPath = ScratchFile.path(suffix: ".h5")
ScratchFile.removeAtExit(scratchPath)

runFuzzer { bytes, count in
    let path = ScratchFile.path(suffix: ".h5")
    ScratchFile.write(path, bytes, count)
    readSnapshotFile(path)
    return 0
}
