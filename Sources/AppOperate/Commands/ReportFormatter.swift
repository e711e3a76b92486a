import Foundation
import Protocol

/// Prints statistics as a table, CSV or JSON.
public enum ReportFormatter {
    static let columns = ["interval", "key", "offered", "answered", "abandoned", "short_abandoned", "abandon_rate", "asa_s",
                          "service_level", "aht_s", "talk_s", "longest_wait_s", "occupancy"]

    static func cells(_ r: StatisticsRowMessage, utcOffset: Int, json: Bool = false) -> [String] {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: utcOffset)
        f.dateFormat = "yyyy-MM-dd HH:mm"
        func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
        func sec(_ v: Double) -> String { String(format: "%.1f", v) }
        return [f.string(from: Date(timeIntervalSince1970: Double(r.startMs) / 1000)), r.key, String(r.offered), String(r.answered),
                String(r.abandoned), String(r.shortAbandoned), pct(r.abandonRate), sec(r.asaSeconds), pct(r.serviceLevel),
                sec(r.ahtSeconds), sec(r.talkSeconds), sec(r.longestWaitSeconds), r.occupancy < 0 ? "-" : pct(r.occupancy)]
    }

    public static func table(_ report: StatisticsReport, utcOffset: Int) -> String {
        let rows = report.rows.map { cells($0, utcOffset: utcOffset) }
        guard !rows.isEmpty else { return "no calls in this range" }
        let widths = columns.indices.map { i in ([columns[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ c: [String]) -> String {
            c.enumerated().map { i, v in i < 2 ? v.padding(toLength: widths[i], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[i] - v.count) + v }
                .joined(separator: "  ")
        }
        return ([line(columns.map { $0.uppercased() })] + rows.map(line)).joined(separator: "\n")
    }

    /// An SVG bar chart of one figure per interval (e.g. the service level over the day), for
    /// the first key in the report (`total`, or the first queue/agent/flow).
    public static func chart(_ report: StatisticsReport, figure: String, utcOffset: Int, interval: String, grouping: String) -> String {
        let key = report.rows.first?.key ?? ""
        let rows = report.rows.filter { $0.key == key }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: utcOffset)
        f.dateFormat = interval == "day" ? "MM-dd" : "HH:mm"
        func value(_ r: StatisticsRowMessage) -> Int {
            switch figure {
            case "offered": return Int(r.offered)
            case "answered": return Int(r.answered)
            case "abandoned": return Int(r.abandoned)
            case "asa": return Int(r.asaSeconds.rounded())
            case "aht": return Int(r.ahtSeconds.rounded())
            default: return Int((r.serviceLevel * 100).rounded())
            }
        }
        let table = ChargingReport(summary: "", columns: ["interval", figure],
                                   rows: rows.map { [f.string(from: Date(timeIntervalSince1970: Double($0.startMs) / 1000)), String(value($0))] })
        let unit = figure == "service_level" ? " (%)" : figure == "asa" || figure == "aht" ? " (s)" : ""
        return ChargeFormatter.svgChart(table, value: figure, title: "\(figure)\(unit) per \(interval), \(grouping == "total" ? "all calls" : "\(grouping) \(key)")")
    }

    public static func csv(_ report: StatisticsReport, utcOffset: Int) -> String {
        func esc(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"\(s.replacingOccurrences(of: "\"", with: "\"\""))\"" : s }
        let body = report.rows.map { r -> String in
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(secondsFromGMT: utcOffset)
            f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
            return [f.string(from: Date(timeIntervalSince1970: Double(r.startMs) / 1000)), esc(r.key), String(r.offered), String(r.answered),
                    String(r.abandoned), String(r.shortAbandoned), String(format: "%.4f", r.abandonRate), String(format: "%.2f", r.asaSeconds),
                    String(format: "%.4f", r.serviceLevel), String(format: "%.2f", r.ahtSeconds), String(format: "%.2f", r.talkSeconds),
                    String(format: "%.2f", r.longestWaitSeconds), r.occupancy < 0 ? "" : String(format: "%.4f", r.occupancy)].joined(separator: ",")
        }
        return ([columns.joined(separator: ",")] + body).joined(separator: "\n")
    }

    public static func json(_ report: StatisticsReport) -> String {
        let rows: [[String: Any]] = report.rows.map { r in
            var d: [String: Any] = ["interval_start": Double(r.startMs) / 1000, "key": r.key, "offered": r.offered, "answered": r.answered,
                                    "abandoned": r.abandoned, "short_abandoned": r.shortAbandoned, "abandon_rate": r.abandonRate,
                                    "asa_seconds": r.asaSeconds, "service_level": r.serviceLevel, "aht_seconds": r.ahtSeconds,
                                    "talk_seconds": r.talkSeconds, "longest_wait_seconds": r.longestWaitSeconds]
            if r.occupancy >= 0 { d["occupancy"] = r.occupancy }
            return d
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["rows": rows], options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
