import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GlassData
import XCTest

/// `launcher report`: every SVG parses as XML and draws the series it should, checked by
/// inverting the plot's axis mapping and comparing with metrics.jsonl, `evaluate --json`,
/// `predict` and probe.json.
final class ReportCommandTests: ScratchDirectoryTestCase {
    func launcher(_ arguments: [String]) throws -> LauncherProcess.Result {
        let result = try LauncherProcess.run([try LauncherProcess.launcherPath()] + arguments, timeout: 300)
        XCTAssertFalse(result.timedOut, "launcher \(arguments) timed out")
        return result
    }

    /// One parsed SVG figure: the plot area's mapping, and each series' values and drawn points.
    struct Figure {
        struct Series {
            var x: [Double] = []
            var y: [Double] = []
            /// Data coordinates recovered from the drawn polyline points and circle centres.
            var lineData: [(Double, Double)] = []
            var circleData: [(Double, Double)] = []
        }
        var series: [String: Series] = [:]
        var elementCount = 0
        /// The canvas width and the legend's names with the x where each starts.
        var width = Double.nan
        var legend: [(x: Double, name: String)] = []
    }

    final class SVGReader: NSObject, XMLParserDelegate {
        var figure = Figure()
        var area: (x: Double, y: Double, w: Double, h: Double, xd: (Double, Double), yd: (Double, Double), log: Bool)?
        var current: String?
        var inLegend = false, legendText: (x: Double, name: String)?

        func invert(_ px: Double, _ py: Double) -> (Double, Double) {
            let a = area!
            let fx = (px - a.x) / a.w, fy = 1 - (py - a.y) / a.h
            let x = a.log ? pow(10, log10(a.xd.0) + fx * (log10(a.xd.1) - log10(a.xd.0))) : a.xd.0 + fx * (a.xd.1 - a.xd.0)
            return (x, a.yd.0 + fy * (a.yd.1 - a.yd.0))
        }

        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            figure.elementCount += 1
            func numbers(_ key: String) -> [Double] {
                (attributes[key] ?? "").split(separator: " ").map { Double($0) ?? .nan }
            }
            func number(_ key: String) -> Double { Double(attributes[key] ?? "") ?? .nan }
            if element == "svg" {
                figure.width = number("width")
            } else if element == "g", attributes["class"] == "legend" {
                inLegend = true
            } else if element == "text", inLegend {
                legendText = (number("x"), "")
            }
            if element == "rect", attributes["class"] == "plot-area" {
                let xd = numbers("data-x-domain"), yd = numbers("data-y-domain")
                area = (number("x"), number("y"), number("width"), number("height"), (xd[0], xd[1]), (yd[0], yd[1]),
                        attributes["data-x-scale"] == "log")
            } else if element == "g", attributes["class"] == "series", let name = attributes["data-name"] {
                current = name
                figure.series[name] = Figure.Series(x: numbers("data-x"), y: numbers("data-y"))
            } else if element == "polyline", let name = current {
                for point in (attributes["points"] ?? "").split(separator: " ") {
                    let xy = point.split(separator: ",").map { Double($0)! }
                    figure.series[name]!.lineData.append(invert(xy[0], xy[1]))
                }
            } else if element == "circle", let name = current {
                figure.series[name]!.circleData.append(invert(number("cx"), number("cy")))
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            legendText?.name += string
        }

        func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
            if element == "g" { current = nil; inLegend = false }
            if element == "text", let text = legendText { figure.legend.append(text); legendText = nil }
        }
    }

    func readFigure(_ file: String) throws -> Figure {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: file), "\(file) missing")
        let parser = XMLParser(data: data)
        let reader = SVGReader()
        parser.delegate = reader
        XCTAssertTrue(parser.parse(), "\(file) is not well-formed XML: \(String(describing: parser.parserError))")
        XCTAssertNotNil(reader.area, "\(file) has no plot area")
        // Every legend name fits on the canvas, at 6.5 px per character (the mean advance of a
        // 12 px sans-serif font; the longest name here is "B, untrained heads per-snapshot mean").
        for (x, name) in reader.figure.legend {
            XCTAssertLessThanOrEqual(x + 6.5 * Double(name.count), reader.figure.width, "\(file): legend '\(name)' is clipped")
        }
        return reader.figure
    }

    /// The series' values equal `expected`, and the drawn points (pixel → data) agree with them
    /// to the drawing's precision.
    func assertSeries(_ figure: Figure, _ name: String, x: [Double], y: [Double], drawn: KeyPath<Figure.Series, [(Double, Double)]>,
                      file: StaticString = #filePath, line: UInt = #line) {
        guard let s = figure.series[name] else {
            return XCTFail("no series '\(name)' (has \(figure.series.keys.sorted()))", file: file, line: line)
        }
        // The values themselves, to 1e-12: Foundation's JSON parser on Linux may be an ulp or two
        // off the exact decimal (the SVG's round-trip numbers are read with Double(String)).
        XCTAssertEqual(s.x.count, x.count, "x of \(name)", file: file, line: line)
        XCTAssertEqual(s.y.count, y.count, "y of \(name)", file: file, line: line)
        for (a, b) in zip(s.x + s.y, x + y) {
            XCTAssertEqual(a.isNaN, b.isNaN, "\(name): \(s.x) \(s.y) against \(x) \(y)", file: file, line: line)
            if b.isFinite { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b)), "\(name)", file: file, line: line) }
        }
        let points = s[keyPath: drawn]
        let finite = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        XCTAssertEqual(points.count, finite.count, "drawn points of \(name)", file: file, line: line)
        let spanX = (x.max()! - x.min()!) + 1e-9, spanY = (finite.map(\.1).max()! - finite.map(\.1).min()!) + 1e-9
        for (p, v) in zip(points, finite) {
            XCTAssertEqual(p.0, v.0, accuracy: 2e-3 * max(spanX, abs(v.0)), "x of \(name)", file: file, line: line)
            XCTAssertEqual(p.1, v.1, accuracy: 2e-3 * spanY, "y of \(name)", file: file, line: line)
        }
    }

    func testReportFiguresParseAndPlotTheRunsNumbers() throws {
        let config = path("config.json")
        try Data("""
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 2, 12]},
             "training": {"epochs": 3, "batchSize": 2, "learningRate": 0.01}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let train = try SyntheticSnapshots.write(path: path("train.h5"), count: 3, seed: 41, times: [0.5, 2, 12])
        let validation = try SyntheticSnapshots.write(path: path("val.h5"), count: 2, seed: 42, times: [0.5, 2, 12])
        let run = path("run")
        let t = try launcher(["train", "--data", train, "--validation", validation, "--out", run, "--config", config])
        XCTAssertEqual(t.status, 0, t.standardError)
        let probe = #"{"times": [0.5, 2, 12], "species": "A", "layers": [0, 1, 2], "pearson": [[0.1, 0.15, 0.2], [0.3, 0.35, 0.4], [0.5, 0.55, 0.6]]}"#
        try Data(probe.utf8).write(to: URL(fileURLWithPath: run + "/probe.json"))

        let out = path("report")
        let r = try launcher(["report", run, "--out", out])  // data: the run's validation file
        XCTAssertEqual(r.status, 0, r.standardError + r.standardOutput)
        let names = ["learning-curves.svg", "validation-rho.svg", "rho-vs-time.svg", "scatter-tau-alpha.svg", "probe.svg"]
        let page = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        for name in names { XCTAssertTrue(page.contains("](\(name))"), "report.md does not link \(name)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/report.html"))

        // Learning curves: metrics.jsonl's numbers.
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(lines.count, 3)
        let epochs = lines.map { ($0["epoch"] as! NSNumber).doubleValue }
        let curves = try readFigure(out + "/learning-curves.svg")
        assertSeries(curves, "training", x: epochs, y: lines.map { ($0["train_loss"] as! NSNumber).doubleValue }, drawn: \.lineData)
        let validationLoss = lines.map { (($0["validation"] as! [String: Any])["loss"] as! NSNumber).doubleValue }
        assertSeries(curves, "validation", x: epochs, y: validationLoss, drawn: \.circleData)
        let rhoCurves = try readFigure(out + "/validation-rho.svg")
        let rho12 = lines.map { line -> Double in
            let a = ((line["validation"] as! [String: Any])["species"] as! [String: Any])["A"] as! [String: Any]
            return ((a["pearson_pooled"] as! [Any])[2] as! NSNumber).doubleValue
        }
        assertSeries(rhoCurves, "t = 12", x: epochs, y: rho12, drawn: \.lineData)

        // ρ against time: `launcher evaluate --json` on the validation file (log time axis).
        let e = try launcher(["evaluate", "--checkpoint", run, "--data", validation, "--json"])
        XCTAssertEqual(e.status, 0, e.standardError)
        let scores = try JSONSerialization.jsonObject(with: Data(e.standardOutput.utf8)) as! [String: Any]
        let times = scores["times"] as! [Double]
        let species = scores["species"] as! [String: [String: [Any]]]
        let rhoTime = try readFigure(out + "/rho-vs-time.svg")
        XCTAssertTrue(rhoTime.legend.contains { $0.name == "B, untrained heads per-snapshot mean" }, "\(rhoTime.legend)")
        for s in ["A", "B"] {
            let pooled = species[s]!["pearson_pooled"]!.map { ($0 as! NSNumber).doubleValue }
            let mean = species[s]!["pearson_mean"]!.map { ($0 as! NSNumber).doubleValue }
            // The run trains species A only: B's curves are labelled as untrained heads.
            let label = s == "A" ? s : "\(s), untrained heads"
            assertSeries(rhoTime, "\(label) pooled", x: times, y: pooled, drawn: \.lineData)
            assertSeries(rhoTime, "\(label) per-snapshot mean", x: times, y: mean, drawn: \.circleData)
        }

        // Scatter at τα (t = 12): the file's propensities against `launcher predict`'s.
        let predictions = path("pred.h5")
        let p = try launcher(["predict", "--checkpoint", run, "--data", validation, "--out", predictions])
        XCTAssertEqual(p.status, 0, p.standardError)
        let predicted = try HDF5File(path: predictions).root.dataset("predictions").read(as: Float.self)
        let file = try SnapshotFile(path: validation)
        var truth: [Double] = [], model: [Double] = []
        for k in 0..<file.snapshotCount {
            let snapshot = try file.readSnapshot(k)
            for i in 0..<snapshot.particleCount where snapshot.species[i] == 0 {
                truth.append(Double(snapshot.propensity![i * 3 + 2]))
                model.append(Double(predicted[(file.offsets[k] + i) * 3 + 2]))
            }
        }
        let scatter = try readFigure(out + "/scatter-tau-alpha.svg")
        assertSeries(scatter, "\(truth.count) particles", x: truth, y: model, drawn: \.circleData)

        // The probe, from probe.json.
        let probeFigure = try readFigure(out + "/probe.svg")
        assertSeries(probeFigure, "t = 2", x: [0, 1, 2], y: [0.15, 0.35, 0.55], drawn: \.lineData)

        // On 2 ranks (the evaluation split over them, the scatter recomputed by rank 0): the same files.
        let parallel = path("report-2")
        let r2 = try LauncherProcess.run(["mpirun", "-np", "2", "--oversubscribe", try LauncherProcess.launcherPath(),
                                          "report", run, "--out", parallel], timeout: 300)
        XCTAssertEqual(r2.status, 0, r2.standardError)
        for name in names {
            XCTAssertEqual(FileManager.default.contents(atPath: parallel + "/" + name), FileManager.default.contents(atPath: out + "/" + name),
                           "\(name) differs between 1 and 2 ranks")
        }

        // Without probe.json and with --no-probe: nothing computed, and the page says how to get the figure.
        try FileManager.default.removeItem(atPath: run + "/probe.json")
        let bare = path("bare")
        let b = try launcher(["report", run, "--out", bare, "--data", validation, "--no-probe"])
        XCTAssertEqual(b.status, 0, b.standardError)
        let barePage = try String(contentsOfFile: bare + "/report.md", encoding: .utf8)
        XCTAssertTrue(barePage.contains("--no-probe") && barePage.contains("`launcher probe"), barePage)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bare + "/probe.svg"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/probe.json"), "--no-probe wrote probe.json")
    }

    /// Without probe.json, `report` fits the probes on the run's training file (or --train) and scores
    /// them on the evaluation data, exactly as `launcher probe` does; it saves probe.json, which the
    /// next report reuses.
    func testReportComputesTheProbeWhenProbeJSONIsAbsent() throws {
        let config = path("config.json")
        try Data("""
            {"model": {"channels": 2, "layers": 2, "radialHidden": [4], "decoderHidden": [4], "times": [0.5, 2, 12]},
             "training": {"epochs": 1, "batchSize": 2, "learningRate": 0.01}}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let train = try SyntheticSnapshots.write(path: path("train.h5"), count: 4, seed: 51, times: [0.5, 2, 12])
        let validation = try SyntheticSnapshots.write(path: path("val.h5"), count: 2, seed: 52, times: [0.5, 2, 12])
        let run = path("run")
        let t = try launcher(["train", "--data", train, "--validation", validation, "--out", run, "--config", config])
        XCTAssertEqual(t.status, 0, t.standardError)
        let probePath = run + "/probe.json"

        // The training file recorded in the checkpoint is gone: the page names the option, no error.
        let moved = path("train-moved.h5")
        try FileManager.default.moveItem(atPath: train, toPath: moved)
        let missing = path("missing")
        let m = try launcher(["report", run, "--out", missing])
        XCTAssertEqual(m.status, 0, m.standardError)
        let missingPage = try String(contentsOfFile: missing + "/report.md", encoding: .utf8)
        XCTAssertTrue(missingPage.contains(train) && missingPage.contains("--train FILE"), missingPage)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing + "/probe.svg"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: probePath))

        // --no-probe wins over --train.
        let skipped = try launcher(["report", run, "--out", path("skipped"), "--train", moved, "--no-probe"])
        XCTAssertEqual(skipped.status, 0, skipped.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: probePath), "--no-probe wrote probe.json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("skipped") + "/probe.svg"))

        // On 2 ranks (rank 0 probes, rank 1 waits), fitted on --train, scored on the validation file.
        let out = path("report")
        let r = try LauncherProcess.run(["mpirun", "-np", "2", "--oversubscribe", try LauncherProcess.launcherPath(),
                                         "report", run, "--out", out, "--train", moved], timeout: 300)
        XCTAssertFalse(r.timedOut, "report on 2 ranks timed out")
        XCTAssertEqual(r.status, 0, r.standardError)
        let written = try String(contentsOfFile: probePath, encoding: .utf8)

        // The same object as `launcher probe --json`, number for number (and byte for byte).
        let p = try launcher(["probe", "--checkpoint", run, "--train", moved, "--test", validation, "--json"])
        XCTAssertEqual(p.status, 0, p.standardError)
        let reference = try JSONSerialization.jsonObject(with: Data(p.standardOutput.utf8)) as! [String: Any]
        let saved = try JSONSerialization.jsonObject(with: Data(written.utf8)) as! [String: Any]
        XCTAssertEqual(saved as NSDictionary, reference as NSDictionary)
        XCTAssertEqual(written, p.standardOutput.trimmingCharacters(in: .newlines) + "\n")
        let times = reference["times"] as! [Double]
        let layers = (reference["layers"] as! [Int]).map(Double.init)
        let pearson = (reference["pearson"] as! [[Any]]).map { $0.map { ($0 as? NSNumber)?.doubleValue ?? .nan } }
        XCTAssertEqual(times, [0.5, 2, 12])
        XCTAssertEqual(layers, [0, 1, 2])
        // Layer 2 sees the neighborhood: defined ρ, so the figure has a line to check.
        XCTAssertTrue(pearson[2].allSatisfy { $0.isFinite && abs($0) <= 1 }, "\(pearson)")

        // The figure plots those numbers: one line per time, ρ against layer.
        let figure = try readFigure(out + "/probe.svg")
        XCTAssertEqual(figure.series.count, times.count)
        for (q, time) in times.enumerated() {
            assertSeries(figure, "t = \(String(format: "%g", time))", x: layers, y: pearson.map { $0[q] }, drawn: \.lineData)
        }
        let page = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(page.contains("](probe.svg)") && page.contains("fitted on `\(moved)`"), page)

        // A second report reuses probe.json: with a training file that does not exist, the same figure.
        let again = path("again")
        let a = try launcher(["report", run, "--out", again, "--train", path("nowhere.h5")])
        XCTAssertEqual(a.status, 0, a.standardError)
        XCTAssertEqual(FileManager.default.contents(atPath: again + "/probe.svg"), FileManager.default.contents(atPath: out + "/probe.svg"))
        XCTAssertEqual(try String(contentsOfFile: probePath, encoding: .utf8), written)
    }
}
