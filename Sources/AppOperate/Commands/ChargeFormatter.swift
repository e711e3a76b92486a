import Foundation
import Protocol

/// Renders charging tables: aligned text, CSV, a printable HTML bill, and an SVG bar chart
/// (a small renderer of our own: no third-party files).
public enum ChargeFormatter {
    /// Fen as yuan with two decimals (integer arithmetic: no rounding).
    public static func yuan(_ fen: String) -> String {
        guard let f = Int(fen) else { return fen }
        let sign = f < 0 ? "-" : ""
        return "\(sign)\(abs(f) / 100).\(String(format: "%02d", abs(f) % 100))"
    }

    public static func table(_ r: ChargingReport) -> String {
        guard !r.columns.isEmpty else { return r.summary }
        let cells = [r.columns] + r.rows.map { row in row.enumerated().map { i, v in r.columns[i].hasSuffix("_fen") ? yuan(v) : v } }
        let widths = r.columns.indices.map { i in cells.map { $0.indices.contains(i) ? $0[i].count : 0 }.max() ?? 0 }
        let lines = cells.map { row in row.enumerated().map { i, v in v.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        return (lines + [r.summary]).joined(separator: "\n")
    }

    public static func csv(_ r: ChargingReport) -> String {
        func q(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"\(s.replacingOccurrences(of: "\"", with: "\"\""))\"" : s }
        return ([r.columns] + r.rows).map { $0.map(q).joined(separator: ",") }.joined(separator: "\n")
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A printable bill: the caller, the period, every call, the total (equal to the sum of the
    /// calls' totals, in fen, shown in yuan).
    public static func htmlBill(_ r: ChargingReport, caller: String, period: String) -> String {
        let total = r.rows.reduce(0) { $0 + (Int($1[safe: r.columns.firstIndex(of: "total_fen") ?? -1] ?? "") ?? 0) }
        let head = r.columns.filter { $0 != "call_id" }.map { "<th>\(esc($0.replacingOccurrences(of: "_fen", with: " (¥)")))</th>" }.joined()
        let body = r.rows.map { row in
            "<tr>" + row.enumerated().filter { r.columns[$0.offset] != "call_id" }.map { i, v in
                r.columns[i].hasSuffix("_fen") ? "<td class=n>\(yuan(v))</td>" : "<td>\(esc(v))</td>"
            }.joined() + "</tr>"
        }.joined(separator: "\n")
        return """
        <!doctype html>
        <html lang="zh"><head><meta charset="utf-8"><title>Bill \(esc(caller)) \(esc(period))</title>
        <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}
        .n{text-align:right}tfoot td{font-weight:bold}@media print{body{margin:0}}</style></head>
        <body><h1>话费帐单 · Bill</h1><p>Number <b>\(esc(caller))</b> · period \(esc(period)) · \(r.rows.count) calls</p>
        <table><thead><tr>\(head)</tr></thead><tbody>
        \(body)
        </tbody><tfoot><tr><td colspan="\(max(1, r.columns.count - 2))">Total</td><td class=n id="total">\(yuan(String(total)))</td></tr></tfoot></table>
        </body></html>
        """
    }

    /// A bar chart of one column by the first (the grouping), as SVG.
    public static func svgChart(_ r: ChargingReport, value column: String, title: String) -> String {
        let vi = r.columns.firstIndex(of: column) ?? (r.columns.count - 1)
        let values = r.rows.map { Double($0[safe: vi] ?? "") ?? 0 }
        let labels = r.rows.map { $0.first ?? "" }
        let maxV = max(values.max() ?? 1, 1)
        let barW = 36, gap = 12, left = 70, top = 40, plotH = 240
        let width = left + max(1, values.count) * (barW + gap) + 20, height = top + plotH + 90
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<title>\(esc(title))</title>\n<text x=\"\(left)\" y=\"20\" font-size=\"14\">\(esc(title))</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(width - 10)\" y2=\"\(top + plotH)\" stroke=\"#333\"/>\n"
        for t in 0...4 {
            let y = top + plotH - plotH * t / 4
            let v = maxV * Double(t) / 4
            s += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(column.hasSuffix("_fen") ? yuan(String(Int(v))) : String(Int(v)))</text>"
            s += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - 10)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
        }
        for (i, v) in values.enumerated() {
            let h = Int(Double(plotH) * v / maxV)
            let x = left + i * (barW + gap) + gap / 2
            s += "<rect class=\"bar\" x=\"\(x)\" y=\"\(top + plotH - h)\" width=\"\(barW)\" height=\"\(h)\" fill=\"#3a7bd5\"><title>\(esc(labels[i])): \(Int(v))</title></rect>\n"
            s += "<text x=\"\(x + barW / 2)\" y=\"\(top + plotH + 14)\" text-anchor=\"end\" transform=\"rotate(-45 \(x + barW / 2) \(top + plotH + 14))\">\(esc(labels[i]))</text>\n"
        }
        return s + "</svg>\n"
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
