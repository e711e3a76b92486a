import Foundation
import Metrics
import Protocol

/// A browser's login: the operator, the CSRF token every state-changing request must carry,
/// the operator's link to the Flow-Server, and the page's WebSockets (events fan out to all).
final class WebSession: @unchecked Sendable {
    let id: String
    let csrf: String
    let code: String
    let name: String
    let roles: Set<String>
    let link: OperatorLink
    let createdAt = Date()
    private let lock = NSLock()
    private var sockets: [UUID: AsyncStream<String>.Continuation] = [:]
    private var seen = Date()
    private(set) var agentState: String
    private var boardWatched = false
    /// True the first time only: the board is watched once per session (its first supervisor WebSocket).
    func startWatchingBoard() -> Bool {
        lock.withLock {
            defer { boardWatched = true }
            return !boardWatched
        }
    }

    init(code: String, name: String, roles: [String], state: String, link: OperatorLink) {
        id = WebSecurity.token()
        csrf = WebSecurity.token()
        self.code = code
        self.name = name
        self.roles = Set(roles)
        agentState = state
        self.link = link
    }

    func has(anyOf wanted: Set<String>) -> Bool { !roles.isDisjoint(with: wanted) }

    func touch() { lock.withLock { seen = Date() } }
    var lastSeen: Date { lock.withLock { seen } }
    func setState(_ s: String) { lock.withLock { if !s.isEmpty { agentState = s } } }

    /// A page opened a WebSocket: the stream it writes from.
    func attach() -> (UUID, AsyncStream<String>) {
        let id = UUID()
        let (stream, k) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        lock.withLock { sockets[id] = k }
        return (id, stream)
    }

    func detach(_ id: UUID) {
        let k = lock.withLock { sockets.removeValue(forKey: id) }
        k?.finish()
    }

    var socketCount: Int { lock.withLock { sockets.count } }

    func push(_ json: String) {
        let ks = lock.withLock { Array(sockets.values) }
        for k in ks { k.yield(json) }
    }

    /// Closes every WebSocket (logout, link lost, expiry) after telling them why.
    func end(_ why: String) {
        push(WebJSON.string(["type": "ended", "reason": why]))
        let ks = lock.withLock { () -> [AsyncStream<String>.Continuation] in
            defer { sockets.removeAll() }
            return Array(sockets.values)
        }
        for k in ks { k.finish() }
        link.close()
    }
}

/// Sessions by their cookie, expiry after idle time, and the login lockout: as on the binary
/// link, five wrong passwords for a work code lock it out (here for 15 minutes).
final class WebSessionStore: @unchecked Sendable {
    private let lock = NSLock()
    private var sessions: [String: WebSession] = [:]
    private var failures: [String: [Date]] = [:]
    let idle: TimeInterval
    static let maximumFailures = 5
    static let lockout: TimeInterval = 15 * 60

    init(idleMinutes: Int) { idle = TimeInterval(max(1, idleMinutes) * 60) }

    func add(_ s: WebSession) {
        lock.withLock { sessions[s.id] = s }
        updateGauges()
    }

    func find(_ id: String?) -> WebSession? {
        guard let id else { return nil }
        let s = lock.withLock { sessions[id] }
        guard let s else { return nil }
        if Date().timeIntervalSince(s.lastSeen) > idle {
            remove(s, why: "the session expired")
            return nil
        }
        s.touch()
        return s
    }

    func remove(_ s: WebSession, why: String) {
        let had = lock.withLock { sessions.removeValue(forKey: s.id) != nil }
        if had { s.end(why) }
        updateGauges()
    }

    var all: [WebSession] { lock.withLock { Array(sessions.values) } }

    /// Expires idle sessions (called every minute). A page with its WebSocket open is in use
    /// (a wallboard left on a screen all day), however long since its last click.
    func sweep() {
        for s in all {
            if s.socketCount > 0 { s.touch(); continue }
            if Date().timeIntervalSince(s.lastSeen) > idle { remove(s, why: "the session expired") }
        }
    }

    func updateGauges() {
        let (n, ws) = lock.withLock { (sessions.count, sessions.values.reduce(0) { $0 + $1.socketCount }) }
        Gauge(label: "hotline_web_sessions").record(n)
        Gauge(label: "hotline_web_websockets").record(ws)
    }

    /// Seconds until `code` may try again (nil: not locked out).
    func lockedOut(_ code: String) -> Int? {
        lock.withLock {
            let recent = (failures[code] ?? []).filter { Date().timeIntervalSince($0) < Self.lockout }
            failures[code] = recent
            guard recent.count >= Self.maximumFailures, let last = recent.last else { return nil }
            return max(1, Int(Self.lockout - Date().timeIntervalSince(last)))
        }
    }

    func failed(_ code: String) { lock.withLock { failures[code, default: []].append(Date()) } }
    func succeeded(_ code: String) { lock.withLock { failures[code] = nil } }
}

enum WebSecurity {
    /// 32 random bytes, hex (session ids, CSRF tokens).
    static func token() -> String { Crypto.randomBytes(32).map { String(format: "%02x", $0) }.joined() }

    /// Compares without an early exit (a token's prefix is not leaked by timing).
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }
}

enum WebJSON {
    static func string(_ object: Any) -> String { JSONText.encode(object) }

    static func reply(_ r: AgentReply) -> [String: Any] {
        ["state": r.state, "text": r.text, "fields": r.fields, "rows": r.rows]
    }

    static func board(_ v: BoardView) -> [String: Any] {
        ["type": "board", "full": v.full, "generated_ms": v.generatedMs, "changed_ms": v.changedMs,
         "queues": v.queues.map { ["name": $0.name, "figures": $0.figures, "callers": $0.callers] as [String: Any] },
         "agents": v.agents, "removed_agents": v.removedAgents, "following": v.following]
    }

    static func table(summary: String, columns: [String], rows: [[String]]) -> [String: Any] {
        ["summary": summary, "columns": columns, "rows": rows]
    }

    static func customer(_ c: CustomerMessage) -> [String: Any] {
        ["id": c.id, "account": c.account, "name": c.name, "phones": c.phones, "fields": c.fields]
    }
}
