import Foundation

/// What statistics need to know of a call (a row of `calls` with its queue's thresholds).
public struct CallFacts: Sendable, Equatable {
    /// The call's id (calls.call_id), when known.
    public var id: String?
    public var arrivedAt: Double
    public var queuedAt: Double?
    public var offeredAt: Double?
    public var agentAnsweredAt: Double?
    public var endedAt: Double
    public var queue: String?
    public var agent: String?
    public var flow: String?
    public var disposition: String
    public var holdSeconds: Double
    public var wrapupSeconds: Double
    /// The queue's service-level and short-abandon thresholds (defaults 20 s and 5 s).
    public var serviceLevelSeconds: Double
    public var shortAbandonSeconds: Double

    public init(arrivedAt: Double, queuedAt: Double? = nil, offeredAt: Double? = nil, agentAnsweredAt: Double? = nil, endedAt: Double,
                queue: String? = nil, agent: String? = nil, flow: String? = nil, disposition: String, holdSeconds: Double = 0,
                wrapupSeconds: Double = 0, serviceLevelSeconds: Double = 20, shortAbandonSeconds: Double = 5) {
        self.arrivedAt = arrivedAt
        self.queuedAt = queuedAt
        self.offeredAt = offeredAt
        self.agentAnsweredAt = agentAnsweredAt
        self.endedAt = endedAt
        self.queue = queue
        self.agent = agent
        self.flow = flow
        self.disposition = disposition
        self.holdSeconds = holdSeconds
        self.wrapupSeconds = wrapupSeconds
        self.serviceLevelSeconds = serviceLevelSeconds
        self.shortAbandonSeconds = shortAbandonSeconds
    }
}

/// A period of an agent's state.
public struct AgentPeriod: Sendable, Equatable {
    public var agent: String
    public var state: String
    public var start: Double
    public var end: Double
    public init(agent: String, state: String, start: Double, end: Double) {
        self.agent = agent
        self.state = state
        self.start = start
        self.end = end
    }
}

/// Statistics by interval and by queue, agent or flow (seed 2.7 / 4.2.4, 话务工作量统计).
///
/// Definitions (docs/operations.md): *offered* — calls that entered the group (the queue, were
/// offered to the agent, entered the flow; for `total`, every call); *answered* — answered by an
/// agent; *abandoned* — queued, never answered, the caller hung up; *short abandoned* — abandoned
/// within the queue's short-abandon threshold, left out of the rates; *abandon rate* —
/// (abandoned − short) / (offered − short); *ASA* — mean wait to agent answer; *service level*
/// (TSF) — answered within the queue's threshold / (offered − short); *AHT* — mean talk + hold +
/// wrap-up; *talk time* — total talk, hold excluded; *longest wait* — the longest queue wait,
/// answered or not; *occupancy* (agents) — handle time / staffed time (states other than
/// logged-out and not-ready). A call counts in the interval it arrived in.
public enum Statistics {
    public enum Grouping: String, Sendable, CaseIterable { case total, queue, agent, flow }
    public enum Interval: String, Sendable, CaseIterable {
        case quarterHour = "15m", hour, day
        public var seconds: Double { self == .quarterHour ? 900 : self == .hour ? 3600 : 86400 }
    }

    public struct Row: Sendable, Equatable, Codable {
        public var start: Double
        public var key: String
        public var offered = 0
        public var answered = 0
        public var abandoned = 0
        public var shortAbandoned = 0
        public var abandonRate = 0.0
        public var asaSeconds = 0.0
        public var serviceLevel = 0.0
        public var ahtSeconds = 0.0
        public var talkSeconds = 0.0
        public var longestWaitSeconds = 0.0
        /// Agents only.
        public var occupancy: Double?
        public init(start: Double, key: String) {
            self.start = start
            self.key = key
        }
    }

    static func bucket(_ t: Double, _ interval: Interval, utcOffset: Double) -> Double {
        ((t + utcOffset) / interval.seconds).rounded(.down) * interval.seconds - utcOffset
    }

    /// One row's sums: calls added one by one, the rates computed at the end. The report and
    /// the live wallboard both count with it, so their figures for the same calls are equal.
    public struct Accumulator: Sendable {
        public var row: Row
        public var waitAnswered = 0.0, handle = 0.0, answeredInSL = 0
        public init(start: Double, key: String) { row = Row(start: start, key: key) }

        public mutating func add(_ c: CallFacts) {
            row.offered += 1
            let waitStart = c.queuedAt ?? c.arrivedAt
            if let ans = c.agentAnsweredAt {
                row.answered += 1
                let wait = ans - waitStart
                waitAnswered += wait
                if wait <= c.serviceLevelSeconds { answeredInSL += 1 }
                let connected = c.endedAt - ans
                handle += connected + c.wrapupSeconds
                row.talkSeconds += max(0, connected - c.holdSeconds)
                row.longestWaitSeconds = max(row.longestWaitSeconds, wait)
            } else if c.queuedAt != nil {
                let wait = c.endedAt - waitStart
                row.longestWaitSeconds = max(row.longestWaitSeconds, wait)
                if c.disposition == "abandoned" {
                    row.abandoned += 1
                    if wait < c.shortAbandonSeconds { row.shortAbandoned += 1 }
                }
            }
        }

        /// The row with its rates (occupancy: handle time over `staffed` seconds, when given).
        public func finished(staffed: Double? = nil) -> Row {
            var r = row
            let base = Double(r.offered - r.shortAbandoned)
            r.abandonRate = base > 0 ? Double(r.abandoned - r.shortAbandoned) / base : 0
            r.serviceLevel = base > 0 ? Double(answeredInSL) / base : 0
            r.asaSeconds = r.answered > 0 ? waitAnswered / Double(r.answered) : 0
            r.ahtSeconds = r.answered > 0 ? handle / Double(r.answered) : 0
            if let staffed { r.occupancy = staffed > 0 ? handle / staffed : nil }
            return r
        }
    }

    public static func compute(calls: [CallFacts], periods: [AgentPeriod] = [], grouping: Grouping, interval: Interval,
                               utcOffset: Double = 0) -> [Row] {
        typealias Acc = Accumulator
        var acc: [String: Acc] = [:]
        for c in calls {
            let key: String
            switch grouping {
            case .total: key = "all"
            case .queue: guard let q = c.queue else { continue }; key = q
            case .agent: guard let a = c.agent else { continue }; key = a
            case .flow: guard let f = c.flow else { continue }; key = f
            }
            let start = bucket(c.arrivedAt, interval, utcOffset: utcOffset)
            let id = "\(start)|\(key)"
            var a = acc[id] ?? Acc(start: start, key: key)
            a.add(c)
            acc[id] = a
        }
        var rows: [Row] = []
        for (_, a) in acc {
            var staffed: Double?
            if grouping == .agent {
                let b0 = a.row.start, b1 = b0 + interval.seconds
                staffed = periods.filter { $0.agent == a.row.key && isStaffed($0.state) }
                    .reduce(0.0) { $0 + max(0, min($1.end, b1) - max($1.start, b0)) }
            }
            rows.append(a.finished(staffed: staffed))
        }
        return rows.sorted { $0.start != $1.start ? $0.start < $1.start : $0.key < $1.key }
    }

    /// Staffed time: every state but logged-out and not-ready.
    public static func isStaffed(_ state: String) -> Bool { state != "logged-out" && state != "not-ready" }

    /// Loads the calls that arrived in [from, to) and the agent periods overlapping it.
    public static func load(_ db: PostgresConnection, from: Double, to: Double) throws -> ([CallFacts], [AgentPeriod]) {
        let r = try db.execute("""
            SELECT c.call_id::text AS id, extract(epoch from c.arrived_at) AS arrived, extract(epoch from c.queued_at) AS queued,
                   extract(epoch from c.offered_at) AS offered, extract(epoch from c.agent_answered_at) AS agent_answered,
                   extract(epoch from c.ended_at) AS ended, c.queue, c.agent, c.flow, c.disposition, c.hold_seconds, c.wrapup_seconds,
                   coalesce(q.service_level_seconds, 20) AS sl, coalesce(q.short_abandon_seconds, 5) AS sa
            FROM calls c LEFT JOIN queues q ON q.name = c.queue
            WHERE c.arrived_at >= to_timestamp($1::float8) AND c.arrived_at < to_timestamp($2::float8)
            """, [String(from), String(to)])
        var calls: [CallFacts] = []
        calls.reserveCapacity(r.count)
        for i in 0..<r.count {
            var facts = CallFacts(arrivedAt: r.double(i, "arrived") ?? 0, queuedAt: r.double(i, "queued"), offeredAt: r.double(i, "offered"),
                                   agentAnsweredAt: r.double(i, "agent_answered"), endedAt: r.double(i, "ended") ?? 0, queue: r.value(i, "queue"),
                                   agent: r.value(i, "agent"), flow: r.value(i, "flow"), disposition: r.value(i, "disposition") ?? "",
                                   holdSeconds: r.double(i, "hold_seconds") ?? 0, wrapupSeconds: r.double(i, "wrapup_seconds") ?? 0,
                                   serviceLevelSeconds: r.double(i, "sl") ?? 20, shortAbandonSeconds: r.double(i, "sa") ?? 5)
            facts.id = r.value(i, "id")
            calls.append(facts)
        }
        let s = try db.execute("""
            SELECT agent, state, extract(epoch from started_at) AS s, extract(epoch from coalesce(ended_at, now())) AS e
            FROM agent_states WHERE started_at < to_timestamp($2::float8) AND coalesce(ended_at, now()) > to_timestamp($1::float8)
            """, [String(from), String(to)])
        let periods = (0..<s.count).map { i in
            AgentPeriod(agent: s.value(i, "agent") ?? "", state: s.value(i, "state") ?? "", start: s.double(i, "s") ?? 0, end: s.double(i, "e") ?? 0)
        }
        return (calls, periods)
    }
}
