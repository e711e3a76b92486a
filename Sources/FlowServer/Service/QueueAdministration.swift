import Foundation
import Protocol
import Yams

/// Queues administered from App-Operate (AdminRequest queue-show / queue-set, docs/protocol.md
/// §20): the settings stay in queues.yaml (flows as code), an edit is checked by the same rules
/// as the file (`QueueSettings.parse`), written atomically, audited in `admin_audit`, applied
/// here at once and sent to the other Flow-Servers (QueueSettingsChanged inside PeerBroadcast),
/// which write and apply it too — no restart anywhere.
extension FlowService {
    static let queueColumns = ["queue", "strategy", "skills", "escalate_after_seconds", "escalation_step", "service_level_seconds",
                               "max_wait_seconds", "hours", "weekdays", "recording", "survey_flow"]
    static let queueKeys = Set(queueColumns.dropFirst())
    static let globalKeys: Set<String> = ["ring_timeout_ms", "wrap_up_seconds", "disconnect_grace_seconds", "sticky_window_seconds"]

    /// queue-show: every queue's settings as the file has them (flow style), and the global ones.
    func queueShow(_ m: AdminRequest, _ conn: Connection, _ frame: Frame) {
        guard let file = queuesFile else { return refuse(conn, frame, "this flow-server has no flows folder (queues.yaml)") }
        do {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            let root = try Self.queueDocument(text)
            var rows: [[String]] = []
            let queues = root["queues"]?.mapping
            for (k, v) in queues ?? [:] {
                guard let name = k.string, m.arguments["queue"].map({ $0 == name }) ?? true else { continue }
                rows.append(Self.queueColumns.map { c in c == "queue" ? name : (v.mapping?[c]).map(Self.flow) ?? "" })
            }
            rows.sort { $0[0] < $1[0] }
            if let q = m.arguments["queue"], rows.isEmpty { return refuse(conn, frame, "no queue \(q) in queues.yaml") }
            let globals = Self.globalKeys.sorted().compactMap { k in root[k].map { "\(k)=\(Self.flow($0))" } }
            conn.respond(to: frame, with: AdminReply(summary: "\(rows.count) queues" + (globals.isEmpty ? "" : "; " + globals.joined(separator: " ")),
                                                     columns: Self.queueColumns, rows: rows))
        } catch {
            refuse(conn, frame, "\(error)")
        }
    }

    /// queue-set queue=NAME KEY=VALUE…: a value is YAML (`{sales: 3}`, `[mon, tue]`, `20`), "-"
    /// removes the key; `create=yes` adds a new queue. Global keys need no queue.
    func queueSet(_ m: AdminRequest, admin: String, _ conn: Connection, _ frame: Frame) {
        guard let file = queuesFile else { return refuse(conn, frame, "this flow-server has no flows folder (queues.yaml)") }
        var changes = m.arguments
        let queue = changes.removeValue(forKey: "queue") ?? ""
        let create = changes.removeValue(forKey: "create") == "yes"
        guard !changes.isEmpty else { return refuse(conn, frame, "queue-set needs at least one setting: \(Self.queueKeys.union(Self.globalKeys).sorted().joined(separator: ", "))") }
        let before = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        let after: String
        do {
            after = try Self.edit(before, queue: queue, create: create, changes: changes)
            _ = try QueueSettings.parse(after)
        } catch {
            return refuse(conn, frame, "\(error)")
        }
        do {
            try Self.writeAtomically(after, to: file)
        } catch {
            return refuse(conn, frame, "queues.yaml not written: \(error)")
        }
        reloadQueues(force: true)
        if let c = ctLink.connection, c.isEstablished { c.sendEvent(PeerBroadcast(QueueSettingsChanged(yaml: after, admin: admin))) }
        logger.notice("queues.yaml changed by admin \(admin): \(queue.isEmpty ? "" : "queue \(queue) ")\(changes.keys.sorted().joined(separator: ", "))")
        let summary = "\(queue.isEmpty ? "settings" : "queue \(queue)") updated: " + changes.keys.sorted().map { "\($0)=\(changes[$0]!)" }.joined(separator: " ")
        guard databaseURL != nil else { conn.respond(to: frame, with: AdminReply(summary: summary + " (no database: not audited)")); return }
        let detail = (try? JSONSerialization.data(withJSONObject: changes.merging(["create": create ? "yes" : "no"]) { a, _ in a }, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        database(conn, frame) { db in
            try db.execute("INSERT INTO admin_audit (admin, action, target, detail) VALUES ($1, 'queue-set', $2, $3::jsonb)",
                           [admin, queue.isEmpty ? "*" : queue, detail])
            return AdminReply(summary: summary)
        }
    }

    /// Another Flow-Server's admin changed queues.yaml: the same file here, applied at once.
    func queueSettingsChanged(_ m: QueueSettingsChanged, from peer: String) {
        guard let file = queuesFile else { return }
        do {
            _ = try QueueSettings.parse(m.yaml)
            if (try? String(contentsOf: file, encoding: .utf8)) != m.yaml { try Self.writeAtomically(m.yaml, to: file) }
            reloadQueues(force: true)
            logger.notice("queues.yaml changed by admin \(m.admin) on \(peer): applied")
        } catch {
            logger.error("queues.yaml from \(peer) refused: \(error)")
        }
    }

    private func refuse(_ conn: Connection, _ frame: Frame, _ why: String) {
        conn.respond(to: frame, error: ProtocolError(.badMessage, why))
    }

    static func queueDocument(_ text: String) throws -> Node {
        try YAMLLimits.check(text)
        return try Yams.compose(yaml: text) ?? Node.mapping([:])
    }

    /// A node in YAML flow style on one line (`{policy: all}`, `[mon, tue]`, `20`).
    static func flow(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return s.string
        case .sequence(let s): return "[" + s.map(flow).joined(separator: ", ") + "]"
        case .mapping(let m): return "{" + m.map { "\(flow($0.key)): \(flow($0.value))" }.joined(separator: ", ") + "}"
        @unknown default: return ""
        }
    }

    /// The file's text with the changes applied (comments are not kept: an edit rewrites it).
    static func edit(_ text: String, queue: String, create: Bool, changes: [String: String]) throws -> String {
        guard var top = try queueDocument(text).mapping else { throw QueueSettings.ParseError(description: "queues.yaml is not a mapping") }
        func value(_ k: String, _ v: String) throws -> Node? {
            if v == "-" { return nil }
            guard let n = try Yams.compose(yaml: v) else { throw QueueSettings.ParseError(description: "\(k): empty value") }
            return n
        }
        for (k, v) in changes where Self.globalKeys.contains(k) { top[k] = try value(k, v) }
        let queueChanges = changes.filter { !Self.globalKeys.contains($0.key) }
        if !queueChanges.isEmpty {
            guard !queue.isEmpty else { throw QueueSettings.ParseError(description: "queue settings need queue=NAME") }
            for k in queueChanges.keys where !Self.queueKeys.contains(k) {
                throw QueueSettings.ParseError(description: "unknown queue setting \(k) (known: \(Self.queueKeys.sorted().joined(separator: ", ")))")
            }
            var queues = top["queues"]?.mapping ?? Node.Mapping([])
            guard create || queues[queue] != nil else { throw QueueSettings.ParseError(description: "no queue \(queue) in queues.yaml (create=yes adds it)") }
            guard !create || queues[queue] == nil else { throw QueueSettings.ParseError(description: "queue \(queue) exists already") }
            var q = queues[queue]?.mapping ?? Node.Mapping([])
            for (k, v) in queueChanges.sorted(by: { $0.key < $1.key }) { q[k] = try value(k, v) }
            queues[queue] = .mapping(q)
            top["queues"] = .mapping(queues)
        }
        let root = Node.mapping(top)
        return "# Edited with app-operate admin queue set (admin_audit has who, when and what).\n" + (try Yams.serialize(node: root))
    }

    static func writeAtomically(_ text: String, to file: URL) throws {
        let tmp = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
        try Data(text.utf8).write(to: tmp)
        if rename(tmp.path, file.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown)
        }
    }
}
