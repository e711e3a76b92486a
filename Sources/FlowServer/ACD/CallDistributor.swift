import Foundation
import Logging
import Protocol

/// The ACD at work: calls that flows put in queues, agents logged in through App-Operate, and
/// the offers between them. It is the runner of three kinds of value types — `ACDEngine` (the
/// routing decisions), one `AgentStateMachine` per agent and one `ACDCall` per call — and
/// does their I/O: rings agents' phones and dials numbers through the CT-Server, bridges,
/// plays music, pops agents' screens, writes agent-state periods and queue events. Runs on
/// the Flow-Server's loop; no threads; time and timers come from an injected `ACDClock`.
///
/// Split by aspect: this file holds the calls' runner (entry points, the action interpreter,
/// routing); `+Agents` the agents' runner and sessions; `+Operations` what agents do to their
/// calls; `+Channels` the channel-event demultiplexer; `+Supervision` monitoring; `+Presence`
/// the other Flow-Servers' agents; `+Views` the board and status views.
final class CallDistributor {
    enum Mode: String { case phone, console }

    /// An agent's session (its state is its `AgentStateMachine`).
    final class Agent {
        var op: Operator
        var machine: AgentStateMachine
        var sipExtension: String
        var mode: Mode
        var connections: [ObjectIdentifier: Connection] = [:]
        /// The ring or wrap-up timer.
        var timer: ACDTimer?
        /// The logout timer after the App-Operate connection was lost (it runs beside a ring or
        /// wrap-up timer, never instead of it).
        var graceTimer: ACDTimer?
        /// Counts the agent's dials (Originate to its phone): only the latest one's answer counts.
        var dialAttempt = 0
        let loginAt: Double
        var talkSeconds: Double = 0
        var talkStarted: Double?
        init(op: Operator, sipExtension: String, mode: Mode, wrapUpSeconds: Double, now: Double) {
            self.op = op
            self.sipExtension = sipExtension
            self.mode = mode
            machine = AgentStateMachine(wrapUpSeconds: wrapUpSeconds)
            loginAt = now
        }
        var code: String { op.workCode }
        var queues: Set<String> { op.queues.union(["agent/\(op.workCode)"]) }
    }

    /// A call in the ACD: its machine, and what the runner keeps beside it (the CT-Server link
    /// it lives on, its timers, and where it goes when it leaves the ACD).
    final class CallEntry {
        var call: ACDCall
        let link: ChannelLink
        var timers: [ACDTimer] = []
        var announce: [String] = []
        var announceEvery = 0
        var onOutcome: ((FlowRun.QueueOutcome) -> Void)?
        var onFlow: ((String) -> Void)?
        /// Sends the call to another Flow-Server (it waits there instead); nil for callbacks.
        var onHandOver: ((String) -> Void)?
        init(call: ACDCall, link: ChannelLink) {
            self.call = call
            self.link = link
        }
        var id: String { call.id }
    }

    let clock: ACDClock
    let logger: Logger
    let recorder: CallRecorder
    let submit: (StoredRecord) -> Void
    /// The link to the CT-Server now (agents' own calls start there); nil while detached.
    var ctLink: () -> ChannelLink? = { nil }
    var settings = QueueSettings()
    var engine = ACDEngine()
    var agents: [String: Agent] = [:]
    /// Every call the ACD holds (not ended), by id (an inbound call's id is its caller's channel).
    private(set) var calls: [String: CallEntry] = [:]
    var callCount: Int { calls.count }
    /// Channels the calls own (callers, agents' phones, consulted and outside parties) → call id.
    private var channelIndex: [String: String] = [:]
    /// Caller number → (agent, when): the sticky agent.
    private var lastAgent: [String: (String, Double)] = [:]
    private var queueEventSeq = 0
    private var nextCallback = 1
    var nextOutbound = 1
    var counters = (offered: 0, answered: 0, abandoned: 0, rona: 0, rejected: 0)
    /// Queue → (calls handled, seconds): the average handle time for the estimated wait.
    private var handled: [String: (count: Double, seconds: Double)] = [:]
    /// Two channels another Flow-Server had bridged (it was lost): when one ends, the other is hung up.
    var adoptedPairs: [String: (String, ChannelLink)] = [:]
    /// Calls' recordings (policy at queueing and answer).
    var recordings: CallRecordings?
    /// Supervisors' phone legs (listen, whisper, barge) by channel.
    var monitorLegs: [String: MonitorLeg] = [:]
    /// What the wallboard needs to know changed (BoardPublisher).
    enum BoardChange { case queue(String), agent(String), agentGone(String) }
    var boardChanged: ((BoardChange) -> Void)?
    /// Agent-hosted conferences by ACD call id, and their legs (leg → call id).
    var conferences: [String: AgentConference] = [:]
    var conferenceLegs: [String: String] = [:]
    /// Supervisors whose phone is being rung for monitoring (the Originate not answered yet): one at a time.
    var monitorDialling: [String: MonitorDial] = [:]
    /// Queue → Flow-Servers with agents logged in for it, and those with a ready one (from agent_presence).
    var remoteQueues: [String: [String]] = [:]
    var remoteReady: [String: [String]] = [:]

    init(clock: ACDClock, recorder: CallRecorder, submit: @escaping (StoredRecord) -> Void, logger: Logger) {
        self.clock = clock
        self.recorder = recorder
        self.submit = submit
        self.logger = logger
        scheduleEscalationPass()
    }

    convenience init(loop: EventLoop, recorder: CallRecorder, submit: @escaping (StoredRecord) -> Void, logger: Logger) {
        self.init(clock: LoopClock(loop: loop), recorder: recorder, submit: submit, logger: logger)
    }

    var now: Double { clock.now }

    /// Skill requirements relax with waiting time (escalation): while calls wait and agents are
    /// ready, a routing pass every 2 s lets a call that has waited long enough reach them.
    private func scheduleEscalationPass() {
        clock.schedule(after: 2) { [weak self] in
            guard let self else { return }
            if self.engine.waitingCount > 0 && self.engine.readyCount > 0 { self.route() }
            self.scheduleEscalationPass()
        }
    }

    func apply(settings s: QueueSettings) {
        settings = s
        for q in s.queues.values { engine.setQueue(q.engineQueue) }
        for a in agents.values { a.machine.wrapUpSeconds = s.wrapUpSeconds }
    }

    // MARK: calls entering

    /// A flow's queue node: the call waits for an agent.
    func enqueue(channelID: String, conn: ChannelLink, caller: String, called: String, node q: FlowNode.Queue, variables: [String: String],
                 onOutcome: @escaping (FlowRun.QueueOutcome) -> Void, onFlow: @escaping (String) -> Void, onHandOver: ((String) -> Void)? = nil) {
        var call = ACDCall(id: channelID, kind: .inbound, callerChannel: channelID, caller: caller, called: called, queue: q.queue, priority: q.priority,
                           skills: q.skills, variables: variables, enqueuedAt: now, music: q.music, noAgentsBranch: q.noAgents != nil, fromFlow: true)
        call.surveyFlow = settings.queues[q.queue]?.surveyFlow
        let entry = CallEntry(call: call, link: conn)
        entry.announce = q.announce
        entry.announceEvery = q.announceEverySeconds
        entry.onOutcome = onOutcome
        entry.onFlow = onFlow
        entry.onHandOver = onHandOver
        admit(entry)
        if let maxWait = q.maxWaitSeconds ?? settings.queues[q.queue]?.maxWaitSeconds {
            entry.timers.append(clock.schedule(after: Double(maxWait)) { [weak self, weak entry] in
                guard let self, let entry else { return }
                self.feed(entry, .maxWaitExpired)
            })
        }
        recorder.queued(channelID, queue: q.queue, at: call.enqueuedAt)
        recordings?.queued(channelID, link: conn, queue: q.queue)
        queueEvent(entry, "entered", ["caller": caller, "priority": String(q.priority)])
        intoQueue(entry)
    }

    /// A callback request (the flow's callback node): waits in the queue like a call; the agent
    /// who takes it is connected to the number by an outbound call.
    func registerCallback(conn: ChannelLink, queue: String, number: String, called: String, priority: Int, variables: [String: String]) -> Bool {
        guard case .success = settings.routes.resolve(number, callerID: called) else { return false }
        let call = ACDCall(id: "callback-\(nextCallback)-\(Int(now))", kind: .callback(number: number), callerChannel: nil, caller: number,
                           called: called, queue: queue, priority: priority, variables: variables, enqueuedAt: now)
        nextCallback += 1
        let entry = CallEntry(call: call, link: conn)
        admit(entry)
        queueEvent(entry, "callback-requested", ["number": number])
        intoQueue(entry)
        return true
    }

    func admit(_ entry: CallEntry) {
        calls[entry.id] = entry
        for ch in entry.call.channels.keys { channelIndex[ch] = entry.id }
    }

    private func ensureQueue(_ name: String) {
        if engine.queues[name] == nil {
            engine.setQueue(settings.queues[name]?.engineQueue ?? ACDEngine.Queue(name: name))
        }
    }

    /// Puts (or puts back) a call into its queue (the machine decides: open, staffed).
    func intoQueue(_ entry: CallEntry) {
        ensureQueue(entry.call.queue)
        let open = settings.queues[entry.call.queue]?.isOpen(at: Date(timeIntervalSince1970: now)) ?? true
        feed(entry, .enqueue(open: open, staffed: hasLocalAgents(for: entry.call.queue)))
        if entry.call.isWaiting, entry.announceEvery > 0, !entry.announce.isEmpty { scheduleAnnouncement(entry) }
    }

    /// The call as the routing engine sees it (its place kept by its enqueue time).
    private func engineCall(_ call: ACDCall) -> ACDEngine.Call {
        var c = ACDEngine.Call(id: call.id, queue: call.queue, priority: call.priority, enqueuedAt: call.enqueuedAt, skills: call.skills,
                               stickyAgent: lastAgent[call.caller].flatMap { now - $0.1 < settings.stickyWindowSeconds ? $0.0 : nil })
        c.excluded = call.excluded
        return c
    }

    private func scheduleAnnouncement(_ entry: CallEntry) {
        entry.timers.append(clock.schedule(after: Double(entry.announceEvery)) { [weak self, weak entry] in
            guard let self, let entry, self.calls[entry.id] === entry, entry.call.isWaiting, let ch = entry.call.callerChannel else { return }
            let q = entry.call.queue
            let position = self.engine.waitingCalls(in: q).firstIndex { $0.id == entry.id }.map { $0 + 1 } ?? 1
            var vars = entry.call.variables
            vars["queue.position"] = String(position)
            vars["queue.wait_minutes"] = String(max(1, Int((Double(position) * self.averageHandleSeconds(q) / Double(max(1, self.staffed(q)))) / 60 + 0.5)))
            let items = entry.announce.map { Self.interpolate($0, vars) } + entry.call.music
            self.command(entry.link, PlayMedia(channelID: ch, items: items, loop: true, tag: 0))
            self.scheduleAnnouncement(entry)
        })
    }

    /// Agents logged in for a queue (for the estimated wait).
    func staffed(_ queue: String) -> Int { agents.values.filter { $0.machine.state != .loggedOut && $0.queues.contains(queue) }.count }

    func averageHandleSeconds(_ queue: String) -> Double {
        guard let h = handled[queue], h.count > 0 else { return 120 }
        return h.seconds / h.count
    }

    static func interpolate(_ text: String, _ vars: [String: String]) -> String {
        var out = text
        for (k, v) in vars where out.contains("${\(k)}") { out = out.replacingOccurrences(of: "${\(k)}", with: v) }
        return out
    }

    // MARK: the calls' runner

    /// Feeds an event to a call's machine, keeps the channel index equal to the channels the
    /// call owns, forgets an ended call, then carries out the actions.
    func feed(_ entry: CallEntry, _ e: ACDCall.Event) {
        guard calls[entry.id] === entry else { return }
        let before = entry.call.channels
        let (queueBefore, waitingBefore) = (entry.call.queue, entry.call.isWaiting)
        let actions = entry.call.handle(e, now: now)
        if let boardChanged, entry.call.queue != queueBefore || entry.call.isWaiting != waitingBefore || entry.call.isEnded
            || actions.contains(where: { $0 == .enqueue || $0 == .dequeue }) {
            boardChanged(.queue(queueBefore))
            if entry.call.queue != queueBefore { boardChanged(.queue(entry.call.queue)) }
        }
        let after = entry.call.channels
        for ch in before.keys where after[ch] == nil && channelIndex[ch] == entry.id { channelIndex.removeValue(forKey: ch) }
        for ch in after.keys { channelIndex[ch] = entry.id }
        if entry.call.isEnded {
            calls.removeValue(forKey: entry.id)
            for t in entry.timers { clock.cancel(t) }
            entry.timers = []
        }
        perform(entry, actions)
        if !conferences.isEmpty { conferenceCheck(entry) }
    }

    /// The call an agent is on (talking, held, consulting), if any.
    func agentCall(_ code: String) -> CallEntry? {
        guard let id = agents[code]?.machine.state.call, let e = calls[id], e.call.agent == code else { return nil }
        return e
    }

    /// The call that owns a channel.
    func entry(forChannel ch: String) -> CallEntry? { channelIndex[ch].flatMap { calls[$0] } }

    private func perform(_ entry: CallEntry, _ actions: [ACDCall.Action]) {
        let link = entry.link
        var routeDue = false
        for action in actions {
            switch action {
            case .hangup(let ch, let cause): command(link, HangupChannel(channelID: ch, cause: cause))
            case .bridge(let a, let b): command(link, BridgeChannels(channelID: a, otherChannelID: b))
            case .unbridge(let ch): command(link, UnbridgeChannel(channelID: ch))
            case .play(let ch, let items): command(link, PlayMedia(channelID: ch, items: items, loop: true, tag: 0))
            case .stopMedia(let ch): command(link, StopMedia(channelID: ch, what: .playAndCollect))
            case .conferenceJoin(let ch, let room): command(link, ConferenceJoin(channelID: ch, conference: room))
            case .safePoint(let data):
                if let cc = entry.call.callerChannel { command(link, ChannelData(channelID: cc, data: data)) }
            case .dialAgent(let code, let auto):
                if let a = agents[code] { dial(a, entry, autoAnswer: auto) }
            case .dialOutside(let destination, let route, let callerID):
                dialOutside(entry, destination: destination, route: route, callerID: callerID)
            case .dialConsult(let destination, let route, let auto, let agentCode):
                dialConsult(entry, destination: destination, route: route, autoAnswer: auto, from: agentCode)
            case .dialSupervisor(let destination, let supervisor):
                dialSupervisor(entry, destination: destination, supervisor: supervisor)
            case .enqueue:
                ensureQueue(entry.call.queue)
                engine.enqueue(engineCall(entry.call))
                routeDue = true
            case .dequeue: engine.remove(call: entry.id)
            case .stopTimers:
                for t in entry.timers { clock.cancel(t) }
                entry.timers = []
            case .agent(let code, let e):
                if let a = agents[code] { handle(a, e) }
            case .notify(let code, let kind, let fields):
                if let a = agents[code] { push(a, kind, fields) }
            case .handled(let code):
                guard let a = agents[code] else { break }
                var h = handled[entry.call.queue] ?? (0, 0)
                h.count += 1
                h.seconds += now - (a.talkStarted ?? now)
                handled[entry.call.queue] = h
            case .queueEvent(let kind, let detail): queueEvent(entry, kind, detail)
            case .record(let note): record(entry, note)
            case .toFlow(let outcome): entry.onOutcome?(outcome)
            case .toNamedFlow(let name): entry.onFlow?(name)
            case .toServer(let server):
                logger.info("acd: \(entry.id) waited \(Int(now - entry.call.enqueuedAt)) s with no ready agent here; to \(server), which has one")
                entry.onHandOver?(server)
            case .count(let c):
                switch c {
                case .offered: counters.offered += 1
                case .answered:
                    counters.answered += 1
                    if let code = entry.call.agent {
                        lastAgent[entry.call.caller] = (code, now)
                        logger.info("acd: \(entry.id) answered by \(code) after \(String(format: "%.1f", now - entry.call.enqueuedAt)) s")
                    }
                case .abandoned: counters.abandoned += 1
                case .rona: counters.rona += 1
                case .rejected: counters.rejected += 1
                }
            }
        }
        if routeDue { route() }
    }

    private func record(_ entry: CallEntry, _ note: ACDCall.RecordNote) {
        if case .outbound(let ch, let caller, let called) = note {
            recorder.outbound(ch, caller: caller, called: called, at: now)
            return
        }
        guard let cc = entry.call.callerChannel else { return }
        switch note {
        case .queued(let q): recorder.queued(cc, queue: q, at: now)
        case .offered(let code): recorder.offered(cc, agent: code, at: now)
        case .agentAnswered(let code, let leg):
            recorder.agentAnswered(cc, agent: code, channelID: leg, at: now)
            if entry.call.kind == .inbound { recordings?.agentAnswered(cc, link: entry.link, queue: entry.call.queue, agent: code) }
        case .agentLegEnded(let leg, let cause): recorder.agentLegEnded(cc, channelID: leg, at: now, cause: cause)
        case .endedBy(let who): recorder.endedBy(cc, who)
        case .hold(let on): recorder.hold(cc, at: now, on: on)
        case .transferred(let to, let by): recorder.transferred(cc, to: to, by: by, at: now)
        case .event(let kind, let detail): recorder.event(cc, kind: kind, detail: detail, at: now)
        case .supervisorAnswered(let supervisor, let leg): recorder.supervisorAnswered(cc, supervisor: supervisor, channelID: leg, at: now)
        case .outbound: break
        }
    }

    // MARK: dialling

    /// Rings the agent's phone for the call. The answer to an Originate may come after the
    /// offer it was for was taken back and a new one made: only the latest dial of the agent
    /// session that made it may change the offer.
    private func dial(_ a: Agent, _ entry: CallEntry, autoAnswer: Bool) {
        let code = a.code
        a.dialAttempt += 1
        let attempt = a.dialAttempt
        entry.link.command(Originate(destination: a.sipExtension, callerID: entry.call.caller, timeoutMs: UInt32(settings.ringTimeoutMs + 5000),
                                     autoAnswer: autoAnswer)) { [weak self] r in
            guard let self else { return }
            let current = self.agents[code] === a && a.dialAttempt == attempt && a.machine.state.call == entry.id
            switch r {
            case .success(let res):
                guard current, self.calls[entry.id] === entry else {
                    self.command(entry.link, HangupChannel(channelID: res.channelID, cause: "offer withdrawn"))
                    return
                }
                self.feed(entry, .agentDialled(agent: code, leg: res.channelID))
            case .failure(let e):
                guard current else { return }
                self.logger.warning("acd: cannot ring \(code) at \(a.sipExtension): \(e.reason)")
                self.feed(entry, .agentDialFailed(agent: code, reason: e.reason))
            }
        }
    }

    /// Dials a number through the route table (or an agent's phone as it is).
    private func dialOutside(_ entry: CallEntry, destination: String, route: ACDCall.DialRoute, callerID: String) {
        let target: OutboundRoutes.Resolved
        switch route {
        case .phone: target = OutboundRoutes.Resolved(number: destination, trunk: "", callerID: callerID, route: "")
        case .number:
            switch settings.routes.resolve(destination, callerID: callerID) {
            case .success(let r): target = r
            case .failure(let why):
                feed(entry, .outsideDialFailed(reason: why.description))
                return
            }
        }
        originate(for: entry, Originate(destination: target.number, callerID: target.callerID, timeoutMs: 45_000, trunk: target.trunk),
                  dialled: { .outsideDialled(leg: $0) }, failed: { .outsideDialFailed(reason: $0) })
    }

    /// Places a leg for a call: the new channel goes to the call's machine as `dialled`, a
    /// refusal as `failed`; a channel that comes back for a call already gone is hung up.
    func originate(for entry: CallEntry, _ m: Originate, lateCause: String = "no longer needed",
                   dialled: @escaping (String) -> ACDCall.Event, failed: @escaping (String) -> ACDCall.Event) {
        entry.link.command(m) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                guard self.calls[entry.id] === entry else {
                    self.command(entry.link, HangupChannel(channelID: res.channelID, cause: lateCause))
                    return
                }
                self.feed(entry, dialled(res.channelID))
            case .failure(let e):
                self.feed(entry, failed(e.reason))
            }
        }
    }

    private func dialConsult(_ entry: CallEntry, destination: String, route: ACDCall.DialRoute, autoAnswer: Bool, from code: String) {
        let own = agents[code]?.sipExtension ?? code
        var target = OutboundRoutes.Resolved(number: destination, trunk: "", callerID: own, route: "")
        if route == .number {
            switch settings.routes.resolve(destination, callerID: entry.call.called) {
            case .success(let r): target = r
            case .failure(let why):
                feed(entry, .consultDialFailed(reason: why.description))
                return
            }
        }
        originate(for: entry, Originate(destination: target.number, callerID: target.callerID, timeoutMs: UInt32(settings.ringTimeoutMs),
                                        trunk: target.trunk, autoAnswer: autoAnswer),
                  lateCause: "cancelled", dialled: { .consultDialled(leg: $0) }, failed: { .consultDialFailed(reason: $0) })
    }

    // MARK: routing

    private var routing = false, routeAgain = false

    /// A routing pass (re-entrant calls from offers made during it run once more after it).
    func route() {
        guard !routing else { routeAgain = true; return }
        routing = true
        defer { routing = false }
        repeat {
            routeAgain = false
            for (c, chosen) in engine.route(now: now) {
                guard let entry = calls[c.id] else { continue }
                for code in chosen {
                    guard let a = agents[code] else { continue }
                    feed(entry, .offer(agent: code, dial: a.mode == .phone, autoAnswer: false))
                    logger.info("acd: \(entry.id) from \(entry.call.caller) in \(entry.call.queue) offered to \(code)")
                }
            }
        } while routeAgain
    }

    // MARK: helpers

    func command<M: WireMessage>(_ link: ChannelLink, _ m: M) {
        link.command(m) { [weak self] r in
            if case .failure(let e) = r { self?.logger.debug("acd: \(M.self) failed: \(e.reason)") }
        }
    }

    func queueEvent(_ entry: CallEntry, _ kind: String, _ detail: [String: String]) {
        queueEventSeq += 1
        submit(.queueEvent(QueueEventRecord(queue: entry.call.queue, callID: entry.call.callerChannel.flatMap { recorder.callID($0) }, kind: kind, at: now,
                                            detail: detail.merging(["call": entry.id]) { a, _ in a }, sequence: queueEventSeq)))
    }
}
