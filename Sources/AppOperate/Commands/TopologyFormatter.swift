import Foundation
import Protocol

/// Renders a topology report for `app-operate status`.
public enum TopologyFormatter {
    public static func table(_ report: TopologyReport) -> String {
        let header = ["ROLE", "NAME", "ADDRESS", "ATTACHED-TO", "UPTIME", "SOFTWARE", "PROTO", "STATE"]
        let rows = report.nodes.map { n in
            [n.role.description, n.name, n.address, n.attachedTo.isEmpty ? "-" : n.attachedTo, formatUptime(n.uptimeSeconds),
             n.software.isEmpty ? "-" : n.software, n.protocolVersion == 0 ? "-" : "v\(n.protocolVersion)", n.state]
        }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        let counts = Dictionary(grouping: report.nodes, by: \.role).mapValues(\.count)
        let summary = "ct=\(counts[.ctServer] ?? 0) flow=\(counts[.flowServer] ?? 0) app=\(counts[.appOperate] ?? 0)"
        return ([line(header)] + rows.map(line) + [summary]).joined(separator: "\n")
    }

    public static func json(_ report: TopologyReport) -> String {
        let nodes: [[String: Any]] = report.nodes.map { n in
            ["role": n.role.description, "name": n.name, "address": n.address, "attached_to": n.attachedTo,
             "uptime_seconds": n.uptimeSeconds, "software": n.software, "protocol_version": Int(n.protocolVersion), "state": n.state]
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["nodes": nodes], options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
