/// The live wallboard (docs/protocol.md §18): every Flow-Server shares its live part — the
/// callers waiting in its queues, its agents' states, the calls it finished — with the others
/// (BoardUpdate inside PeerBroadcast, through the CT-Server); each Flow-Server merges them and
/// pushes the board to the App-Operates that asked for it (BoardRequest with watch), as it changes.
extension MessageCatalogue {
    public static let peerBroadcast = MessageType(rawValue: 0x1031)
    public static let boardRequest = MessageType(rawValue: 0x4005)
    public static let boardPush = MessageType(rawValue: 0x4006)
    public static let boardUpdate = MessageType(rawValue: 0x4007)
}

/// An event for every other Flow-Server, carried by the CT-Server (Flow → CT, event): the
/// CT-Server sends the same message, `peer` set to the sender's authenticated name, as an event
/// to every other attached Flow-Server. The inner message is `type` and its TLV `body` (today
/// BoardUpdate); unknown inner types are ignored.
public struct PeerBroadcast: WireMessage {
    public static let messageType = MessageCatalogue.peerBroadcast
    public var peer: String
    public var innerType: MessageType
    public var body: [UInt8]
    public init(peer: String = "", innerType: MessageType, body: [UInt8]) {
        self.peer = peer
        self.innerType = innerType
        self.body = body
    }
    public init<M: WireMessage>(_ message: M) { self.init(innerType: M.messageType, body: message.encodedBody()) }
    public init(fields f: inout TLVFields) throws {
        peer = try f.string(1) ?? ""
        innerType = MessageType(rawValue: try TLVFields.required(f.uint16(FieldTag(2, mandatory: true)), "type"))
        body = f.bytes(3) ?? []
        guard body.count <= 4 << 20 else { throw ProtocolError(.badMessage, "broadcast body above 4 MiB") }
    }
    public func encode(into w: inout TLVWriter) {
        if !peer.isEmpty { w.write(1, peer) }
        w.write(FieldTag(2, mandatory: true), innerType.rawValue)
        w.write(3, bytes: body)
    }
}

/// A Flow-Server's live part of the board (Flow → Flow inside PeerBroadcast). `full`: the whole
/// of it (sent every 10 s, and taken as the server's heartbeat: a server not heard of for 30 s
/// leaves the board) — `roster` lists every agent logged in there, and the agents' rows follow
/// in this and the next updates (at most 500 rows each, so that no frame passes the 1-MiB body
/// limit); otherwise only what changed: a queue's waiting list is sent whole, an agent's row
/// whole, `removedAgents` logged out. `calls`: calls that ended (or whose wrap-up ended) since
/// the last update, as the statistics count them.
public struct BoardUpdate: WireMessage {
    public static let messageType = MessageCatalogue.boardUpdate

    public struct Caller: Sendable, Equatable {
        public var call: String
        public var caller: String
        public var arrivedMs: UInt64
        public var priority: Int64
        public init(call: String, caller: String, arrivedMs: UInt64, priority: Int64) {
            self.call = call
            self.caller = caller
            self.arrivedMs = arrivedMs
            self.priority = priority
        }
    }

    public struct Agent: Sendable, Equatable {
        public var code: String
        public var state: String
        public var sinceMs: UInt64
        public var reason: String
        public var queues: [String]
        public var calls: UInt32
        public var talkMs: UInt64
        public init(code: String, state: String, sinceMs: UInt64, reason: String = "", queues: [String], calls: UInt32, talkMs: UInt64) {
            self.code = code
            self.state = state
            self.sinceMs = sinceMs
            self.reason = reason
            self.queues = queues
            self.calls = calls
            self.talkMs = talkMs
        }
    }

    /// A finished call as the statistics count it (the `calls` row's figures).
    public struct Call: Sendable, Equatable {
        public var id: String
        public var arrivedMs: UInt64
        public var queuedMs: UInt64?
        public var offeredMs: UInt64?
        public var answeredMs: UInt64?
        public var endedMs: UInt64
        public var queue: String
        public var agent: String
        public var flow: String
        public var disposition: String
        public var holdMs: UInt64
        public var wrapupMs: UInt64
        public var serviceLevelSeconds: UInt32
        public var shortAbandonSeconds: UInt32
        public init(id: String, arrivedMs: UInt64, queuedMs: UInt64?, offeredMs: UInt64?, answeredMs: UInt64?, endedMs: UInt64, queue: String, agent: String,
                    flow: String, disposition: String, holdMs: UInt64, wrapupMs: UInt64, serviceLevelSeconds: UInt32, shortAbandonSeconds: UInt32) {
            self.id = id
            self.arrivedMs = arrivedMs
            self.queuedMs = queuedMs
            self.offeredMs = offeredMs
            self.answeredMs = answeredMs
            self.endedMs = endedMs
            self.queue = queue
            self.agent = agent
            self.flow = flow
            self.disposition = disposition
            self.holdMs = holdMs
            self.wrapupMs = wrapupMs
            self.serviceLevelSeconds = serviceLevelSeconds
            self.shortAbandonSeconds = shortAbandonSeconds
        }
    }

    public var server: String
    public var full: Bool
    public var sentMs: UInt64
    /// Queue → its waiting callers on this server (the whole list of each queue named).
    public var waiting: [String: [Caller]]
    public var agents: [Agent]
    public var removedAgents: [String]
    public var calls: [Call]
    /// Full updates: every agent logged in to the server (agents not in it leave the board).
    public var roster: [String]?

    public init(server: String, full: Bool, sentMs: UInt64, waiting: [String: [Caller]] = [:], agents: [Agent] = [], removedAgents: [String] = [],
                calls: [Call] = [], roster: [String]? = nil) {
        self.roster = roster
        self.server = server
        self.full = full
        self.sentMs = sentMs
        self.waiting = waiting
        self.agents = agents
        self.removedAgents = removedAgents
        self.calls = calls
    }

    public var isEmpty: Bool { !full && waiting.isEmpty && agents.isEmpty && removedAgents.isEmpty && calls.isEmpty }

    public init(fields f: inout TLVFields) throws {
        server = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "server")
        full = try f.bool(2) ?? false
        sentMs = try f.uint64(3) ?? 0
        waiting = [:]
        for var q in try f.groups(4) {
            let name = try TLVFields.required(q.string(1), "queue")
            var list: [Caller] = []
            for var c in try q.groups(2) {
                list.append(Caller(call: try c.string(1) ?? "", caller: try c.string(2) ?? "", arrivedMs: try c.uint64(3) ?? 0,
                                   priority: try c.int64(4) ?? 0))
            }
            waiting[name] = list
        }
        agents = try f.groups(5).map { g in
            var g = g
            return Agent(code: try TLVFields.required(g.string(1), "agent"), state: try g.string(2) ?? "", sinceMs: try g.uint64(3) ?? 0,
                         reason: try g.string(4) ?? "", queues: try g.strings(5), calls: try g.uint32(6) ?? 0, talkMs: try g.uint64(7) ?? 0)
        }
        removedAgents = try f.strings(6)
        calls = try f.groups(7).map { g in
            var g = g
            return Call(id: try TLVFields.required(g.string(1), "call"), arrivedMs: try g.uint64(2) ?? 0, queuedMs: try g.uint64(3), offeredMs: try g.uint64(4),
                        answeredMs: try g.uint64(5), endedMs: try g.uint64(6) ?? 0, queue: try g.string(7) ?? "", agent: try g.string(8) ?? "",
                        flow: try g.string(9) ?? "", disposition: try g.string(10) ?? "", holdMs: try g.uint64(11) ?? 0, wrapupMs: try g.uint64(12) ?? 0,
                        serviceLevelSeconds: try g.uint32(13) ?? 20, shortAbandonSeconds: try g.uint32(14) ?? 5)
        }
        let r = try f.strings(8)
        roster = full ? r : nil
    }

    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), server)
        if full { w.write(2, true) }
        w.write(3, sentMs)
        for (q, list) in waiting.sorted(by: { $0.key < $1.key }) {
            w.writeGroup(4) { g in
                g.write(1, q)
                for c in list { g.writeGroup(2) { $0.write(1, c.call); $0.write(2, c.caller); $0.write(3, c.arrivedMs); $0.write(4, c.priority) } }
            }
        }
        for a in agents {
            w.writeGroup(5) { g in
                g.write(1, a.code)
                g.write(2, a.state)
                g.write(3, a.sinceMs)
                if !a.reason.isEmpty { g.write(4, a.reason) }
                for q in a.queues { g.write(5, q) }
                g.write(6, a.calls)
                g.write(7, a.talkMs)
            }
        }
        for r in removedAgents { w.write(6, r) }
        for c in calls {
            w.writeGroup(7) { g in
                g.write(1, c.id)
                g.write(2, c.arrivedMs)
                g.writeIfPresent(3, c.queuedMs)
                g.writeIfPresent(4, c.offeredMs)
                g.writeIfPresent(5, c.answeredMs)
                g.write(6, c.endedMs)
                if !c.queue.isEmpty { g.write(7, c.queue) }
                if !c.agent.isEmpty { g.write(8, c.agent) }
                if !c.flow.isEmpty { g.write(9, c.flow) }
                g.write(10, c.disposition)
                g.write(11, c.holdMs)
                g.write(12, c.wrapupMs)
                g.write(13, c.serviceLevelSeconds)
                g.write(14, c.shortAbandonSeconds)
            }
        }
        for code in roster ?? [] { w.write(8, code) }
    }

    /// The update as frames of a bounded size: the first keeps `full`, the roster and the waiting
    /// lists; agents' rows and calls go at most `maxRows` to an update.
    public func chunked(maxRows: Int = 500) -> [BoardUpdate] {
        guard agents.count > maxRows || calls.count > maxRows * 4 else { return [self] }
        var first = self
        first.agents = Array(agents.prefix(maxRows))
        first.calls = Array(calls.prefix(maxRows * 4))
        var out = [first]
        var rest = Array(agents.dropFirst(maxRows))
        var restCalls = Array(calls.dropFirst(maxRows * 4))
        while !rest.isEmpty || !restCalls.isEmpty {
            out.append(BoardUpdate(server: server, full: false, sentMs: sentMs, agents: Array(rest.prefix(maxRows)), calls: Array(restCalls.prefix(maxRows * 4))))
            rest = Array(rest.dropFirst(maxRows))
            restCalls = Array(restCalls.dropFirst(maxRows * 4))
        }
        return out
    }
}

/// Ask for the board (App → Flow, request; supervisor or admin; response `BoardView`, the whole
/// board). With `watch`, the connection then gets `BoardView` events (type BoardPush) with the
/// queues and agents that changed, as they change, until it closes or asks again without watch.
public struct BoardRequest: WireMessage {
    public static let messageType = MessageCatalogue.boardRequest
    public var watch: Bool
    public init(watch: Bool) { self.watch = watch }
    public init(fields f: inout TLVFields) throws { watch = try f.bool(1) ?? false }
    public func encode(into w: inout TLVWriter) { if watch { w.write(1, true) } }
}

/// The board or a change of it: queue rows (named figures, and the callers waiting) and agent
/// rows. Figures are named values: for each queue `waiting`, `longest_wait_seconds`, `agents_<state>`,
/// and for `day_` (since local midnight) and `m15_` (the last 15 minutes): offered, answered,
/// abandoned, short_abandoned, service_level, asa_seconds, aht_seconds, occupancy; for each
/// agent `server`, `state`, `reason`, `since_seconds`, `calls`, `talk_seconds`, `queues`.
public struct BoardView: WireMessage, Equatable {
    public static let messageType = MessageCatalogue.boardRequest

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var figures: [String: String]
        /// Each waiting caller: call, caller, arrived_ms, priority, server.
        public var callers: [[String: String]]
        public init(name: String, figures: [String: String], callers: [[String: String]]) {
            self.name = name
            self.figures = figures
            self.callers = callers
        }
    }

    public var full: Bool
    public var generatedMs: UInt64
    /// The newest change the view includes (for the push delay: generated − changed).
    public var changedMs: UInt64
    public var queues: [Queue]
    public var agents: [[String: String]]
    public var removedAgents: [String]
    /// How many BoardPush events follow with the rest of this view (a big board is cut so that
    /// no frame passes the 1-MiB body limit).
    public var following: UInt32 = 0

    public init(full: Bool, generatedMs: UInt64, changedMs: UInt64 = 0, queues: [Queue] = [], agents: [[String: String]] = [], removedAgents: [String] = []) {
        self.full = full
        self.generatedMs = generatedMs
        self.changedMs = changedMs
        self.queues = queues
        self.agents = agents
        self.removedAgents = removedAgents
    }

    public init(fields f: inout TLVFields) throws {
        full = try f.bool(1) ?? false
        generatedMs = try f.uint64(2) ?? 0
        changedMs = try f.uint64(3) ?? 0
        queues = try f.groups(4).map { g in
            var g = g
            return Queue(name: try g.string(1) ?? "", figures: try g.map(2), callers: try g.groups(3).map { c in var c = c; return try c.map(1) })
        }
        agents = try f.groups(5).map { g in var g = g; return try g.map(1) }
        removedAgents = try f.strings(6)
        following = try f.uint32(7) ?? 0
    }

    /// The view in parts of at most `maxQueues` queues and `maxAgents` agents: the first keeps
    /// `full` and says how many follow.
    public func chunked(maxQueues: Int = 50, maxAgents: Int = 1000) -> [BoardView] {
        guard queues.count > maxQueues || agents.count > maxAgents else { return [self] }
        var parts: [BoardView] = []
        var q = queues[...], a = agents[...]
        repeat {
            var v = BoardView(full: parts.isEmpty && full, generatedMs: generatedMs, changedMs: changedMs,
                              queues: Array(q.prefix(maxQueues)), agents: Array(a.prefix(maxAgents)), removedAgents: parts.isEmpty ? removedAgents : [])
            v.following = 0
            parts.append(v)
            q = q.dropFirst(maxQueues)
            a = a.dropFirst(maxAgents)
        } while !q.isEmpty || !a.isEmpty
        parts[0].following = UInt32(parts.count - 1)
        return parts
    }

    public func encode(into w: inout TLVWriter) {
        if full { w.write(1, true) }
        w.write(2, generatedMs)
        w.write(3, changedMs)
        for q in queues {
            w.writeGroup(4) { g in
                g.write(1, q.name)
                g.writeMap(2, q.figures)
                for c in q.callers { g.writeGroup(3) { $0.writeMap(1, c) } }
            }
        }
        for a in agents { w.writeGroup(5) { $0.writeMap(1, a) } }
        for r in removedAgents { w.write(6, r) }
        if following > 0 { w.write(7, following) }
    }
}

/// A pushed change of the board (Flow → App, event): the body is a `BoardView`.
public struct BoardPush: WireMessage {
    public static let messageType = MessageCatalogue.boardPush
    public var view: BoardView
    public init(_ view: BoardView) { self.view = view }
    public init(fields f: inout TLVFields) throws { view = try BoardView(fields: &f) }
    public func encode(into w: inout TLVWriter) { view.encode(into: &w) }
}
