import Foundation
import Protocol

/// The live wallboard of every Flow-Server behind the CT-Server, as a value type: each
/// server's `BoardUpdate`s go in (this server's own too), the changed queues and agents come
/// out, and the views are computed from it. Time is given, never read.
///
/// - Waiting callers and agents are each server's own, replaced whole by its updates; a server
///   not heard of for 30 s leaves the board (its full update every 10 s is the heartbeat).
/// - Finished calls of today (since local midnight) are kept by call id and counted with
///   `Statistics.Accumulator` — the report's own arithmetic — so the day's figures equal
///   `app-operate report` for the same calls. A call written again (an adopter's record
///   replacing a lost one, a wrap-up that ended) replaces its facts.
/// - Occupancy is handle time over staffed time (states but logged-out and not-ready). Staffed
///   time is the agent periods the board saw end (from its updates), those of today that had
///   ended before it started (`seed`), and each agent's current period.
struct Wallboard {
    struct Agent: Equatable {
        var server: String
        var row: BoardUpdate.Agent
        var since: Double { Double(row.sinceMs) / 1000 }
    }

    struct Changes: Equatable {
        var queues: Set<String> = []
        var agents: Set<String> = []
        var removed: Set<String> = []
        var isEmpty: Bool { queues.isEmpty && agents.isEmpty && removed.isEmpty }
        mutating func formUnion(_ o: Changes) {
            queues.formUnion(o.queues)
            agents.formUnion(o.agents)
            removed.formUnion(o.removed)
            removed.subtract(agents)
        }
    }

    /// Server → queue → its waiting callers there.
    private(set) var waiting: [String: [String: [BoardUpdate.Caller]]] = [:]
    private(set) var agents: [String: Agent] = [:]
    /// Queue → the agents serving it (kept with `agents`).
    private var members: [String: Set<String>] = [:]
    private(set) var lastHeard: [String: Double] = [:]
    /// Today's finished calls that were queued, by id, and each queue's ids.
    private(set) var facts: [String: CallFacts] = [:]
    private var factsByQueue: [String: Set<String>] = [:]
    /// Staffed seconds today per agent, and per minute (minute number since 1970 → seconds), the last 16 minutes.
    private var staffedDay: [String: Double] = [:]
    private var staffedMinutes: [String: [Int: Double]] = [:]
    /// Queues that exist even with nobody in them (this server's settings).
    var configuredQueues: Set<String> = []
    /// Local midnight of today, and the zone offset it was computed with.
    private(set) var dayStart: Double
    let utcOffset: (Double) -> Double
    static let serverTimeout = 30.0
    static let window = 900.0
    static let callersShown = 100

    init(now: Double, utcOffset: @escaping (Double) -> Double = { Double(TimeZone.current.secondsFromGMT(for: Date(timeIntervalSince1970: $0))) }) {
        self.utcOffset = utcOffset
        dayStart = Self.midnight(now, utcOffset)
    }

    static func midnight(_ t: Double, _ offset: (Double) -> Double) -> Double {
        let o = offset(t)
        return ((t + o) / 86400).rounded(.down) * 86400 - o
    }

    var queueNames: Set<String> {
        var q = configuredQueues.union(factsByQueue.keys)
        for byQueue in waiting.values { q.formUnion(byQueue.keys) }
        for a in agents.values { q.formUnion(a.row.queues) }
        return q
    }

    // MARK: updates

    mutating func apply(_ u: BoardUpdate, now: Double) -> Changes {
        var ch = Changes()
        lastHeard[u.server] = now
        if u.full {
            for (q, list) in waiting[u.server] ?? [:] where u.waiting[q] == nil && !list.isEmpty { ch.queues.insert(q) }
            waiting[u.server] = [:]
            let present = Set(u.roster ?? u.agents.map(\.code))
            for (code, a) in agents where a.server == u.server && !present.contains(code) { ch.formUnion(removeAgent(code, at: now)) }
        }
        for (q, list) in u.waiting {
            if waiting[u.server]?[q] != list { ch.queues.insert(q) }
            waiting[u.server, default: [:]][q] = list.isEmpty ? nil : list
        }
        for a in u.agents {
            let before = agents[a.code]
            if let b = before, b.row == a, b.server == u.server { continue }
            if let b = before, b.row.sinceMs != a.sinceMs || b.row.state != a.state {
                // The period the agent was in ended when the new one began.
                addStaffed(a.code, state: b.row.state, from: b.since, to: Double(a.sinceMs) / 1000)
            }
            if let b = before { for q in b.row.queues { members[q]?.remove(a.code) } }
            for q in a.queues { members[q, default: []].insert(a.code) }
            agents[a.code] = Agent(server: u.server, row: a)
            ch.agents.insert(a.code)
            ch.queues.formUnion(a.queues)
            if let b = before { ch.queues.formUnion(b.row.queues) }
        }
        for code in u.removedAgents where agents[code]?.server == u.server { ch.formUnion(removeAgent(code, at: Double(u.sentMs) / 1000)) }
        for c in u.calls {
            if let q = addCall(Self.facts(c)) { ch.queues.insert(q) }
        }
        return ch
    }

    private mutating func removeAgent(_ code: String, at t: Double) -> Changes {
        guard let a = agents.removeValue(forKey: code) else { return Changes() }
        for q in a.row.queues { members[q]?.remove(code) }
        addStaffed(code, state: a.row.state, from: a.since, to: max(a.since, t))
        return Changes(queues: Set(a.row.queues), removed: [code])
    }

    /// A finished call (or a finished call again, with its final figures); returns its queue.
    @discardableResult
    mutating func addCall(_ f: CallFacts) -> String? {
        guard let id = f.id, let q = f.queue, f.arrivedAt >= dayStart else { return nil }
        if let old = facts[id], let oq = old.queue, oq != q { factsByQueue[oq]?.remove(id) }
        facts[id] = f
        factsByQueue[q, default: []].insert(id)
        return q
    }

    /// A finished call's wrap-up ended: its handle time grows (the agent's wrap-up of its call only).
    mutating func wrapUp(call id: String, agent: String, seconds: Double) -> String? {
        guard var f = facts[id], f.agent == agent else { return nil }
        f.wrapupSeconds = seconds
        facts[id] = f
        return f.queue
    }

    /// Today's calls and agent periods from the database (at start, and again now and then):
    /// the database's version of a call replaces the board's; periods are taken only when they
    /// ended before `before` (the board counts the later ones itself).
    mutating func seed(calls: [CallFacts], periods: [AgentPeriod], before: Double, firstTime: Bool) -> Changes {
        var ch = Changes()
        for c in calls where c.queue != nil && c.id != nil {
            if facts[c.id!] != c, let q = addCall(c) { ch.queues.insert(q) }
        }
        if firstTime {
            for p in periods where p.end <= before { addStaffed(p.agent, state: p.state, from: p.start, to: p.end) }
        }
        return ch
    }

    private mutating func addStaffed(_ agent: String, state: String, from: Double, to: Double) {
        guard Statistics.isStaffed(state) else { return }
        let start = max(from, dayStart)
        guard to > start else { return }
        staffedDay[agent, default: 0] += to - start
        var t = max(start, to - Self.window - 60)
        var minutes = staffedMinutes[agent] ?? [:]
        while t < to {
            let m = Int((t / 60).rounded(.down))
            let end = min(to, Double(m + 1) * 60)
            minutes[m, default: 0] += end - t
            t = end
        }
        let oldest = Int((to / 60).rounded(.down)) - 16
        minutes = minutes.filter { $0.key >= oldest }
        staffedMinutes[agent] = minutes
    }

    /// Servers gone silent leave the board; at local midnight the day's figures start again.
    mutating func expire(now: Double, except own: String) -> Changes {
        var ch = Changes()
        for (server, t) in lastHeard where server != own && now - t > Self.serverTimeout {
            lastHeard.removeValue(forKey: server)
            for (q, _) in waiting.removeValue(forKey: server) ?? [:] { ch.queues.insert(q) }
            for (code, a) in agents where a.server == server { ch.formUnion(removeAgent(code, at: now)) }
        }
        let midnight = Self.midnight(now, utcOffset)
        if midnight > dayStart {
            dayStart = midnight
            ch.queues.formUnion(queueNames)
            facts = facts.filter { $0.value.arrivedAt >= midnight }
            factsByQueue = [:]
            for (id, f) in facts { if let q = f.queue { factsByQueue[q, default: []].insert(id) } }
            staffedDay = [:]
        }
        return ch
    }

    // MARK: views

    func staffed(_ agent: String, now: Double, since start: Double) -> Double {
        var s: Double
        if start <= dayStart {
            s = staffedDay[agent] ?? 0
        } else {
            let first = Int((start / 60).rounded(.down))
            s = 0
            if let minutes = staffedMinutes[agent] { for (m, secs) in minutes where m >= first { s += secs } }
        }
        if let a = agents[agent], Statistics.isStaffed(a.row.state) { s += max(0, now - max(a.since, start)) }
        return s
    }

    func queueView(_ q: String, now: Double) -> BoardView.Queue {
        var callers: [(BoardUpdate.Caller, String)] = []
        for (server, byQueue) in waiting { for c in byQueue[q] ?? [] { callers.append((c, server)) } }
        callers.sort { $0.0.priority != $1.0.priority ? $0.0.priority > $1.0.priority : $0.0.arrivedMs < $1.0.arrivedMs }
        var f: [String: String] = ["waiting": String(callers.count)]
        let oldest = callers.map(\.0.arrivedMs).min()
        f["longest_wait_seconds"] = Self.fixed(oldest.map { max(0, now - Double($0) / 1000) } ?? 0, 1)
        let members = (self.members[q] ?? []).compactMap { agents[$0] }
        var byState: [String: Int] = [:]
        for a in members { byState[a.row.state, default: 0] += 1 }
        f["agents"] = String(members.count)
        for (state, n) in byState { f["agents_\(state)"] = String(n) }
        let ids = factsByQueue[q] ?? []
        var day = Statistics.Accumulator(start: dayStart, key: q), m15 = Statistics.Accumulator(start: now - Self.window, key: q)
        for id in ids {
            guard let c = facts[id] else { continue }
            if c.arrivedAt >= dayStart { day.add(c) }
            if c.arrivedAt >= now - Self.window { m15.add(c) }
        }
        for (prefix, start, acc) in [("day_", dayStart, day), ("m15_", now - Self.window, m15)] {
            let staffed = members.reduce(0.0) { $0 + self.staffed($1.row.code, now: now, since: start) }
            let r = acc.finished(staffed: staffed)
            f[prefix + "offered"] = String(r.offered)
            f[prefix + "answered"] = String(r.answered)
            f[prefix + "abandoned"] = String(r.abandoned)
            f[prefix + "short_abandoned"] = String(r.shortAbandoned)
            f[prefix + "abandon_rate"] = Self.fixed(r.abandonRate, 4)
            f[prefix + "service_level"] = Self.fixed(r.serviceLevel, 4)
            f[prefix + "asa_seconds"] = Self.fixed(r.asaSeconds, 3)
            f[prefix + "aht_seconds"] = Self.fixed(r.ahtSeconds, 3)
            f[prefix + "talk_seconds"] = Self.fixed(r.talkSeconds, 3)
            f[prefix + "longest_wait_seconds"] = Self.fixed(r.longestWaitSeconds, 3)
            if let o = r.occupancy { f[prefix + "occupancy"] = Self.fixed(o, 4) }
        }
        // The first 100 waiting callers (`waiting` counts them all).
        let rows = callers.prefix(Self.callersShown).map { c, server in
            ["call": c.call, "caller": c.caller, "arrived_ms": String(c.arrivedMs), "priority": String(c.priority), "server": server,
             "wait_seconds": Self.fixed(max(0, now - Double(c.arrivedMs) / 1000), 1)]
        }
        return BoardView.Queue(name: q, figures: f, callers: rows)
    }

    func agentView(_ code: String, now: Double) -> [String: String]? {
        guard let a = agents[code] else { return nil }
        var r: [String: String] = ["agent": code, "server": a.server, "state": a.row.state, "since_seconds": String(Int(max(0, now - a.since).rounded())),
                                   "calls": String(a.row.calls), "talk_seconds": String(a.row.talkMs / 1000), "queues": a.row.queues.joined(separator: ",")]
        if !a.row.reason.isEmpty { r["reason"] = a.row.reason }
        return r
    }

    func view(full: Bool, queues: Set<String>, agents codes: Set<String>, removed: Set<String>, now: Double, changedMs: UInt64) -> BoardView {
        BoardView(full: full, generatedMs: UInt64(max(0, now * 1000)), changedMs: changedMs,
                  queues: queues.sorted().map { queueView($0, now: now) },
                  agents: codes.sorted().compactMap { agentView($0, now: now) },
                  removedAgents: removed.subtracting(agents.keys).sorted())
    }

    func fullView(now: Double) -> BoardView {
        view(full: true, queues: queueNames, agents: Set(agents.keys), removed: [], now: now, changedMs: 0)
    }

    /// `v` with `places` decimals, rounded half away from zero ("%.Nf" without Foundation's
    /// formatter: a board of 200 queues formats thousands of figures per push).
    static func fixed(_ v: Double, _ places: Int) -> String {
        guard v.isFinite else { return "0" }
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let n = Int((abs(v) * Double(scale)).rounded())
        let whole = String(n / scale)
        guard places > 0 else { return (v < 0 && n != 0 ? "-" : "") + whole }
        let frac = String(n % scale)
        return (v < 0 && n != 0 ? "-" : "") + whole + "." + String(repeating: "0", count: places - frac.count) + frac
    }

    // MARK: wire ⇄ facts

    static func facts(_ c: BoardUpdate.Call) -> CallFacts {
        func s(_ ms: UInt64?) -> Double? { ms.map { Double($0) / 1000 } }
        var f = CallFacts(arrivedAt: Double(c.arrivedMs) / 1000, queuedAt: s(c.queuedMs), offeredAt: s(c.offeredMs), agentAnsweredAt: s(c.answeredMs),
                          endedAt: Double(c.endedMs) / 1000, queue: c.queue.isEmpty ? nil : c.queue, agent: c.agent.isEmpty ? nil : c.agent,
                          flow: c.flow.isEmpty ? nil : c.flow, disposition: c.disposition, holdSeconds: Double(c.holdMs) / 1000,
                          wrapupSeconds: Double(c.wrapupMs) / 1000, serviceLevelSeconds: Double(c.serviceLevelSeconds),
                          shortAbandonSeconds: Double(c.shortAbandonSeconds))
        f.id = c.id
        return f
    }

    static func wire(_ f: CallFacts) -> BoardUpdate.Call {
        func ms(_ s: Double?) -> UInt64? { s.map { UInt64(max(0, ($0 * 1000).rounded())) } }
        return BoardUpdate.Call(id: f.id ?? "", arrivedMs: ms(f.arrivedAt)!, queuedMs: ms(f.queuedAt), offeredMs: ms(f.offeredAt), answeredMs: ms(f.agentAnsweredAt),
                                endedMs: ms(f.endedAt)!, queue: f.queue ?? "", agent: f.agent ?? "", flow: f.flow ?? "", disposition: f.disposition,
                                holdMs: ms(f.holdSeconds)!, wrapupMs: ms(f.wrapupSeconds)!, serviceLevelSeconds: UInt32(max(0, f.serviceLevelSeconds)),
                                shortAbandonSeconds: UInt32(max(0, f.shortAbandonSeconds)))
    }
}
