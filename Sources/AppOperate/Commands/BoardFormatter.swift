import Foundation
import Protocol

/// The wallboard as App-Operate keeps it (the whole board, then its pushed changes) and shows it.
public struct BoardModel: Sendable {
    public private(set) var queues: [String: BoardView.Queue] = [:]
    public private(set) var agents: [String: [String: String]] = [:]
    public init() {}

    public mutating func apply(_ v: BoardView) {
        if v.full {
            queues = [:]
            agents = [:]
        }
        for q in v.queues { queues[q.name] = q }
        for a in v.agents { if let code = a["agent"] { agents[code] = a } }
        for r in v.removedAgents { agents.removeValue(forKey: r) }
    }
}

public enum BoardFormatter {
    static func pct(_ s: String?) -> String { s.flatMap(Double.init).map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
    static func secs(_ s: String?) -> String { s.flatMap(Double.init).map { String(format: "%.0f", $0) } ?? "-" }

    static func columns(_ header: [String], _ rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return [line(header)] + rows.map(line)
    }

    /// Queues (waiting, longest wait, agents by state, then today and the last 15 minutes), the
    /// waiting callers, and the agents.
    public static func table(_ m: BoardModel) -> String {
        let qs = m.queues.values.sorted { $0.name < $1.name }
        var out: [String] = []
        let header = ["QUEUE", "WAIT", "LONGEST", "READY", "TALK", "WRAP", "NOTRDY", "| TODAY offered", "ans", "aband", "SL", "ASA", "AHT", "occ",
                      "| 15 MIN offered", "ans", "aband", "SL", "ASA", "AHT", "occ"]
        out += columns(header, qs.map { q in
            let f = q.figures
            var row = [q.name, f["waiting"] ?? "0", secs(f["longest_wait_seconds"]), f["agents_ready"] ?? "0",
                       String((Int(f["agents_talking"] ?? "0") ?? 0) + (Int(f["agents_held"] ?? "0") ?? 0)), f["agents_wrap-up"] ?? "0", f["agents_not-ready"] ?? "0"]
            for p in ["day_", "m15_"] {
                row += ["| " + (f[p + "offered"] ?? "0"), f[p + "answered"] ?? "0", f[p + "abandoned"] ?? "0", pct(f[p + "service_level"]),
                        secs(f[p + "asa_seconds"]), secs(f[p + "aht_seconds"]), pct(f[p + "occupancy"])]
            }
            return row
        })
        let waiting = qs.flatMap { q in q.callers.map { [q.name, $0["caller"] ?? "", secs($0["wait_seconds"]), $0["priority"] ?? "0", $0["server"] ?? ""] } }
        if !waiting.isEmpty {
            out.append("")
            out += columns(["QUEUE", "CALLER", "WAITING", "PRIORITY", "FLOW-SERVER"], waiting)
        }
        let agents = m.agents.values.sorted { ($0["agent"] ?? "") < ($1["agent"] ?? "") }
        if !agents.isEmpty {
            out.append("")
            out += columns(["AGENT", "STATE", "FOR", "CALLS", "TALK", "QUEUES", "FLOW-SERVER"], agents.map { a in
                [a["agent"] ?? "", (a["state"] ?? "") + (a["reason"].map { " (\($0))" } ?? ""), secs(a["since_seconds"]) + " s", a["calls"] ?? "0",
                 secs(a["talk_seconds"]) + " s", a["queues"] ?? "", a["server"] ?? ""]
            })
        }
        return out.joined(separator: "\n")
    }

    /// One view as a JSON object (one line): full, generated_ms, changed_ms, queues, agents, removed.
    public static func json(_ v: BoardView, receivedMs: UInt64? = nil) -> String {
        var o: [String: Any] = ["full": v.full, "generated_ms": v.generatedMs, "changed_ms": v.changedMs,
                                "queues": v.queues.map { ["name": $0.name, "figures": $0.figures, "callers": $0.callers] as [String: Any] },
                                "agents": v.agents, "removed": v.removedAgents]
        if let receivedMs { o["received_ms"] = receivedMs }
        guard let d = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}
