import Foundation

/// The report's page, built once and written twice: report.md (Markdown) and report.html
/// (the same content, self-contained apart from the SVG files it links).
public struct ReportPage {
    public enum Block {
        case heading(String)
        case paragraph(String)
        case image(file: String, alt: String)
        case table(header: [String], rows: [[String]])
    }

    public let title: String
    public var blocks: [Block] = []

    public init(title: String) { self.title = title }

    public mutating func heading(_ text: String) { blocks.append(.heading(text)) }
    public mutating func paragraph(_ text: String) { blocks.append(.paragraph(text)) }
    public mutating func image(_ file: String, alt: String) { blocks.append(.image(file: file, alt: alt)) }
    public mutating func table(header: [String], rows: [[String]]) { blocks.append(.table(header: header, rows: rows)) }

    /// The figure files, in page order.
    public var images: [String] {
        blocks.compactMap { if case .image(let file, _) = $0 { return file } else { return nil } }
    }

    public func markdown() -> String {
        var lines = ["# \(title)", ""]
        for block in blocks {
            switch block {
            case .heading(let text): lines += ["## \(text)", ""]
            case .paragraph(let text): lines += [text, ""]
            case .image(let file, let alt): lines += ["![\(alt)](\(file))", ""]
            case .table(let header, let rows):
                lines.append("| " + header.joined(separator: " | ") + " |")
                lines.append("|" + String(repeating: "---|", count: header.count))
                for row in rows { lines.append("| " + row.joined(separator: " | ") + " |") }
                lines.append("")
            }
        }
        return lines.joined(separator: "\n")
    }

    public func html() -> String {
        func escape(_ s: String) -> String { SVGPlot.escape(s) }
        /// `code` spans of the Markdown text become <code>.
        func inline(_ s: String) -> String {
            let parts = escape(s).components(separatedBy: "`")
            return parts.enumerated().map { $0.offset % 2 == 1 ? "<code>\($0.element)</code>" : $0.element }.joined()
        }
        var lines = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>\(escape(title))</title>",
                     "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
                     + "td,th{border:1px solid #ccc;padding:2px 8px}</style></head><body>", "<h1>\(escape(title))</h1>"]
        for block in blocks {
            switch block {
            case .heading(let text): lines.append("<h2>\(inline(text))</h2>")
            case .paragraph(let text): lines.append("<p>\(inline(text))</p>")
            case .image(let file, let alt): lines.append("<p><img src=\"\(escape(file))\" alt=\"\(escape(alt))\"></p>")
            case .table(let header, let rows):
                lines.append("<table><tr>" + header.map { "<th>\(inline($0))</th>" }.joined() + "</tr>")
                for row in rows { lines.append("<tr>" + row.map { "<td>\(inline($0))</td>" }.joined() + "</tr>") }
                lines.append("</table>")
            }
        }
        lines.append("</body></html>")
        return lines.joined(separator: "\n") + "\n"
    }

    public func write(directory: String) throws {
        for (name, text) in [("report.md", markdown()), ("report.html", html())] {
            let path = directory + "/" + name
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw ValidationFailure("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }
}
