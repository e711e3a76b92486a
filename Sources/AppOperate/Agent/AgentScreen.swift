import Foundation
import Protocol

/// What the agent console shows: a value built from the Flow-Server's agent events and
/// replies, and drawn as lines of text (so it is tested without a terminal).
public struct AgentScreen: Sendable {
    public var code: String
    public var name = ""
    public var server: String
    public var phone = ""
    public var mode = "phone"
    public var state = "logged-out"
    public var stateSince = Date()
    public var reason = ""
    /// The screen pop of the call offered now.
    public var offered: [String: String]?
    /// The call the agent is on.
    public var current: [String: String]?
    public var queue: [[String: String]] = []
    public var stats: [String: String] = [:]
    public var messages: [String] = []
    /// A line being typed (transfer target, not-ready reason …) and what it is for.
    public var input: (label: String, text: String)?
    public var showHelp = false

    public init(code: String, server: String) {
        self.code = code
        self.server = server
    }

    public mutating func note(_ s: String) {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        messages.append("\(f.string(from: Date()))  \(s)")
        if messages.count > 6 { messages.removeFirst(messages.count - 6) }
    }

    public mutating func apply(_ e: AgentEventMessage) {
        if !e.state.isEmpty, e.state != state {
            state = e.state
            stateSince = Date()
        }
        switch e.kind {
        case "state":
            reason = e.fields["reason"] ?? ""
            if state == "ready" || state == "not-ready" || state == "wrap-up" || state == "logged-out" { offered = nil }
        case "offered":
            offered = e.fields
            note("call offered: \(e.fields["caller"] ?? "?") in \(e.fields["queue"] ?? "?")")
        case "connected":
            current = (offered ?? [:]).merging(e.fields) { _, n in n }
            offered = nil
            note("connected to \(e.fields["caller"] ?? "?")")
        case "held": current?["held"] = "yes"; note("caller on hold")
        case "retrieved": current?["held"] = nil; note("caller back")
        case "conferenced": note("three-way call with \(e.fields["with"] ?? "?")")
        case "consult":
            current?["consult"] = "\(e.fields["target"] ?? "?") \(e.fields["state"] ?? "")"
            note("consultation \(e.fields["target"] ?? "?"): \(e.fields["state"] ?? "")\(e.fields["cause"].map { " (\($0))" } ?? "")")
        case "ended":
            note("call ended: \(e.fields["cause"] ?? "")")
            current = nil
            offered = nil
        case "notice": note(e.fields["text"] ?? "")
        default: note("\(e.kind)")
        }
    }

    static func clock(_ seconds: Int) -> String { String(format: "%02d:%02d", seconds / 60, seconds % 60) }

    public static let helpLine = "[r]eady [n]ot-ready [a]nswer re[j]ect [h]ang up h[o]ld [t]ransfer [c]onsult [k]complete [x]cancel [3]-way [f]low [d]ial [l]ogout [Q]uit [?]"

    public func render(width: Int = 100) -> [String] {
        let w = max(60, min(width, 160))
        func rule(_ title: String) -> String { "── \(title) " + String(repeating: "─", count: max(0, w - title.count - 4)) }
        func cut(_ s: String) -> String { s.count > w ? String(s.prefix(w - 1)) + "…" : s }
        var out: [String] = []
        let head = "Hotline agent \(code)\(name.isEmpty ? "" : " (\(name))")  phone \(phone) [\(mode)]"
        out.append(cut(head + String(repeating: " ", count: max(1, w - head.count - server.count)) + server))
        let since = Self.clock(Int(Date().timeIntervalSince(stateSince)))
        out.append(cut("State: \(state.uppercased())\(reason.isEmpty || state != "not-ready" ? "" : " (\(reason))")  \(since)    calls \(stats["calls"] ?? "0")  talk \(Self.clock(Int(stats["talk_seconds"] ?? "0") ?? 0))  logged in \(Self.clock(Int(stats["logged_in_seconds"] ?? "0") ?? 0))"))
        out.append(rule("Offered call"))
        if let o = offered {
            out.append(cut("  \(o["caller"] ?? "?") → \(o["called"] ?? "?")   queue \(o["queue"] ?? "?")   waited \(o["waited_seconds"] ?? "0") s\(o["callback"] != nil ? "   CALLBACK" : "")\(o["consult_from"].map { "   consultation from \($0)" } ?? "")"))
            let extra = o.filter { $0.key.hasPrefix("customer.") || $0.key.hasPrefix("var.") }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            out.append(cut("  " + (extra.isEmpty ? "(no call data)" : extra.joined(separator: "  "))))
            out.append("  press a to answer, j to reject")
        } else {
            out.append("  (none)")
        }
        out.append(rule("Current call"))
        if let c = current {
            out.append(cut("  \(c["caller"] ?? "?")   queue \(c["queue"] ?? "?")\(c["held"] != nil ? "   ON HOLD" : "")\(c["consult"].map { "   consult \($0)" } ?? "")"))
            let extra = c.filter { $0.key.hasPrefix("customer.") }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            if !extra.isEmpty { out.append(cut("  " + extra.joined(separator: "  "))) }
        } else {
            out.append("  (none)")
        }
        out.append(rule("Queue (\(queue.count) waiting)"))
        for r in queue.prefix(5) {
            out.append(cut("  \(r["position"] ?? "?"). \(r["caller"] ?? "?")  \(r["queue"] ?? "")  waiting \(Self.clock(Int(r["waited_seconds"] ?? "0") ?? 0))"))
        }
        if queue.isEmpty { out.append("  (empty)") }
        out.append(rule("Messages"))
        out += messages.map { cut("  " + $0) }
        if let input { out.append("") ; out.append(cut("\(input.label): \(input.text)_")) }
        out.append("")
        out.append(cut(showHelp ? Self.helpText : Self.helpLine))
        return out
    }

    static let helpText = "r ready · n not ready (reason) · a answer · j reject · h hang up · o hold/retrieve · t blind transfer (agent:CODE, queue:NAME, flow:NAME, number) · c consult · k complete · x cancel · 3 three-way · f return to flow · d dial (agent:CODE or number) · l log out · Q quit"
}
