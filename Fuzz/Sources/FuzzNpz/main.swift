// libFuzzer target: the .npz reader. Each input is written to a scratch file and opened with
// `NpzArchive(path:)`; every key is read, then the GlassBench importer's `readSnapshot` reads
// the file as a configuration. Thrown errors naming the file are right; crashes are findings.
import FuzzSupport
import GlassData

let scratchPath = ScratchFile.path(suffix: ".npz")
ScratchFile.removeAtExit(scratchPath)

runFuzzer { bytes, count in
    let path = ScratchFile.path(suffix: ".npz")
    ScratchFile.write(path, bytes, count)
    var timeCount = 2
    do {
        let archive = try NpzArchive(path: path)
        for key in archive.keys {
            if !archive.contains(key) { finding("key '\(key)' is listed but not found") }
            do {
                let array = try archive.array(key)
                if array.doubles.count != array.count {
                    finding("key '\(key)': shape \(array.shape) has \(array.count) elements, \(array.doubles.count) read")
                }
                if key == "md_prop", array.shape.count == 2 { timeCount = array.shape[0] }
            } catch {
                requireNamed(error, path)
            }
        }
        if archive.contains("no such key") { finding("a missing key is found") }
    } catch {
        requireNamed(error, path)
    }
    do {
        let snapshot = try GlassBenchImporter.readSnapshot(path: path, box: .density(1.2), timeCount: timeCount)
        let n = snapshot.particleCount
        if snapshot.positions.count != 3 * n || snapshot.propensity?.count != n * timeCount {
            finding("snapshot of \(n) particles with \(snapshot.positions.count) coordinates, "
                    + "\(snapshot.propensity?.count ?? -1) targets for \(timeCount) times")
        }
    } catch {
        requireNamed(error, path)
    }
    return 0
}
