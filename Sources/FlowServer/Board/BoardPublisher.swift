import Foundation
import Logging
import Protocol

/// The wallboard's runner on a Flow-Server: collects what changed here (the ACD marks queues
/// and agents; the records hand over finished calls), and at most every 100 ms (`flushDelay`)
/// sends this server's part to the other Flow-Servers (BoardUpdate in PeerBroadcast through
/// the CT-Server), merges it and the others' into its `Wallboard`, and pushes the queues and
/// agents that changed to every App-Operate watching (BoardPush). Every 10 s it sends its whole
/// part (the other servers' heartbeat of it) and pushes every queue (the 15-minute figures move
/// with time).
final class BoardPublisher {
    let server: String
    let distributor: CallDistributor
    let logger: Logger
    private(set) var board: Wallboard
    /// Sends this server's part to the others (nil: no CT link, or a single Flow-Server).
    var broadcast: ((BoardUpdate) -> Void)?
    /// Delay between a change and its push (changes within it go in one push).
    var flushDelay = 0.1
    var fullEvery = 10.0
    private var watchers: [ObjectIdentifier: Connection] = [:]
    /// Watchers that are not connections (the benchmark's, tests'): each gets every push.
    var observers: [(BoardView) -> Void] = []

    // This server's changes not yet sent.
    private var ownQueues: Set<String> = []
    private var ownAgents: Set<String> = []
    private var ownRemoved: Set<String> = []
    private var ownCalls: [BoardUpdate.Call] = []
    // The board's changes not yet pushed, and when the oldest of them happened.
    private var pending = Wallboard.Changes()
    private var oldestChange: Double?
    private var flushScheduled = false
    private(set) var pushes = 0
    private(set) var updatesApplied = 0

    init(server: String, distributor: CallDistributor, logger: Logger) {
        self.server = server
        self.distributor = distributor
        self.logger = logger
        board = Wallboard(now: distributor.now)
        distributor.boardChanged = { [weak self] change in self?.changed(change) }
    }

    func start() {
        tick()
    }

    private func tick() {
        distributor.clock.schedule(after: fullEvery) { [weak self] in
            guard let self else { return }
            self.sendFull()
            self.tick()
        }
    }

    var watching: Int { watchers.count + observers.count }

    // MARK: what changed here

    func changed(_ c: CallDistributor.BoardChange) {
        switch c {
        case .queue(let q): ownQueues.insert(q)
        case .agent(let code): ownAgents.insert(code); ownRemoved.remove(code)
        case .agentGone(let code): ownRemoved.insert(code); ownAgents.remove(code)
        }
        scheduleFlush()
    }

    /// A call record was written here: its figures go on the board (queued calls only).
    func callWritten(_ c: CallRecord) {
        guard let q = c.queue else { return }
        var f = CallFacts(arrivedAt: c.arrivedAt, queuedAt: c.queuedAt, offeredAt: c.offeredAt, agentAnsweredAt: c.agentAnsweredAt, endedAt: c.endedAt,
                          queue: q, agent: c.agent, flow: c.flow, disposition: c.disposition, holdSeconds: c.holdSeconds, wrapupSeconds: c.wrapupSeconds,
                          serviceLevelSeconds: Double(distributor.settings.queues[q]?.serviceLevelSeconds ?? 20), shortAbandonSeconds: 5)
        f.id = c.callID.uuidString.lowercased()
        ownCalls.append(Wallboard.wire(f))
        scheduleFlush()
    }

    /// An agent's wrap-up of a written call ended: the call's handle time grows.
    func wrapUpWritten(_ w: WrapUpRecord) {
        let id = w.callID.uuidString.lowercased()
        guard var f = board.facts[id], f.agent == w.agent else { return }
        f.wrapupSeconds = w.seconds
        ownCalls.append(Wallboard.wire(f))
        scheduleFlush()
    }

    // MARK: the others' parts

    func peerUpdate(_ u: BoardUpdate) {
        guard u.server != server else { return }
        note(board.apply(u, now: distributor.now))
        updatesApplied += 1
    }

    /// Today's calls and agent periods from the database (FlowService loads them off the loop).
    func seed(calls: [CallFacts], periods: [AgentPeriod], loadedAt: Double, firstTime: Bool) {
        note(board.seed(calls: calls, periods: periods, before: loadedAt, firstTime: firstTime))
    }

    func setConfiguredQueues(_ names: Set<String>) {
        let added = names.subtracting(board.configuredQueues)
        board.configuredQueues = names
        if !added.isEmpty { note(Wallboard.Changes(queues: added)) }
    }

    private func note(_ ch: Wallboard.Changes) {
        guard !ch.isEmpty else { return }
        pending.formUnion(ch)
        if oldestChange == nil { oldestChange = distributor.now }
        scheduleFlush()
    }

    // MARK: watchers

    func watch(_ conn: Connection) { watchers[ObjectIdentifier(conn)] = conn }
    func unwatch(_ conn: Connection) { watchers.removeValue(forKey: ObjectIdentifier(conn)) }

    /// The whole board now (after this server's pending changes are applied).
    func fullView() -> BoardView {
        flushOwn()
        return board.fullView(now: distributor.now)
    }

    // MARK: flushing

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        if oldestChange == nil { oldestChange = distributor.now }
        distributor.clock.schedule(after: flushDelay) { [weak self] in self?.flush() }
    }

    /// Sends this server's changes, applies them here, and pushes what changed on the board.
    func flush() {
        flushScheduled = false
        flushOwn()
        note(board.expire(now: distributor.now, except: server))
        push()
    }

    private func flushOwn() {
        guard !(ownQueues.isEmpty && ownAgents.isEmpty && ownRemoved.isEmpty && ownCalls.isEmpty) else { return }
        let u = ownUpdate(full: false)
        ownQueues = []
        ownAgents = []
        ownRemoved = []
        ownCalls = []
        for part in u.chunked() {
            pending.formUnion(board.apply(part, now: distributor.now))
            broadcast?(part)
        }
        if oldestChange == nil { oldestChange = distributor.now }
    }

    private func push() {
        guard !pending.isEmpty, watching > 0 else { pending = Wallboard.Changes(); oldestChange = nil; return }
        let now = distributor.now
        let view = board.view(full: false, queues: pending.queues, agents: pending.agents, removed: pending.removed, now: now,
                              changedMs: UInt64(max(0, (oldestChange ?? now) * 1000)))
        pending = Wallboard.Changes()
        oldestChange = nil
        pushes += 1
        send(view.chunked())
    }

    /// Sends a view's parts to every watcher (a watcher whose link is gone is dropped).
    private func send(_ parts: [BoardView]) {
        for part in parts {
            let push = BoardPush(part)
            for (id, c) in watchers where !c.sendEvent(push) { watchers.removeValue(forKey: id) }
            for o in observers { o(part) }
        }
    }

    /// The whole board for one App-Operate: the first part (the response), then the rest as pushes.
    func fullView(for conn: Connection) -> BoardView {
        let parts = fullView().chunked()
        let rest = parts.dropFirst().map(BoardPush.init)
        distributor.clock.schedule(after: 0) { for p in rest { conn.sendEvent(p) } }
        return parts[0]
    }

    /// This server's whole part: to the others (their heartbeat of it), and every queue pushed.
    private func sendFull() {
        flushOwn()
        for part in ownUpdate(full: true).chunked() {
            note(board.apply(part, now: distributor.now))
            broadcast?(part)
        }
        note(Wallboard.Changes(queues: board.queueNames))
    }

    /// This server's part: every queue and agent when `full`, else what was marked.
    private func ownUpdate(full: Bool) -> BoardUpdate {
        let d = distributor
        let queues: Set<String> = full ? Set(d.calls.values.map(\.call.queue)).union(board.waiting[server].map { Array($0.keys) } ?? []) : ownQueues
        var waiting: [String: [BoardUpdate.Caller]] = [:]
        for q in queues {
            waiting[q] = d.engine.waitingCalls(in: q).compactMap { c in
                guard let e = d.calls[c.id] else { return nil }
                return BoardUpdate.Caller(call: c.id, caller: e.call.caller, arrivedMs: UInt64(max(0, e.call.enqueuedAt * 1000)), priority: Int64(e.call.priority))
            }
        }
        let codes: [String] = full ? Array(d.agents.keys) : Array(ownAgents)
        let agents: [BoardUpdate.Agent] = codes.sorted().compactMap { code in
            guard let a = d.agents[code], a.machine.state != .loggedOut else { return nil }
            var reason = ""
            if case .notReady(let r, _) = a.machine.state { reason = r }
            let talk = a.talkSeconds + (a.talkStarted.map { d.now - $0 } ?? 0)
            return BoardUpdate.Agent(code: code, state: a.machine.state.name, sinceMs: UInt64(max(0, a.machine.since * 1000)), reason: reason,
                                     queues: a.op.queues.sorted(), calls: UInt32(clamping: a.machine.callsHandled), talkMs: UInt64(max(0, talk * 1000)))
        }
        let gone = full ? [] : ownRemoved.union(ownAgents.filter { d.agents[$0] == nil || d.agents[$0]?.machine.state == .loggedOut }).sorted()
        return BoardUpdate(server: server, full: full, sentMs: UInt64(max(0, d.now * 1000)), waiting: waiting, agents: agents, removedAgents: gone,
                           calls: full ? [] : ownCalls, roster: full ? agents.map(\.code) : nil)
    }
}
