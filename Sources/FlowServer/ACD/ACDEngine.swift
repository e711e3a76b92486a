import HeapModule

/// The routing engine (智能呼叫分配): queues, waiting calls and ready agents in memory, and
/// the decision of who takes which call — a pure function of the engine's state.
///
/// Fairness across queues: when an agent becomes free, it is offered the caller who has waited
/// longest, weighted by priority (each priority point counts as `priorityWeightSeconds` of
/// waiting), across every queue it serves and whose skills it has — not the first queue in a
/// list. When a call arrives and several agents could take it, the queue's strategy picks.
public struct ACDEngine: Sendable {
    public enum Strategy: String, Sendable, CaseIterable {
        case longestIdle = "longest-idle", fewestCalls = "fewest-calls", skillLevelFirst = "skill-level-first", roundRobin = "round-robin", ringAll = "ring-all"
    }

    public struct Queue: Sendable {
        public var name: String
        public var strategy: Strategy
        /// skill → minimum level (1–10).
        public var skills: [String: Int]
        /// After this many seconds of waiting, minimum levels drop by `escalationStep` (never below 1)
        /// — the seed's expert-agent routing widening to more agents.
        public var escalateAfterSeconds: Double?
        public var escalationStep: Int
        public init(name: String, strategy: Strategy = .longestIdle, skills: [String: Int] = [:], escalateAfterSeconds: Double? = nil, escalationStep: Int = 2) {
            self.name = name
            self.strategy = strategy
            self.skills = skills
            self.escalateAfterSeconds = escalateAfterSeconds
            self.escalationStep = escalationStep
        }
    }

    public struct Agent: Sendable {
        public var id: String
        public var skills: [String: Int]
        public var queues: Set<String>
        public var readySince: Double
        public var callsHandled: Int
        public init(id: String, skills: [String: Int], queues: Set<String>, readySince: Double = 0, callsHandled: Int = 0) {
            self.id = id
            self.skills = skills
            self.queues = queues
            self.readySince = readySince
            self.callsHandled = callsHandled
        }
    }

    public struct Call: Sendable, Equatable {
        public var id: String
        public var queue: String
        public var priority: Int
        public var enqueuedAt: Double
        /// Extra skills this call needs (from the flow), on top of the queue's.
        public var skills: [String: Int]
        /// The agent who last served this caller, preferred when ready.
        public var stickyAgent: String?
        /// Agents who rejected this call: it is not offered to them again.
        public var excluded: Set<String> = []
        /// The sequence number of the call's current heap entry (set by `enqueue`).
        var entry: UInt64 = 0
        public init(id: String, queue: String, priority: Int = 0, enqueuedAt: Double, skills: [String: Int] = [:], stickyAgent: String? = nil) {
            self.id = id
            self.queue = queue
            self.priority = priority
            self.enqueuedAt = enqueuedAt
            self.skills = skills
            self.stickyAgent = stickyAgent
        }
    }

    public var priorityWeightSeconds: Double = 60
    public private(set) var queues: [String: Queue] = [:]
    public private(set) var agents: [String: Agent] = [:]
    /// Ready agents by queue.
    private var readyByQueue: [String: Set<String>] = [:]
    private var waiting: [String: Heap<Waiting>] = [:]
    private var calls: [String: Call] = [:]
    private var roundRobin: [String: Int] = [:]

    struct Waiting: Comparable, Sendable {
        var key: Double   // enqueuedAt − priority × weight: smaller = served first
        var seq: UInt64
        var id: String
        static func < (a: Waiting, b: Waiting) -> Bool { a.key != b.key ? a.key < b.key : a.seq < b.seq }
    }
    private var seq: UInt64 = 0

    public init() {}

    public var waitingCount: Int { calls.count }
    public var readyCount: Int { agents.count }
    public func call(_ id: String) -> Call? { calls[id] }

    public mutating func setQueue(_ q: Queue) { queues[q.name] = q }

    /// Whether any ready agent serves `queue` (for "no agents" decisions and the board).
    public func readyAgents(in queue: String) -> Int { readyByQueue[queue]?.count ?? 0 }

    /// The agent is ready for calls.
    public mutating func agentReady(_ a: Agent) {
        agents[a.id] = a
        for q in a.queues { readyByQueue[q, default: []].insert(a.id) }
    }

    /// The agent is no longer ready (reserved, not ready, logged out).
    public mutating func agentUnavailable(_ id: String) {
        guard let a = agents.removeValue(forKey: id) else { return }
        for q in a.queues { readyByQueue[q]?.remove(id) }
    }

    public mutating func enqueue(_ c: Call) {
        seq += 1
        var c = c
        c.entry = seq
        calls[c.id] = c
        waiting[c.queue, default: Heap()].insert(Waiting(key: c.enqueuedAt - Double(c.priority) * priorityWeightSeconds, seq: seq, id: c.id))
    }

    /// The caller hung up, or the call was routed: it leaves the queue (lazily from the heap).
    public mutating func remove(call id: String) { calls.removeValue(forKey: id) }

    /// A call's latest heap entry (a call put back, or moved to another queue, leaves its older
    /// entries behind in the heaps; they are skipped and dropped lazily).
    @inline(__always) private func live(_ w: Waiting) -> Call? {
        guard let c = calls[w.id], c.entry == w.seq else { return nil }
        return c
    }

    /// The skill levels a call needs at `now` (the queue's, escalated by waiting time, plus its own).
    func required(_ c: Call, now: Double) -> [String: Int] {
        var r = queues[c.queue]?.skills ?? [:]
        for (k, v) in c.skills { r[k] = max(r[k] ?? 0, v) }
        if let q = queues[c.queue], let after = q.escalateAfterSeconds, after > 0 {
            let steps = Int((now - c.enqueuedAt) / after)
            if steps > 0 { r = r.mapValues { max(1, $0 - steps * q.escalationStep) } }
        }
        return r
    }

    static func eligible(_ a: Agent, _ required: [String: Int]) -> Bool {
        required.allSatisfy { (a.skills[$0.key] ?? 0) >= $0.value }
    }

    /// An agent became ready: the call it should take, if any (the longest weighted wait
    /// across its queues among calls it is skilled for). Removes that call from the queue.
    public mutating func callFor(agent id: String, now: Double) -> Call? {
        guard let a = agents[id] else { return nil }
        var best: (Waiting, Call)?
        for qn in a.queues {
            guard var heap = waiting[qn] else { continue }
            // Drop calls that left; then scan in order for the first this agent can take.
            while let top = heap.min, live(top) == nil { _ = heap.removeMin() }
            waiting[qn] = heap
            // Usually the head of the queue is the one (sorting is only needed when it is not).
            if let top = heap.min, let c = live(top) {
                if let b = best, !(top < b.0) { continue }
                if !c.excluded.contains(id), Self.eligible(a, required(c, now: now)) { best = (top, c); continue }
            }
            for w in heap.unordered.sorted().prefix(64) {
                guard let c = live(w) else { continue }
                if let b = best, !(w < b.0) { break }
                if !c.excluded.contains(id), Self.eligible(a, required(c, now: now)) { best = (w, c); break }
            }
        }
        guard let (_, c) = best else { return nil }
        remove(call: c.id)
        agentUnavailable(id)
        return c
    }

    /// A call arrived (or came back): the agents to offer it to now — one, or every eligible
    /// ready agent for ring-all. The chosen agents leave the ready set; the call leaves the queue.
    public mutating func agentsFor(call id: String, now: Double) -> [String] {
        guard let c = calls[id], let q = queues[c.queue] else { return [] }
        let req = required(c, now: now)
        let ready = (readyByQueue[c.queue] ?? []).compactMap { agents[$0] }.filter { !c.excluded.contains($0.id) && Self.eligible($0, req) }
        guard !ready.isEmpty else { return [] }
        // Fairness across queues: a call that waited longer (weighted) elsewhere and that these
        // agents could take comes first — routing passes call `callFor(agent:)` in that case.
        let chosen: [Agent]
        if let s = c.stickyAgent, let a = ready.first(where: { $0.id == s }) {
            chosen = [a]
        } else {
            switch q.strategy {
            case .longestIdle: chosen = [ready.min { ($0.readySince, $0.id) < ($1.readySince, $1.id) }!]
            case .fewestCalls: chosen = [ready.min { ($0.callsHandled, $0.readySince, $0.id) < ($1.callsHandled, $1.readySince, $1.id) }!]
            case .skillLevelFirst:
                func score(_ a: Agent) -> Int { req.keys.reduce(0) { $0 + (a.skills[$1] ?? 0) } }
                chosen = [ready.max { (score($0), -$0.readySince) < (score($1), -$1.readySince) }!]
            case .roundRobin:
                let sorted = ready.sorted { $0.id < $1.id }
                let n = roundRobin[q.name, default: 0]
                chosen = [sorted[n % sorted.count]]
                roundRobin[q.name] = n + 1
            case .ringAll: chosen = ready.sorted { $0.id < $1.id }
            }
        }
        remove(call: id)
        for a in chosen { agentUnavailable(a.id) }
        return chosen.map(\.id)
    }

    /// A routing pass: while some ready agent can take some waiting call, pair them — the call
    /// that waited longest (weighted) first. Returns the (call, agents) offers made.
    public mutating func route(now: Double) -> [(call: Call, agents: [String])] {
        var offers: [(Call, [String])] = []
        var order: [Waiting] = []
        for (_, heap) in waiting { order += heap.unordered.filter { live($0) != nil } }
        order.sort()
        for w in order {
            guard agents.count > 0 else { break }
            guard let c = live(w) else { continue }
            let chosen = agentsFor(call: c.id, now: now)
            if !chosen.isEmpty { offers.append((c, chosen)) }
        }
        for qn in Array(waiting.keys) {
            guard var heap = waiting[qn] else { continue }
            while let top = heap.min, live(top) == nil { _ = heap.removeMin() }
            waiting[qn] = heap.isEmpty ? nil : heap
        }
        return offers
    }

    /// The queue view: waiting callers in order.
    public func waitingCalls(in queue: String) -> [Call] {
        (waiting[queue]?.unordered ?? []).sorted().compactMap { live($0) }
    }
}
