import Foundation
import Logging
import Protocol

/// The CT-Server link as the ACD uses it: channel commands answered with ChannelCommandResult
/// (a protocol, so that tests can drive the distributor with a scripted CT-Server).
protocol ChannelLink: AnyObject {
    func command<M: WireMessage>(_ m: M, completion: @escaping (Result<ChannelCommandResult, ProtocolError>) -> Void)
}

extension Connection: ChannelLink {
    func command<M: WireMessage>(_ m: M, completion: @escaping (Result<ChannelCommandResult, ProtocolError>) -> Void) {
        request(m, expecting: ChannelCommandResult.self, completion: completion)
    }
}

/// The ACD at work: calls that flows put in queues, agents logged in through App-Operate, and
/// the offers between them. The decisions are ACDEngine's and each agent's state is an
/// AgentStateMachine; this class carries out their actions — rings agents' phones through the
/// CT-Server, bridges on answer, plays music while callers wait, pops agents' screens, writes
/// agent-state periods and queue events. Runs on the Flow-Server's loop; no threads.
final class CallDistributor {
    enum Mode: String { case phone, console }

    final class Agent {
        var op: Operator
        var machine: AgentStateMachine
        var sipExtension: String
        var mode: Mode
        var connections: [ObjectIdentifier: Connection] = [:]
        /// The ring or wrap-up timer.
        var timer: TimerID?
        /// The logout timer after the App-Operate connection was lost (it runs beside a ring or
        /// wrap-up timer, never instead of it).
        var graceTimer: TimerID?
        /// Counts the agent's dials (Originate to its phone): only the latest one's answer counts.
        var dialAttempt = 0
        var call: QueuedCall?
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

    enum LegRole { case agent(String), consult, external }

    final class QueuedCall {
        let id: String
        /// The caller's channel (for a callback: the customer's, once dialled).
        var callerChannel: String?
        let conn: ChannelLink
        let caller: String
        let called: String
        var queue: String
        var priority: Int
        var skills: [String: Int]
        var variables: [String: String]
        var enqueuedAt: Double
        var music: [String]
        var announce: [String]
        var announceEvery: Int
        var noAgentsBranch: Bool
        var excluded: Set<String> = []
        var timers: [TimerID] = []
        /// Agents the call is offered to, with their phone's channel once dialled.
        var offers: [String: String?] = [:]
        var agent: String?
        var agentChannel: String?
        var held = false
        var consult: (channel: String?, target: String, agent: String?, connected: Bool)?
        var conference: String?
        /// A callback request: the number to dial once an agent takes it.
        var callbackNumber: String?
        /// Back to the flow (timeout, no agents, returned by the agent, transferred to a flow).
        var onOutcome: ((FlowRun.QueueOutcome) -> Void)?
        var onFlow: ((String) -> Void)?
        /// Sends the call to another Flow-Server (it waits there instead); nil for callbacks.
        var onHandOver: ((String) -> Void)?
        var ended = false
        init(id: String, callerChannel: String?, conn: ChannelLink, caller: String, called: String, queue: String, priority: Int,
             skills: [String: Int], variables: [String: String], enqueuedAt: Double, music: [String], announce: [String], announceEvery: Int,
             noAgentsBranch: Bool) {
            self.id = id
            self.callerChannel = callerChannel
            self.conn = conn
            self.caller = caller
            self.called = called
            self.queue = queue
            self.priority = priority
            self.skills = skills
            self.variables = variables
            self.enqueuedAt = enqueuedAt
            self.music = music
            self.announce = announce
            self.announceEvery = announceEvery
            self.noAgentsBranch = noAgentsBranch
        }
        var waiting: Bool { agent == nil && offers.isEmpty }
    }

    let loop: EventLoop
    let logger: Logger
    let recorder: CallRecorder
    let submit: (StoredRecord) -> Void
    var settings = QueueSettings()
    private(set) var engine = ACDEngine()
    private(set) var agents: [String: Agent] = [:]
    private(set) var calls: [String: QueuedCall] = [:]
    /// Channels the ACD dialled (agents' phones, consultations, transfers out) → their call.
    private var legs: [String: (QueuedCall, LegRole)] = [:]
    /// Caller number → (agent, when): the sticky agent.
    private var lastAgent: [String: (String, Double)] = [:]
    private var queueEventSeq = 0
    private var nextCallback = 1
    private var nextOutbound = 1
    var counters = (offered: 0, answered: 0, abandoned: 0, rona: 0, rejected: 0)

    init(loop: EventLoop, recorder: CallRecorder, submit: @escaping (StoredRecord) -> Void, logger: Logger) {
        self.loop = loop
        self.recorder = recorder
        self.submit = submit
        self.logger = logger
        scheduleEscalationPass()
    }

    /// Skill requirements relax with waiting time (escalation): while calls wait and agents are
    /// ready, a routing pass every 2 s lets a call that has waited long enough reach them.
    private func scheduleEscalationPass() {
        _ = loop.schedule(afterMilliseconds: 2000) { [weak self] in
            guard let self else { return }
            if self.engine.waitingCount > 0 && self.engine.readyCount > 0 { self.route() }
            self.scheduleEscalationPass()
        }
    }

    var now: Double { Date().timeIntervalSince1970 }

    func apply(settings s: QueueSettings) {
        settings = s
        for q in s.queues.values { engine.setQueue(q.engineQueue) }
        for a in agents.values { a.machine.wrapUpSeconds = s.wrapUpSeconds }
    }

    // MARK: agents on other Flow-Servers

    /// Queue → Flow-Servers with agents logged in for it, and those with a ready one (from agent_presence).
    var remoteQueues: [String: [String]] = [:]
    var remoteReady: [String: [String]] = [:]

    /// Whether an agent logged in here serves `queue` (or it is a local agent's personal queue).
    func hasLocalAgents(for queue: String) -> Bool { staffed(queue) > 0 }

    /// Another Flow-Server to send a call for `queue` to: one with agents for it when none is
    /// logged in here, or one with a ready agent when none is ready here and calls already wait.
    func remoteServer(for queue: String) -> String? {
        if !hasLocalAgents(for: queue) { return remoteReady[queue]?.first ?? remoteQueues[queue]?.first }
        if engine.readyAgents(in: queue) == 0, let ready = remoteReady[queue]?.first { return ready }
        return nil
    }

    /// Calls that have waited here 5 s or more with no ready agent here, while another Flow-Server
    /// has a ready agent for their queue, go there (oldest first, one per ready server and queue).
    func rebalance() {
        var sent: Set<String> = []
        for call in calls.values.sorted(by: { $0.enqueuedAt < $1.enqueuedAt }) where call.waiting && !call.ended {
            guard let handOver = call.onHandOver, now - call.enqueuedAt >= 5, engine.readyAgents(in: call.queue) == 0,
                  let server = remoteReady[call.queue]?.first(where: { !sent.contains("\(call.queue)@\($0)") }) else { continue }
            sent.insert("\(call.queue)@\(server)")
            engine.remove(call: call.id)
            finish(call)
            queueEvent(call, "handed-over", ["to": server])
            logger.info("acd: \(call.id) waited \(Int(now - call.enqueuedAt)) s with no ready agent here; to \(server), which has one")
            handOver(server)
        }
    }

    /// This server's agents for agent_presence: (code, queues, state).
    var presence: [(String, [String], String)] {
        agents.values.map { ($0.code, $0.queues.sorted(), $0.machine.state.name) }
    }

    /// Two channels another Flow-Server had bridged (it was lost): when one ends, the other is hung up.
    func pairAdopted(_ a: String, _ b: String, conn: ChannelLink) {
        externalPairs[a] = (b, conn)
        externalPairs[b] = (a, conn)
    }

    // MARK: calls entering

    /// A flow's queue node: the call waits for an agent. Returns false when it cannot be queued
    /// (the caller's channel is gone).
    func enqueue(channelID: String, conn: ChannelLink, caller: String, called: String, node q: FlowNode.Queue, variables: [String: String],
                 onOutcome: @escaping (FlowRun.QueueOutcome) -> Void, onFlow: @escaping (String) -> Void, onHandOver: ((String) -> Void)? = nil) {
        let call = QueuedCall(id: channelID, callerChannel: channelID, conn: conn, caller: caller, called: called, queue: q.queue, priority: q.priority,
                              skills: q.skills, variables: variables, enqueuedAt: now, music: q.music, announce: q.announce,
                              announceEvery: q.announceEverySeconds, noAgentsBranch: q.noAgents != nil)
        call.onOutcome = onOutcome
        call.onFlow = onFlow
        call.onHandOver = onHandOver
        calls[call.id] = call
        let maxWait = q.maxWaitSeconds ?? settings.queues[q.queue]?.maxWaitSeconds
        if let maxWait {
            call.timers.append(loop.schedule(afterMilliseconds: maxWait * 1000) { [weak self, weak call] in
                guard let self, let call, call.waiting, !call.ended else { return }
                self.leaveQueue(call, kind: "timeout", outcome: .timeout)
            })
        }
        recorder.queued(channelID, queue: q.queue, at: call.enqueuedAt)
        queueEvent(call, "entered", ["caller": caller, "priority": String(q.priority)])
        intoQueue(call)
    }

    /// A callback request (the flow's callback node): waits in the queue like a call; the agent
    /// who takes it is connected to the number by an outbound call.
    func registerCallback(conn: ChannelLink, queue: String, number: String, called: String, priority: Int, variables: [String: String]) -> Bool {
        let digits = number.filter { $0.isNumber || $0 == "+" }
        guard !digits.isEmpty, digits.count == number.count else { return false }
        let call = QueuedCall(id: "callback-\(nextCallback)-\(Int(now))", callerChannel: nil, conn: conn, caller: number, called: called, queue: queue,
                              priority: priority, skills: [:], variables: variables, enqueuedAt: now, music: [], announce: [], announceEvery: 0,
                              noAgentsBranch: false)
        nextCallback += 1
        call.callbackNumber = number
        calls[call.id] = call
        queueEvent(call, "callback-requested", ["number": number])
        intoQueue(call)
        return true
    }

    private func ensureQueue(_ name: String) {
        if engine.queues[name] == nil {
            engine.setQueue(settings.queues[name]?.engineQueue ?? ACDEngine.Queue(name: name))
        }
    }

    /// Puts (or puts back) a call into its queue: music, announcements, then a routing pass.
    private func intoQueue(_ call: QueuedCall) {
        ensureQueue(call.queue)
        if let q = settings.queues[call.queue], !q.isOpen(at: Date()), call.callerChannel != nil {
            leaveQueue(call, kind: "closed", outcome: .noAgents)
            return
        }
        if call.noAgentsBranch, !hasLocalAgents(for: call.queue) {
            leaveQueue(call, kind: "no-agents", outcome: .noAgents)
            return
        }
        if let ch = call.callerChannel, !call.music.isEmpty {
            command(call.conn, PlayMedia(channelID: ch, items: call.music, loop: true, tag: 0))
        }
        if call.announceEvery > 0, !call.announce.isEmpty { scheduleAnnouncement(call) }
        engine.enqueue(engineCall(call))
        route()
    }

    /// The call as the routing engine sees it (its place kept by its first enqueue time).
    private func engineCall(_ call: QueuedCall) -> ACDEngine.Call {
        var c = ACDEngine.Call(id: call.id, queue: call.queue, priority: call.priority, enqueuedAt: call.enqueuedAt, skills: call.skills,
                               stickyAgent: lastAgent[call.caller].flatMap { now - $0.1 < settings.stickyWindowSeconds ? $0.0 : nil })
        c.excluded = call.excluded
        return c
    }

    private func scheduleAnnouncement(_ call: QueuedCall) {
        call.timers.append(loop.schedule(afterMilliseconds: call.announceEvery * 1000) { [weak self, weak call] in
            guard let self, let call, call.waiting, !call.ended, let ch = call.callerChannel else { return }
            let position = self.engine.waitingCalls(in: call.queue).firstIndex { $0.id == call.id }.map { $0 + 1 } ?? 1
            var vars = call.variables
            vars["queue.position"] = String(position)
            vars["queue.wait_minutes"] = String(max(1, Int((Double(position) * self.averageHandleSeconds(call.queue) / Double(max(1, self.staffed(call.queue)))) / 60 + 0.5)))
            let items = call.announce.map { Self.interpolate($0, vars) } + call.music
            self.command(call.conn, PlayMedia(channelID: ch, items: items, loop: true, tag: 0))
            self.scheduleAnnouncement(call)
        })
    }

    /// Agents logged in for a queue (for the estimated wait).
    func staffed(_ queue: String) -> Int { agents.values.filter { $0.machine.state != .loggedOut && $0.queues.contains(queue) }.count }
    private var handled: [String: (count: Double, seconds: Double)] = [:]
    func averageHandleSeconds(_ queue: String) -> Double {
        guard let h = handled[queue], h.count > 0 else { return 120 }
        return h.seconds / h.count
    }

    static func interpolate(_ text: String, _ vars: [String: String]) -> String {
        var out = text
        for (k, v) in vars where out.contains("${\(k)}") { out = out.replacingOccurrences(of: "${\(k)}", with: v) }
        return out
    }

    /// The call leaves the ACD and goes back to its flow.
    private func leaveQueue(_ call: QueuedCall, kind: String, outcome: FlowRun.QueueOutcome) {
        engine.remove(call: call.id)
        finish(call)
        queueEvent(call, kind, [:])
        if let ch = call.callerChannel { command(call.conn, StopMedia(channelID: ch, what: .all)) }
        call.onOutcome?(outcome)
    }

    private func finish(_ call: QueuedCall) {
        call.ended = true
        for t in call.timers { loop.cancel(t) }
        call.timers = []
        calls.removeValue(forKey: call.id)
    }

    // MARK: routing and offering

    private var routing = false, routeAgain = false

    /// A routing pass (re-entrant calls from offers made during it run once more after it).
    func route() {
        guard !routing else { routeAgain = true; return }
        routing = true
        defer { routing = false }
        repeat {
            routeAgain = false
            for (c, chosen) in engine.route(now: now) {
                guard let call = calls[c.id] else { continue }
                for code in chosen { offer(call, to: code) }
            }
        } while routeAgain
    }

    private func offer(_ call: QueuedCall, to code: String) {
        guard let a = agents[code] else { return }
        call.offers[code] = .some(nil)
        counters.offered += 1
        handle(a, .reserve(call: call.id))
        a.call = call
        var pop: [String: String] = ["call": call.id, "caller": call.caller, "called": call.called, "queue": call.queue,
                                     "waited_seconds": String(Int(now - call.enqueuedAt)), "priority": String(call.priority)]
        if let n = call.callbackNumber { pop["callback"] = n }
        for (k, v) in call.variables where k != "caller" && k != "called" { pop[k.hasPrefix("customer.") ? k : "var.\(k)"] = v }
        push(a, "offered", pop)
        if let ch = call.callerChannel { recorder.offered(ch, agent: code, at: now) }
        queueEvent(call, "offered", ["agent": code])
        logger.info("acd: \(call.id) from \(call.caller) in \(call.queue) offered to \(code)")
        if a.mode == .phone { dial(a, call, autoAnswer: false) } else { handle(a, .ringing(call: call.id)) }
    }

    /// Rings the agent's phone for the call.
    /// The answer to an Originate may come after the offer it was for was taken back (the agent's
    /// connection dropped, the caller left) and a new one made: only the latest dial of the agent
    /// session that made it may change the offer.
    private func dial(_ a: Agent, _ call: QueuedCall, autoAnswer: Bool) {
        let code = a.code
        a.dialAttempt += 1
        let attempt = a.dialAttempt
        call.conn.command(Originate(destination: a.sipExtension, callerID: call.caller, timeoutMs: UInt32(settings.ringTimeoutMs + 5000), autoAnswer: autoAnswer)) { [weak self] r in
            guard let self else { return }
            let current = self.agents[code] === a && a.dialAttempt == attempt
            switch r {
            case .success(let res):
                guard current, !call.ended, call.offers[code] != nil, a.machine.state.call == call.id else {
                    self.command(call.conn, HangupChannel(channelID: res.channelID, cause: "offer withdrawn"))
                    return
                }
                call.offers[code] = res.channelID
                self.legs[res.channelID] = (call, .agent(code))
                if case .reserved = a.machine.state { self.handle(a, .ringing(call: call.id)) }
            case .failure(let e):
                guard current else { return }
                self.logger.warning("acd: cannot ring \(code) at \(a.sipExtension): \(e.reason)")
                self.push(a, "notice", ["text": "your phone \(a.sipExtension) cannot be reached: \(e.reason)"])
                call.offers.removeValue(forKey: code)
                if a.machine.state.call == call.id { self.handle(a, .ringTimeout(call: call.id)) }
            }
        }
    }

    // MARK: agent state

    /// Feeds an event to an agent's state machine and carries out its actions.
    @discardableResult
    func handle(_ a: Agent, _ e: AgentStateMachine.Event) -> String? {
        let before = a.machine.state
        let actions = a.machine.handle(e, now: now)
        var refused: String?
        var routeDue = false
        for action in actions {
            switch action {
            case .refuse(let why): refused = why
            case .record(let state, let reason, let from, let to):
                submit(.agentState(AgentStateRecord(agent: a.code, state: state, reason: reason, startedAt: from, endedAt: to)))
            case .startRingTimer(let callID):
                if let t = a.timer { loop.cancel(t) }
                a.timer = loop.schedule(afterMilliseconds: settings.ringTimeoutMs) { [weak self, weak a] in
                    guard let self, let a, a.machine.state.call == callID else { return }
                    if case .talking = a.machine.state { return }
                    self.logger.notice("acd: \(a.code) did not answer \(callID) (RONA)")
                    self.counters.rona += 1
                    self.withdraw(a, callID: callID, cause: "ring no answer")
                    self.handle(a, .ringTimeout(call: callID))
                }
            case .startWrapUpTimer(let seconds):
                if let t = a.timer { loop.cancel(t) }
                a.timer = loop.schedule(afterMilliseconds: Int(seconds * 1000)) { [weak self, weak a] in
                    guard let self, let a, case .wrapUp = a.machine.state else { return }
                    self.handle(a, .wrapUpEnded)
                }
            case .startGraceTimer:
                if let t = a.graceTimer { loop.cancel(t) }
                a.graceTimer = loop.schedule(afterMilliseconds: Int(settings.disconnectGraceSeconds * 1000)) { [weak self, weak a] in
                    guard let self, let a else { return }
                    self.handle(a, .graceExpired)
                    if a.machine.state == .loggedOut { self.agents.removeValue(forKey: a.code) }
                }
            case .requeue(let callID, let reason):
                guard let call = calls[callID], call.agent == nil else { continue }
                call.offers.removeValue(forKey: a.code)
                if a.call === call { a.call = nil }
                if reason.contains("rejected") { call.excluded.insert(a.code); counters.rejected += 1 }
                queueEvent(call, "requeued", ["agent": a.code, "reason": reason])
                if call.offers.isEmpty {
                    engine.enqueue(engineCall(call))
                    routeDue = true
                }
            }
        }
        let after = a.machine.state
        if after.call == nil { a.call = nil }
        if before != after {
            if case .ready = after {
                engine.agentReady(ACDEngine.Agent(id: a.code, skills: a.op.skills, queues: a.queues, readySince: now, callsHandled: a.machine.callsHandled))
            } else {
                engine.agentUnavailable(a.code)
            }
            if case .talking = after, a.talkStarted == nil { a.talkStarted = now }
            if a.talkStarted != nil, after.call == nil, let t = a.talkStarted {
                a.talkSeconds += now - t
                a.talkStarted = nil
            }
            push(a, "state", ["from": before.name, "reason": { if case .notReady(let r, _) = after { return r }; return "" }()])
            logger.info("agent \(a.code): \(before.name) → \(after.name)")
        }
        // Only an agent becoming ready or a call back in the queue can make a new pair.
        if case .ready = after, before != after { routeDue = true }
        if routeDue { route() }
        return refused
    }

    /// Takes an unanswered offer back from an agent (hangs up its ringing phone).
    private func withdraw(_ a: Agent, callID: String, cause: String) {
        guard let call = calls[callID] ?? a.call, call.id == callID else { return }
        if let ch = call.offers[a.code] ?? nil {
            legs.removeValue(forKey: ch)
            command(call.conn, HangupChannel(channelID: ch, cause: cause))
        }
    }

    // MARK: channel events

    /// Channel events of callers in the ACD and of the legs it dialled. Call before the
    /// recorder sees the event (so the record is complete when it is written).
    func channelEvent(_ e: ChannelEvent) {
        if monitorEvent(e) { return }
        if blindTransferEvent(e) { return }
        if e.kind == .cleared || e.kind == .failed, let (other, conn) = externalPairs.removeValue(forKey: e.channelID) {
            externalPairs.removeValue(forKey: other)
            legs.removeValue(forKey: e.channelID)
            legs.removeValue(forKey: other)
            command(conn, HangupChannel(channelID: other, cause: "other party hung up"))
            return
        }
        if let (call, role) = legs[e.channelID] {
            legEvent(call, role, e)
            return
        }
        guard let call = liveCall(e.channelID) else { return }
        switch e.kind {
        case .cleared, .failed:
            callerGone(call, cause: e.cause)
        default:
            break
        }
    }

    /// Calls connected to an agent, by caller channel (they left `calls`' waiting set).
    private var connected: [String: QueuedCall] = [:]

    private func callerGone(_ call: QueuedCall, cause: String) {
        engine.remove(call: call.id)
        let wasWaiting = call.waiting
        finish(call)
        if let ch = call.callerChannel { connected.removeValue(forKey: ch) }
        if wasWaiting {
            counters.abandoned += 1
            queueEvent(call, "abandoned", ["waited_seconds": String(Int(now - call.enqueuedAt))])
        }
        for (code, ch) in call.offers {
            if let ch { legs.removeValue(forKey: ch); command(call.conn, HangupChannel(channelID: ch, cause: "caller left")) }
            if let a = agents[code], a.machine.state.call == call.id {
                queueEvent(call, "abandoned", ["agent": code, "waited_seconds": String(Int(now - call.enqueuedAt))])
                push(a, "ended", ["call": call.id, "cause": "caller left before answer"])
                handle(a, .callEnded(call: call.id))
            }
        }
        call.offers = [:]
        if let ch = call.agentChannel {
            legs.removeValue(forKey: ch)
            command(call.conn, HangupChannel(channelID: ch, cause: "caller hung up"))
            if let cc = call.callerChannel { recorder.agentLegEnded(cc, channelID: ch, at: now, cause: "caller hung up") }
        }
        if let c = call.consult?.channel { legs.removeValue(forKey: c); command(call.conn, HangupChannel(channelID: c, cause: "caller hung up")) }
        if let code = call.agent, let a = agents[code] {
            push(a, "ended", ["call": call.id, "cause": cause.isEmpty ? "caller hung up" : cause])
            handle(a, .callEnded(call: call.id))
        }
        if let code = call.consult?.agent, let t = agents[code], t.machine.state.call == call.id { handle(t, .callEnded(call: call.id)) }
    }

    private func legEvent(_ call: QueuedCall, _ role: LegRole, _ e: ChannelEvent) {
        switch (role, e.kind) {
        case (.agent(let code), .established):
            agentAnswered(call, code: code, channel: e.channelID)
        case (.agent(let code), .held):
            if let a = agents[code], call.agent == code, !call.held { hold(a, call) }
        case (.agent(let code), .retrieved):
            if let a = agents[code], call.agent == code, call.held { retrieve(a, call) }
        case (.agent(let code), .cleared), (.agent(let code), .failed):
            legs.removeValue(forKey: e.channelID)
            guard let a = agents[code] else { return }
            if call.agent == code, call.agentChannel == e.channelID {
                // The agent hung up: the caller's call ends too (unless it is being handed on).
                call.agentChannel = nil
                if let cc = call.callerChannel { recorder.agentLegEnded(cc, channelID: e.channelID, at: now, cause: e.cause) }
                if let consult = call.consult, consult.connected, let cch = consult.channel {
                    // Hanging up during a consultation completes the transfer (attended transfer).
                    completeTransfer(call, from: a, consultChannel: cch)
                    return
                }
                if let cc = call.callerChannel {
                    recorder.endedBy(cc, "agent")
                    command(call.conn, HangupChannel(channelID: cc, cause: "agent hung up"))
                }
                finish(call)
                if let cc = call.callerChannel { connected.removeValue(forKey: cc) }
                push(a, "ended", ["call": call.id, "cause": "you hung up"])
                handle(a, .callEnded(call: call.id))
            } else if call.offers[code] != nil {
                // Not answered: declined (busy, decline) or unreachable / no answer.
                call.offers.removeValue(forKey: code)
                guard a.machine.state.call == call.id else { return }
                let declined = [486, 600, 603].contains(Int(e.sipCode)) || e.cause.contains("decline")
                if declined { handle(a, .rejected(call: call.id)) } else { counters.rona += 1; handle(a, .ringTimeout(call: call.id)) }
            }
        case (.consult, .established):
            guard var consult = call.consult, consult.channel == e.channelID else { return }
            consult.connected = true
            call.consult = consult
            if let consultAgent = consult.agent, let t = agents[consultAgent] { handle(t, .answered(call: call.id)) }
            if let ach = call.agentChannel { command(call.conn, BridgeChannels(channelID: ach, otherChannelID: e.channelID)) }
            if let code = call.agent, let a = agents[code] { push(a, "consult", ["state": "connected", "target": consult.target]) }
        case (.consult, .cleared), (.consult, .failed):
            legs.removeValue(forKey: e.channelID)
            guard let consult = call.consult, consult.channel == e.channelID else { return }
            call.consult = nil
            if let t = consult.agent.flatMap({ agents[$0] }), t.machine.state.call == call.id {
                handle(t, e.kind == .failed ? .ringTimeout(call: call.id) : .callEnded(call: call.id))
            }
            if let code = call.agent, let a = agents[code] {
                push(a, "consult", ["state": "ended", "target": consult.target, "cause": e.cause])
                // Back to the caller (still held).
                if call.conference == nil, let ach = call.agentChannel, let cc = call.callerChannel {
                    command(call.conn, StopMedia(channelID: cc, what: .all))
                    command(call.conn, BridgeChannels(channelID: cc, otherChannelID: ach))
                    call.held = false
                    if case .held = a.machine.state { handle(a, .retrieve) }
                }
            }
        case (.external, .established):
            if call.callbackNumber != nil, call.callerChannel == nil || call.callerChannel == e.channelID {
                // A callback's customer answered: the agent (already on the line) is connected.
                call.callerChannel = e.channelID
                connected[e.channelID] = call
                legs.removeValue(forKey: e.channelID)
                recorder.outbound(e.channelID, caller: call.called, called: call.caller, at: now)
                recorder.agentAnswered(e.channelID, agent: call.agent ?? "", channelID: call.agentChannel ?? "", at: now)
                if let ach = call.agentChannel { command(call.conn, BridgeChannels(channelID: e.channelID, otherChannelID: ach)) }
            }
        case (.external, .failed):
            legs.removeValue(forKey: e.channelID)
            if call.callbackNumber != nil, let code = call.agent, let a = agents[code] {
                push(a, "notice", ["text": "callback to \(call.caller) failed: \(e.cause)"])
                queueEvent(call, "callback-failed", ["cause": e.cause])
                if let ach = call.agentChannel { command(call.conn, HangupChannel(channelID: ach, cause: "callback failed")) }
            }
        default:
            break
        }
    }

    private func agentAnswered(_ call: QueuedCall, code: String, channel: String) {
        guard let a = agents[code], !call.ended, call.agent == nil else {
            command(call.conn, HangupChannel(channelID: channel, cause: "taken by another agent"))
            legs.removeValue(forKey: channel)
            return
        }
        // First to answer takes it (ring-all); the other phones stop ringing.
        for (other, ch) in call.offers where other != code {
            if let ch { legs.removeValue(forKey: ch); command(call.conn, HangupChannel(channelID: ch, cause: "answered elsewhere")) }
            if let o = agents[other], o.machine.state.call == call.id { handle(o, .callEnded(call: call.id)) }
        }
        call.offers = [:]
        call.agent = code
        call.agentChannel = channel
        a.call = call
        for t in call.timers { loop.cancel(t) }
        call.timers = []
        handle(a, .answered(call: call.id))
        counters.answered += 1
        lastAgent[call.caller] = (code, now)
        let waited = now - call.enqueuedAt
        queueEvent(call, "answered", ["agent": code, "waited_seconds": String(format: "%.1f", waited)])
        if let cc = call.callerChannel {
            calls.removeValue(forKey: call.id)
            connected[cc] = call
            command(call.conn, StopMedia(channelID: cc, what: .all))
            command(call.conn, BridgeChannels(channelID: cc, otherChannelID: channel))
            recorder.agentAnswered(cc, agent: code, channelID: channel, at: now)
            // The safe point is now the bridge: whoever adopts the call records who answered it.
            command(call.conn, ChannelData(channelID: cc, data: ["agent": code, "queue": call.queue,
                                                                  "queued_ms": String(Int(call.enqueuedAt * 1000)),
                                                                  "agent_answered_ms": String(Int(now * 1000))]))
        } else if let number = call.callbackNumber {
            // Callback: the agent is on the line; now dial the customer.
            calls.removeValue(forKey: call.id)
            command(call.conn, PlayMedia(channelID: channel, items: ["tone:ringback"], loop: true))
            call.conn.command(Originate(destination: number, callerID: call.called, timeoutMs: 45_000)) { [weak self] r in
                guard let self else { return }
                switch r {
                case .success(let res): self.legs[res.channelID] = (call, .external)
                case .failure(let e):
                    self.push(a, "notice", ["text": "callback to \(number) failed: \(e.reason)"])
                    self.command(call.conn, HangupChannel(channelID: channel, cause: "callback failed"))
                }
            }
        }
        var f: [String: String] = ["call": call.id, "caller": call.caller, "queue": call.queue]
        for (k, v) in call.variables where k.hasPrefix("customer.") { f[k] = v }
        push(a, "connected", f)
        logger.info("acd: \(call.id) answered by \(code) after \(String(format: "%.1f", waited)) s")
    }

    // MARK: agent operations

    /// Why an agent or supervisor command was refused (shown to the operator as is).
    struct CommandError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    func hold(_ a: Agent, _ call: QueuedCall) {
        guard let cc = call.callerChannel else { return }
        command(call.conn, UnbridgeChannel(channelID: cc))
        command(call.conn, PlayMedia(channelID: cc, items: call.music.isEmpty ? ["tone:ringback"] : call.music, loop: true))
        call.held = true
        recorder.hold(cc, at: now, on: true)
        handle(a, .hold)
        push(a, "held", ["call": call.id])
    }

    func retrieve(_ a: Agent, _ call: QueuedCall) {
        guard let cc = call.callerChannel, let ach = call.agentChannel else { return }
        command(call.conn, StopMedia(channelID: cc, what: .all))
        command(call.conn, BridgeChannels(channelID: cc, otherChannelID: ach))
        call.held = false
        recorder.hold(cc, at: now, on: false)
        handle(a, .retrieve)
        push(a, "retrieved", ["call": call.id])
    }

    /// The agent's current call, connected.
    func currentCall(_ a: Agent) throws -> QueuedCall {
        guard let call = a.call, call.agent == a.code, !call.ended else { throw CommandError(message: "you are not on a call") }
        return call
    }

    /// Answer from App-Operate (console mode): ring the phone with auto-answer.
    func answer(_ a: Agent) throws {
        guard case .ringing(let callID) = a.machine.state, let call = calls[callID], call.offers[a.code] != nil else {
            throw CommandError(message: "no call is offered to you")
        }
        guard a.mode == .console else { throw CommandError(message: "your phone is ringing: lift the handset (log in with --mode console to answer here)") }
        guard call.offers[a.code] == .some(nil) else { throw CommandError(message: "already answering") }
        dial(a, call, autoAnswer: true)
    }

    func reject(_ a: Agent) throws {
        guard let callID = a.machine.state.call, let call = calls[callID], call.offers[a.code] != nil, call.agent == nil else {
            throw CommandError(message: "no call is offered to you")
        }
        withdraw(a, callID: callID, cause: "rejected by the agent")
        handle(a, .rejected(call: callID))
    }

    func hangup(_ a: Agent) throws {
        let call = try currentCall(a)
        if let ach = call.agentChannel { command(call.conn, HangupChannel(channelID: ach, cause: "agent hung up")) }
        else if let cc = call.callerChannel { command(call.conn, HangupChannel(channelID: cc, cause: "agent hung up")) }
    }

    /// Parses a transfer target: agent:CODE, queue:NAME, flow:NAME[#node], or a number.
    enum Target {
        case agent(String), queue(String), flow(String), number(String)
        init(_ s: String) throws {
            if s.hasPrefix("agent:") { self = .agent(String(s.dropFirst(6))) }
            else if s.hasPrefix("queue:") { self = .queue(String(s.dropFirst(6))) }
            else if s.hasPrefix("flow:") { self = .flow(String(s.dropFirst(5))) }
            else if !s.isEmpty, s.allSatisfy({ $0.isNumber || "+*#".contains($0) }) { self = .number(s) }
            else { throw CommandError(message: "a target is agent:CODE, queue:NAME, flow:NAME or a number, not \(s)") }
        }
    }

    /// The agent leaves the call (which goes on elsewhere).
    private func release(_ a: Agent, _ call: QueuedCall, cause: String) {
        if let ach = call.agentChannel {
            legs.removeValue(forKey: ach)
            command(call.conn, HangupChannel(channelID: ach, cause: cause))
            if let cc = call.callerChannel { recorder.agentLegEnded(cc, channelID: ach, at: now, cause: cause) }
        }
        call.agentChannel = nil
        call.agent = nil
        call.held = false
        let spent = now - (a.talkStarted ?? now)
        var h = handled[call.queue] ?? (0, 0)
        h.count += 1
        h.seconds += spent
        handled[call.queue] = h
        push(a, "ended", ["call": call.id, "cause": cause])
        handle(a, .callEnded(call: call.id))
        a.call = nil
    }

    func transfer(_ a: Agent, to target: String) throws {
        let call = try currentCall(a)
        guard let cc = call.callerChannel else { throw CommandError(message: "this call has no caller to transfer") }
        let t = try Target(target)
        if case .number = t, !a.op.mayCallExternal { throw CommandError(message: "permission denied: external calls are not allowed for \(a.code)") }
        if case .agent(let code) = t, agents[code] == nil { throw CommandError(message: "agent \(code) is not logged in") }
        command(call.conn, UnbridgeChannel(channelID: cc))
        recorder.transferred(cc, to: target, by: a.code, at: now)
        queueEvent(call, "transferred", ["agent": a.code, "to": target])
        release(a, call, cause: "transferred to \(target)")
        switch t {
        case .agent(let code): requeue(call, into: "agent/\(code)")
        case .queue(let q): requeue(call, into: q)
        case .flow(let f):
            connected.removeValue(forKey: cc)
            finish(call)
            call.onFlow?(f)
        case .number(let n):
            call.conn.command(Originate(destination: n, callerID: call.caller, timeoutMs: 45_000)) { [weak self] r in
                guard let self else { return }
                if case .success(let res) = r {
                    self.legs[res.channelID] = (call, .consult)
                    call.consult = (res.channelID, n, nil, false)
                    call.agentChannel = nil
                    // Bridged to the caller when answered (completeBlind below).
                    self.pendingBlind[res.channelID] = call
                } else {
                    self.command(call.conn, HangupChannel(channelID: cc, cause: "transfer to \(n) failed"))
                }
            }
        }
    }
    private var pendingBlind: [String: QueuedCall] = [:]

    private func requeue(_ call: QueuedCall, into queue: String) {
        guard let cc = call.callerChannel else { return }
        connected.removeValue(forKey: cc)
        call.queue = queue
        call.enqueuedAt = now
        call.excluded = []
        call.ended = false
        if call.music.isEmpty { call.music = ["tone:ringback"] }
        calls[call.id] = call
        recorder.queued(cc, queue: queue, at: now)
        queueEvent(call, "entered", ["caller": call.caller, "transferred": "yes"])
        intoQueue(call)
    }

    /// Consultation: the caller is held and the agent talks to the target first.
    func consult(_ a: Agent, to target: String) throws {
        let call = try currentCall(a)
        guard call.consult == nil else { throw CommandError(message: "already consulting \(call.consult!.target)") }
        let t = try Target(target)
        let destination: String
        var targetAgent: String?
        switch t {
        case .agent(let code):
            guard let other = agents[code], code != a.code else { throw CommandError(message: "agent \(code) is not logged in") }
            guard case .ready = other.machine.state else { throw CommandError(message: "agent \(code) is \(other.machine.state.name)") }
            destination = other.sipExtension
            targetAgent = code
            handle(other, .reserve(call: call.id))
            other.call = call
            push(other, "offered", ["call": call.id, "caller": call.caller, "consult_from": a.code, "queue": call.queue])
        case .number(let n):
            guard a.op.mayCallExternal else { throw CommandError(message: "permission denied: external calls are not allowed for \(a.code)") }
            destination = n
        default:
            throw CommandError(message: "consult an agent (agent:CODE) or a number")
        }
        if !call.held { hold(a, call) }
        call.consult = (nil, target, targetAgent, false)
        let auto = targetAgent.flatMap { agents[$0] }?.mode == .console
        call.conn.command(Originate(destination: destination, callerID: a.sipExtension, timeoutMs: UInt32(settings.ringTimeoutMs), autoAnswer: auto)) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                guard call.consult?.target == target else { self.command(call.conn, HangupChannel(channelID: res.channelID, cause: "cancelled")); return }
                call.consult?.channel = res.channelID
                self.legs[res.channelID] = (call, .consult)
                if let code = targetAgent, let other = self.agents[code], case .reserved = other.machine.state { self.handle(other, .ringing(call: call.id)) }
            case .failure(let e):
                call.consult = nil
                if let code = targetAgent, let other = self.agents[code], other.machine.state.call == call.id { self.handle(other, .rejected(call: call.id)) }
                self.push(a, "consult", ["state": "failed", "target": target, "cause": e.reason])
                self.retrieve(a, call)
            }
        }
    }

    /// Completes a consultation: the caller is connected to the consulted party; the agent leaves.
    func complete(_ a: Agent) throws {
        let call = try currentCall(a)
        guard let consult = call.consult, consult.connected, let cch = consult.channel else { throw CommandError(message: "no consultation is connected") }
        completeTransfer(call, from: a, consultChannel: cch)
    }

    private func completeTransfer(_ call: QueuedCall, from a: Agent, consultChannel cch: String) {
        guard let cc = call.callerChannel, let consult = call.consult else { return }
        if let ach = call.agentChannel { command(call.conn, UnbridgeChannel(channelID: ach)) }
        command(call.conn, StopMedia(channelID: cc, what: .all))
        if call.conference == nil { command(call.conn, BridgeChannels(channelID: cc, otherChannelID: cch)) }
        recorder.transferred(cc, to: consult.target, by: a.code, at: now)
        queueEvent(call, "transferred", ["agent": a.code, "to": consult.target, "attended": "yes"])
        release(a, call, cause: "transferred to \(consult.target)")
        call.consult = nil
        if let code = consult.agent, let t = agents[code] {
            legs[cch] = (call, .agent(code))
            call.agent = code
            call.agentChannel = cch
            t.call = call
            recorder.agentAnswered(cc, agent: code, channelID: cch, at: now)
            push(t, "connected", ["call": call.id, "caller": call.caller, "queue": call.queue, "transferred_by": a.code])
        } else {
            // An outside party: the caller and it talk on; the call ends when either hangs up.
            legs[cch] = (call, .external)
            externalPairs[cch] = (cc, call.conn)
            externalPairs[cc] = (cch, call.conn)
            connected.removeValue(forKey: cc)
            finish(call)
        }
    }
    /// Caller ↔ outside party after a transfer out: when one hangs up, the other is hung up.
    private var externalPairs: [String: (String, ChannelLink)] = [:]

    func cancelConsult(_ a: Agent) throws {
        let call = try currentCall(a)
        guard let consult = call.consult else { throw CommandError(message: "no consultation") }
        if let cch = consult.channel { command(call.conn, HangupChannel(channelID: cch, cause: "consultation cancelled")) }
        else { call.consult = nil; retrieve(a, call) }
    }

    /// Three-way call: caller, agent and the consulted party in one conference.
    func conference(_ a: Agent) throws {
        let call = try currentCall(a)
        guard let consult = call.consult, consult.connected, let cch = consult.channel, let cc = call.callerChannel, let ach = call.agentChannel else {
            throw CommandError(message: "consult someone first, then join them")
        }
        let room = "three-way-\(call.id)"
        call.conference = room
        command(call.conn, StopMedia(channelID: cc, what: .all))
        for ch in [cc, ach, cch] { command(call.conn, ConferenceJoin(channelID: ch, conference: room)) }
        call.held = false
        if case .held = a.machine.state { handle(a, .retrieve) }
        recorder.event(cc, kind: "conferenced", detail: ["agent": a.code, "with": consult.target], at: now)
        push(a, "conferenced", ["call": call.id, "with": consult.target])
    }

    /// Returns the caller to the flow (人工在线帮助): at `node`, or the queue node's `returned`.
    func returnToFlow(_ a: Agent, node: String?, variables: [String: String]) throws {
        let call = try currentCall(a)
        guard let cc = call.callerChannel, call.onOutcome != nil else { throw CommandError(message: "this call did not come from a flow") }
        command(call.conn, UnbridgeChannel(channelID: cc))
        recorder.event(cc, kind: "returned-to-flow", detail: ["agent": a.code, "node": node ?? ""], at: now)
        release(a, call, cause: "returned to the flow")
        connected.removeValue(forKey: cc)
        finish(call)
        call.onOutcome?(.returned(node: node, variables: variables))
    }

    /// An internal call (to another agent) or an external call from the agent's phone.
    func placeCall(_ a: Agent, to target: String, conn: ChannelLink) throws {
        let t = try Target(target)
        let destination: String
        switch t {
        case .agent(let code):
            guard let other = agents[code] else { throw CommandError(message: "agent \(code) is not logged in") }
            destination = other.sipExtension
        case .number(let n):
            guard a.op.mayCallExternal else { throw CommandError(message: "permission denied: external calls are not allowed for \(a.code)") }
            destination = n
        default: throw CommandError(message: "call an agent (agent:CODE) or a number")
        }
        guard a.machine.state.call == nil else { throw CommandError(message: "finish your current call first") }
        let id = "outbound-\(a.code)-\(nextOutbound)"
        nextOutbound += 1
        if let why = handle(a, .outbound(call: id)) { throw CommandError(message: why) }
        // The agent's phone first (auto-answer), then the number; bridged when it answers.
        let call = QueuedCall(id: id, callerChannel: nil, conn: conn, caller: destination, called: a.sipExtension, queue: "agent/\(a.code)", priority: 0,
                              skills: [:], variables: [:], enqueuedAt: now, music: [], announce: [], announceEvery: 0, noAgentsBranch: false)
        call.callbackNumber = destination
        a.call = call
        call.offers[a.code] = .some(nil)
        calls[id] = call
        handle(a, .ringing(call: id))
        dial(a, call, autoAnswer: true)
    }

    // MARK: where a call is (for the board and the invariant tests)

    /// Where the ACD holds a caller's channel: waiting, offered, with an agent, or bridged to
    /// an outside party after a transfer; nil when the ACD does not hold it.
    func whereIs(_ channel: String) -> String? {
        if engine.call(channel) != nil { return "waiting" }
        if let c = calls[channel], !c.ended {
            if !c.offers.isEmpty { return "offered" }
            if c.agent != nil { return "connected" }
        }
        if let c = connected[channel], c.agent != nil || c.consult != nil { return "connected" }
        if externalPairs[channel] != nil || pendingBlind.values.contains(where: { $0.callerChannel == channel }) { return "external" }
        return nil
    }

    /// The call object for an id (waiting, offered or connected).
    func liveCall(_ id: String) -> QueuedCall? { calls[id] ?? connected[id] }

    // MARK: supervision

    struct MonitorLeg {
        var supervisor: String
        var agent: String
        var target: String
        var mode: MonitorChannel.Mode
        var established: Bool
        let conn: ChannelLink
    }
    /// Supervisors' phone legs (listen, whisper, barge) by channel.
    private(set) var monitorLegs: [String: MonitorLeg] = [:]

    /// A supervisor listens to, whispers to or barges into an agent's call: the supervisor's
    /// phone is rung with auto-answer and tapped into the bridge; asked again with another mode
    /// while connected, the same leg changes mode. The leg is hung up when the call ends.
    func monitor(supervisor: String, sipExtension: String, agent code: String, mode: MonitorChannel.Mode) throws -> String {
        guard let a = agents[code], let call = a.call, call.agent == code, let target = call.agentChannel else {
            throw CommandError(message: "agent \(code) is not on a call")
        }
        if let (ch, leg) = monitorLegs.first(where: { $0.value.supervisor == supervisor }) {
            guard leg.target == target else { throw CommandError(message: "you are monitoring \(leg.agent): stop-monitor first") }
            monitorLegs[ch]?.mode = mode
            if leg.established { command(leg.conn, MonitorChannel(channelID: ch, targetChannelID: target, mode: mode)) }
            return "\(Self.modeName(mode)) on \(code)"
        }
        guard !sipExtension.isEmpty else { throw CommandError(message: "give extension=… (your phone) or set one for your work code") }
        call.conn.command(Originate(destination: sipExtension, callerID: "monitor-\(code)", timeoutMs: 20_000, autoAnswer: true)) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                self.monitorLegs[res.channelID] = MonitorLeg(supervisor: supervisor, agent: code, target: target, mode: mode, established: false, conn: call.conn)
            case .failure(let e):
                self.logger.warning("acd: cannot ring supervisor \(supervisor) at \(sipExtension): \(e.reason)")
            }
        }
        logger.info("acd: supervisor \(supervisor) \(Self.modeName(mode)) on \(code) (phone \(sipExtension))")
        return "ringing your phone \(sipExtension); then \(Self.modeName(mode)) on \(code)"
    }

    func stopMonitor(supervisor: String) throws {
        guard let (ch, leg) = monitorLegs.first(where: { $0.value.supervisor == supervisor }) else { throw CommandError(message: "you are not monitoring anyone") }
        monitorLegs.removeValue(forKey: ch)
        command(leg.conn, HangupChannel(channelID: ch, cause: "monitoring stopped"))
    }

    static func modeName(_ m: MonitorChannel.Mode) -> String {
        switch m { case .listen: return "listening"; case .whisper: return "whispering"; case .barge: return "barged in" }
    }

    /// A supervisor's leg answered or ended, or the call it taps ended.
    private func monitorEvent(_ e: ChannelEvent) -> Bool {
        if var leg = monitorLegs[e.channelID] {
            switch e.kind {
            case .established:
                leg.established = true
                monitorLegs[e.channelID] = leg
                command(leg.conn, MonitorChannel(channelID: e.channelID, targetChannelID: leg.target, mode: leg.mode))
            case .cleared, .failed:
                monitorLegs.removeValue(forKey: e.channelID)
            default: break
            }
            return true
        }
        if e.kind == .cleared || e.kind == .failed {
            for (ch, leg) in monitorLegs where leg.target == e.channelID {
                monitorLegs.removeValue(forKey: ch)
                command(leg.conn, HangupChannel(channelID: ch, cause: "the monitored call ended"))
            }
        }
        return false
    }

    // MARK: sessions

    /// `conn` nil: a session with no App-Operate connection yet (tests drive it directly).
    func login(_ op: Operator, sipExtension: String, mode: Mode, conn: Connection?, attach: Bool) throws -> Agent {
        if let a = agents[op.workCode] {
            guard attach || a.connections.isEmpty || a.machine.disconnected else {
                throw CommandError(message: "\(op.workCode) is already logged in elsewhere (attach to join that session)")
            }
            if let conn { a.connections[ObjectIdentifier(conn)] = conn }
            a.op = op
            if a.machine.disconnected { handle(a, .connectionRestored) }
            if let t = a.graceTimer { loop.cancel(t); a.graceTimer = nil }
            return a
        }
        guard !sipExtension.isEmpty else { throw CommandError(message: "\(op.workCode) has no SIP extension: give one at login") }
        let a = Agent(op: op, sipExtension: sipExtension, mode: mode, wrapUpSeconds: settings.wrapUpSeconds, now: now)
        if let conn { a.connections[ObjectIdentifier(conn)] = conn }
        agents[op.workCode] = a
        handle(a, .login)
        submit(.agentState(AgentStateRecord(agent: a.code, state: "logged-in", reason: "\(mode.rawValue) \(sipExtension)", startedAt: now, endedAt: now)))
        return a
    }

    func logout(_ a: Agent) throws {
        if let why = handle(a, .logout) { throw CommandError(message: why) }
        for t in [a.timer, a.graceTimer].compactMap({ $0 }) { loop.cancel(t) }
        agents.removeValue(forKey: a.code)
        engine.agentUnavailable(a.code)
    }

    /// An App-Operate connection closed: its agent, if no other connection is left, starts the grace period.
    func connectionClosed(_ conn: Connection) {
        for a in agents.values where a.connections.removeValue(forKey: ObjectIdentifier(conn)) != nil {
            guard a.connections.isEmpty else { continue }
            logger.notice("agent \(a.code): App-Operate connection lost; logged out in \(Int(settings.disconnectGraceSeconds)) s unless it comes back")
            handle(a, .connectionLost)
        }
    }

    func push(_ a: Agent, _ kind: String, _ fields: [String: String]) {
        let m = AgentEventMessage(kind: kind, state: a.machine.state.name, fields: fields)
        for c in a.connections.values { _ = c.sendEvent(m) }
    }

    // MARK: views

    func statusFields(_ a: Agent) -> [String: String] {
        var f: [String: String] = ["code": a.code, "name": a.op.name, "state": a.machine.state.name, "extension": a.sipExtension, "mode": a.mode.rawValue,
                                   "since_seconds": String(Int(now - a.machine.since)), "logged_in_seconds": String(Int(now - a.loginAt)),
                                   "calls": String(a.machine.callsHandled),
                                   "talk_seconds": String(Int(a.talkSeconds + (a.talkStarted.map { now - $0 } ?? 0))),
                                   "queues": a.op.queues.sorted().joined(separator: ",")]
        if case .notReady(let r, let locked) = a.machine.state { f["reason"] = r; f["locked"] = locked ? "yes" : "no" }
        if let c = a.call {
            f["call"] = c.id
            f["caller"] = c.caller
            f["queue"] = c.queue
            if c.held { f["held"] = "yes" }
            if let k = c.consult { f["consult"] = k.target + (k.connected ? " (connected)" : " (ringing)") }
        }
        return f
    }

    func queueRows(_ queues: Set<String>) -> [[String: String]] {
        var rows: [[String: String]] = []
        let iso = ISO8601DateFormatter()
        for q in queues.sorted() {
            for (i, c) in engine.waitingCalls(in: q).enumerated() {
                guard let call = calls[c.id] else { continue }
                rows.append(["queue": q, "position": String(i + 1), "caller": call.caller, "priority": String(call.priority),
                             "arrived": iso.string(from: Date(timeIntervalSince1970: call.enqueuedAt)),
                             "waited_seconds": String(Int(now - call.enqueuedAt))])
            }
        }
        return rows
    }

    func board() -> (fields: [String: String], rows: [[String: String]]) {
        var f: [String: String] = ["waiting": String(engine.waitingCount), "agents": String(agents.count),
                                   "offered": String(counters.offered), "answered": String(counters.answered),
                                   "abandoned": String(counters.abandoned), "rona": String(counters.rona), "connected": String(connected.count)]
        var perQueue: [String: Int] = [:]
        for c in calls.values where c.waiting { perQueue[c.queue, default: 0] += 1 }
        for (q, n) in perQueue { f["queue.\(q)"] = String(n) }
        let rows = agents.values.sorted { $0.code < $1.code }.map { a -> [String: String] in
            var r = ["agent": a.code, "name": a.op.name, "state": a.machine.state.name, "since_seconds": String(Int(now - a.machine.since)),
                     "calls": String(a.machine.callsHandled), "extension": a.sipExtension]
            if let c = a.call { r["caller"] = c.caller; r["queue"] = c.queue }
            return r
        }
        return (f, rows)
    }

    // MARK: helpers

    private func command<M: WireMessage>(_ conn: ChannelLink, _ m: M) {
        conn.command(m) { [weak self] r in
            if case .failure(let e) = r { self?.logger.debug("acd: \(M.self) failed: \(e.reason)") }
        }
    }

    private func queueEvent(_ call: QueuedCall, _ kind: String, _ detail: [String: String]) {
        queueEventSeq += 1
        submit(.queueEvent(QueueEventRecord(queue: call.queue, callID: call.callerChannel.flatMap { recorder.callID($0) }, kind: kind, at: now,
                                            detail: detail.merging(["call": call.id]) { a, _ in a }, sequence: queueEventSeq)))
    }

    /// A blind transfer to a number was answered: bridge the caller to it.
    func blindTransferEvent(_ e: ChannelEvent) -> Bool {
        guard let call = pendingBlind[e.channelID] else { return false }
        guard let cc = call.callerChannel else { return true }
        switch e.kind {
        case .established:
            pendingBlind.removeValue(forKey: e.channelID)
            call.consult = nil
            legs[e.channelID] = (call, .external)
            command(call.conn, StopMedia(channelID: cc, what: .all))
            command(call.conn, BridgeChannels(channelID: cc, otherChannelID: e.channelID))
            externalPairs[cc] = (e.channelID, call.conn)
            externalPairs[e.channelID] = (cc, call.conn)
            connected.removeValue(forKey: cc)
            finish(call)
        case .failed, .cleared:
            pendingBlind.removeValue(forKey: e.channelID)
            legs.removeValue(forKey: e.channelID)
            command(call.conn, HangupChannel(channelID: cc, cause: "transfer failed: \(e.cause)"))
        default: break
        }
        return true
    }
}
