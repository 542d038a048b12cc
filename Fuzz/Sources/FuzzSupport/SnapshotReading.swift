import CHDF5
import GlassData

/// Opens `path` with `SnapshotFile(path:checkAllValues: true)` and reads every snapshot. A
/// thrown error naming the file is the reader's right answer to a bad file; a finding is a
/// snapshot whose arrays do not match its particle count, an out-of-range snapshot that reads,
/// or an HDF5 object left open once the file is released (it would keep the file open, and
/// HDF5 would hand that stale open file to the next input written to the same path).
public func readSnapshotFile(_ path: String) {
    do {
        let file = try SnapshotFile(path: path, checkAllValues: true)
        for k in 0..<file.snapshotCount {
            let snapshot = try file.readSnapshot(k)
            let n = file.particleCount(ofSnapshot: k)
            if snapshot.species.count != n || snapshot.positions.count != 3 * n || snapshot.box.count != 3
                || (snapshot.inherentPositions.map { $0.count != 3 * n } ?? false)
                || (snapshot.propensity.map { $0.count != n * file.timeCount } ?? false)
                || snapshot.scalars.values.contains(where: { $0.count != n }) {
                finding("snapshot \(k) of \(n) particles has arrays of other lengths")
            }
        }
        for k in [-1, file.snapshotCount] {
            if (try? file.readSnapshot(k)) != nil { finding("snapshot \(k) of \(file.snapshotCount) was read") }
        }
    } catch {
        requireNamed(error, path)
    }
    // H5F_OBJ_ALL (as the file id: every file), which Swift does not import.
    let all = UInt32(H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR)
    let open = H5Fget_obj_count(hid_t(all), all)
    if open > 0 { finding("\(open) HDF5 objects still open after the snapshot file was released") }
}
