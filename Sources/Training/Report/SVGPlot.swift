import Foundation

/// A small SVG writer for one panel of line and scatter series: axes with ticks and tick
/// labels, axis labels, a title and a legend. No dependencies; the output is plain SVG 1.1.
///
/// The file is meant to be checked as well as looked at: the plot area is
/// `<rect class="plot-area" data-x-domain="lo hi" data-y-domain="lo hi" data-x-scale="linear|log">`
/// (the data range the rectangle spans), and every series is a
/// `<g class="series" data-name=... data-x=... data-y=...>` holding its values (round-trip
/// precision) and the polyline and/or circles drawn from them, so a test can invert the axis
/// mapping of the drawn points and compare them with the values.
public struct SVGPlot {
    public enum Scale: String { case linear, log }

    public struct Series {
        public enum Style { case line, points, lineAndPoints }
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var style: Style = .lineAndPoints
        public var dashed = false
        /// Marker radius in pixels, and opacity (scatter plots of many points use small, faint ones).
        public var radius = 3.0
        public var opacity = 1.0
        /// Colour (CSS); nil: the palette's colour for the series' position.
        public var color: String? = nil

        public init(name: String, x: [Double], y: [Double], style: Style = .lineAndPoints, dashed: Bool = false,
                    radius: Double = 3.0, opacity: Double = 1.0, color: String? = nil) {
            self.name = name
            self.x = x
            self.y = y
            self.style = style
            self.dashed = dashed
            self.radius = radius
            self.opacity = opacity
            self.color = color
        }
    }

    public init(title: String, xLabel: String, yLabel: String, xScale: Scale = .linear) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: Scale = .linear
    public var series: [Series] = []
    /// Draw the line y = x across the plot (predicted against true).
    public var diagonal = false
    /// The canvas: wide enough for the plot area (438 px) and the legend's longest name.
    public var width: Double { left + 438 + legendWidth }
    public var height = 430.0
    /// The legend column: line sample, gap, and ≈ 7 px per character of the longest name at 12 px.
    public var legendWidth: Double { max(210, 42 + 7 * Double(series.map(\.name.count).max() ?? 0)) }

    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf"]

    // The plot area, in pixels: left, top, width, height (the legend sits to the right).
    public var left: Double { 72 }
    public var top: Double { 42 }
    public var plotWidth: Double { width - left - legendWidth }
    public var plotHeight: Double { height - top - 58 }

    /// The data range of each axis: the finite values' range, padded; log axes in decades.
    public func domains() -> (x: (Double, Double), y: (Double, Double)) {
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            for (x, y) in zip(s.x, s.y) where x.isFinite && y.isFinite && (xScale == .linear || x > 0) {
                xs.append(x)
                ys.append(y)
            }
        }
        if diagonal, let a = (xs + ys).min(), let b = (xs + ys).max() { xs += [a, b]; ys += [a, b] }
        func padded(_ v: [Double]) -> (Double, Double) {
            guard var lo = v.min(), var hi = v.max() else { return (0, 1) }
            if hi - lo < 1e-12 * max(1, abs(hi)) { lo -= max(0.5, abs(lo) * 0.1); hi += max(0.5, abs(hi) * 0.1) }
            let pad = 0.05 * (hi - lo)
            return (lo - pad, hi + pad)
        }
        var x = padded(xs)
        if xScale == .log {
            if let lo = xs.min(), let hi = xs.max() {
                let a = log10(lo), b = log10(hi)
                let pad = max(0.05 * (b - a), 0.1)
                x = (pow(10, a - pad), pow(10, b + pad))
            } else {
                x = (1, 10)
            }
        }
        var y = padded(ys)
        if diagonal { y = x }
        return (x, y)
    }

    /// Pixel coordinates of a data point.
    public func pixel(_ x: Double, _ y: Double, _ d: (x: (Double, Double), y: (Double, Double))) -> (Double, Double) {
        let fx: Double
        if xScale == .log {
            fx = (log10(x) - log10(d.x.0)) / (log10(d.x.1) - log10(d.x.0))
        } else {
            fx = (x - d.x.0) / (d.x.1 - d.x.0)
        }
        let fy = (y - d.y.0) / (d.y.1 - d.y.0)
        return (left + fx * plotWidth, top + (1 - fy) * plotHeight)
    }

    /// Round tick values inside [lo, hi]: multiples of 1, 2 or 5 × 10^k; on a log axis the
    /// decades (and 2, 5 × 10^k when the axis spans under three decades).
    public static func ticks(_ lo: Double, _ hi: Double, scale: Scale) -> [Double] {
        if scale == .log {
            var out: [Double] = []
            let a = Int(floor(log10(lo))), b = Int(ceil(log10(hi)))
            let fine = Double(b - a) < 3.5
            for k in a...b {
                for m in fine ? [1.0, 2, 5] : [1.0] {
                    let v = m * pow(10, Double(k))
                    if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { out.append(v) }
                }
            }
            return out
        }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var out: [Double] = []
        var v = ceil(lo / step) * step
        while v <= hi + 1e-9 * step {
            out.append(abs(v) < 1e-12 * step ? 0 : v)
            v += step
        }
        return out
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public static func number(_ v: Double) -> String { String(format: "%.2f", v) }

    /// The SVG document.
    public func svg() -> String {
        let d = domains()
        var out: [String] = []
        out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                   + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">")
        out.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        out.append("<text x=\"\(Self.number(left + plotWidth / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(Self.escape(title))</text>")
        out.append("<rect class=\"plot-area\" x=\"\(Self.number(left))\" y=\"\(Self.number(top))\" width=\"\(Self.number(plotWidth))\" "
                   + "height=\"\(Self.number(plotHeight))\" fill=\"none\" stroke=\"black\" "
                   + "data-x-domain=\"\(d.x.0) \(d.x.1)\" data-y-domain=\"\(d.y.0) \(d.y.1)\" data-x-scale=\"\(xScale.rawValue)\"/>")
        out += axes(d)
        out += seriesElements(d)
        out += legend()
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Ticks, tick labels, grid lines, axis labels and the diagonal.
    func axes(_ d: (x: (Double, Double), y: (Double, Double))) -> [String] {
        var out: [String] = []
        // Ticks, tick labels and light grid lines.
        let bottom = top + plotHeight
        for v in Self.ticks(d.x.0, d.x.1, scale: xScale) {
            let (px, _) = pixel(v, d.y.0, d)
            out.append("<line x1=\"\(Self.number(px))\" y1=\"\(Self.number(top))\" x2=\"\(Self.number(px))\" y2=\"\(Self.number(bottom))\" stroke=\"#e5e5e5\"/>")
            out.append("<line x1=\"\(Self.number(px))\" y1=\"\(Self.number(bottom))\" x2=\"\(Self.number(px))\" y2=\"\(Self.number(bottom + 5))\" stroke=\"black\"/>")
            out.append("<text class=\"x-tick\" x=\"\(Self.number(px))\" y=\"\(Self.number(bottom + 18))\" text-anchor=\"middle\">\(String(format: "%g", v))</text>")
        }
        for v in Self.ticks(d.y.0, d.y.1, scale: .linear) {
            let (_, py) = pixel(d.x.0, v, d)
            out.append("<line x1=\"\(Self.number(left))\" y1=\"\(Self.number(py))\" x2=\"\(Self.number(left + plotWidth))\" y2=\"\(Self.number(py))\" stroke=\"#e5e5e5\"/>")
            out.append("<line x1=\"\(Self.number(left - 5))\" y1=\"\(Self.number(py))\" x2=\"\(Self.number(left))\" y2=\"\(Self.number(py))\" stroke=\"black\"/>")
            out.append("<text class=\"y-tick\" x=\"\(Self.number(left - 8))\" y=\"\(Self.number(py + 4))\" text-anchor=\"end\">\(String(format: "%g", v))</text>")
        }
        out.append("<text x=\"\(Self.number(left + plotWidth / 2))\" y=\"\(Self.number(height - 14))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>")
        let yMid = top + plotHeight / 2
        out.append("<text x=\"18\" y=\"\(Self.number(yMid))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(Self.number(yMid)))\">\(Self.escape(yLabel))</text>")
        if diagonal {
            let a = pixel(d.x.0, d.x.0, d), b = pixel(d.x.1, d.x.1, d)
            out.append("<line class=\"diagonal\" x1=\"\(Self.number(a.0))\" y1=\"\(Self.number(a.1))\" x2=\"\(Self.number(b.0))\" "
                       + "y2=\"\(Self.number(b.1))\" stroke=\"#999999\" stroke-dasharray=\"4 3\"/>")
        }
        return out
    }

    /// The series, clipped to the plot area: polylines (a NaN breaks the line) and markers.
    func seriesElements(_ d: (x: (Double, Double), y: (Double, Double))) -> [String] {
        var out: [String] = []
        // The series, clipped to the plot area.
        out.append("<clipPath id=\"plot-clip\"><rect x=\"\(Self.number(left))\" y=\"\(Self.number(top))\" width=\"\(Self.number(plotWidth))\" height=\"\(Self.number(plotHeight))\"/></clipPath>")
        for (k, s) in series.enumerated() {
            let color = s.color ?? Self.palette[k % Self.palette.count]
            out.append("<g class=\"series\" data-name=\"\(Self.escape(s.name))\" data-x=\"\(s.x.map { "\($0)" }.joined(separator: " "))\" "
                       + "data-y=\"\(s.y.map { "\($0)" }.joined(separator: " "))\" clip-path=\"url(#plot-clip)\">")
            let visible = zip(s.x, s.y).map { x, y in x.isFinite && y.isFinite && (xScale == .linear || x > 0) }
            if s.style != .points {
                // One polyline per run of drawable points (a NaN breaks the line).
                var run: [String] = []
                func flush() {
                    if run.count >= 2 {
                        out.append("<polyline points=\"\(run.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\""
                                   + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>")
                    }
                    run = []
                }
                for i in s.x.indices {
                    if visible[i] {
                        let (px, py) = pixel(s.x[i], s.y[i], d)
                        run.append("\(Self.number(px)),\(Self.number(py))")
                    } else {
                        flush()
                    }
                }
                flush()
            }
            if s.style != .line {
                for i in s.x.indices where visible[i] {
                    let (px, py) = pixel(s.x[i], s.y[i], d)
                    out.append("<circle cx=\"\(Self.number(px))\" cy=\"\(Self.number(py))\" r=\"\(s.radius)\" fill=\"\(color)\""
                               + (s.opacity < 1 ? " fill-opacity=\"\(s.opacity)\"" : "") + "/>")
                }
            }
            out.append("</g>")
        }
        return out
    }

    /// The legend, to the right of the plot area.
    func legend() -> [String] {
        var out: [String] = []
        // Legend, to the right of the plot area.
        let lx = left + plotWidth + 14
        for (k, s) in series.enumerated() {
            let color = s.color ?? Self.palette[k % Self.palette.count]
            let y = top + 10 + Double(k) * 18
            out.append("<g class=\"legend\">")
            if s.style != .points {
                out.append("<line x1=\"\(Self.number(lx))\" y1=\"\(Self.number(y))\" x2=\"\(Self.number(lx + 22))\" y2=\"\(Self.number(y))\" "
                           + "stroke=\"\(color)\" stroke-width=\"1.8\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>")
            }
            if s.style != .line { out.append("<circle cx=\"\(Self.number(lx + 11))\" cy=\"\(Self.number(y))\" r=\"3\" fill=\"\(color)\"/>") }
            out.append("<text x=\"\(Self.number(lx + 28))\" y=\"\(Self.number(y + 4))\">\(Self.escape(s.name))</text>")
            out.append("</g>")
        }
        return out
    }

    public func write(to path: String) throws {
        do {
            try Data(svg().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
