import Foundation
import Protocol

/// The agents' runner: each agent's `AgentStateMachine` fed its events, its actions carried
/// out (timers, records, calls back to the queue), and the sessions App-Operate holds.
extension CallDistributor {
    /// Feeds an event to an agent's state machine and carries out its actions; returns why the
    /// machine refused it, if it did.
    @discardableResult
    func handle(_ a: Agent, _ e: AgentStateMachine.Event) -> String? {
        let before = a.machine.state
        let actions = a.machine.handle(e, now: now)
        var refused: String?
        var requeued: [(String, AgentStateMachine.RequeueReason)] = []
        var sessionEnded = false
        for action in actions {
            switch action {
            case .refuse(let why): refused = why
            case .deferred: break   // the supervisor's command reads the machine's pending flags
            case .sessionEnded: sessionEnded = true
            case .record(let state, let reason, let from, let to):
                submit(.agentState(AgentStateRecord(agent: a.code, state: state, reason: reason, startedAt: from, endedAt: to)))
                if state == AgentStateMachine.State.wrapUp(until: 0).name { recorder.wrapUpEnded(agent: a.code, started: from, seconds: max(0, to - from)) }
            case .startRingTimer(let callID):
                if let t = a.timer { clock.cancel(t) }
                a.timer = clock.schedule(after: Double(settings.ringTimeoutMs) / 1000) { [weak self, weak a] in
                    guard let self, let a, a.machine.state.call == callID else { return }
                    if case .talking = a.machine.state { return }
                    if case .held = a.machine.state { return }
                    self.logger.notice("acd: \(a.code) did not answer \(callID) (RONA)")
                    if let entry = self.calls[callID], entry.call.offers[a.code] != nil {
                        self.feed(entry, .withdraw(agent: a.code, reason: .ringNoAnswer))
                    } else {
                        // A consultation (or a call already gone): the agent is freed all the same.
                        self.counters.rona += 1
                        self.handle(a, .ringTimeout(call: callID))
                    }
                }
            case .startWrapUpTimer(let seconds):
                if let t = a.timer { clock.cancel(t) }
                a.timer = clock.schedule(after: seconds) { [weak self, weak a] in
                    guard let self, let a, case .wrapUp = a.machine.state else { return }
                    self.handle(a, .wrapUpEnded)
                }
            case .startGraceTimer:
                if let t = a.graceTimer { clock.cancel(t) }
                a.graceTimer = clock.schedule(after: settings.disconnectGraceSeconds) { [weak self, weak a] in
                    guard let self, let a else { return }
                    self.handle(a, .graceExpired)
                    if a.machine.state == .loggedOut, self.agents[a.code] === a { self.agents.removeValue(forKey: a.code) }
                }
            case .requeue(let callID, let reason):
                requeued.append((callID, reason))
            }
        }
        let after = a.machine.state
        if before != after {
            if case .ready = after {
                engine.agentReady(ACDEngine.Agent(id: a.code, skills: a.op.skills, queues: a.queues, readySince: now, callsHandled: a.machine.callsHandled))
            } else {
                engine.agentUnavailable(a.code)
            }
            if case .talking = after, a.talkStarted == nil { a.talkStarted = now }
            if let t = a.talkStarted, after.call == nil {
                a.talkSeconds += now - t
                a.talkStarted = nil
            }
            push(a, "state", ["from": before.name, "reason": { if case .notReady(let r, _) = after { return r }; return "" }()])
            boardChanged?(.agent(a.code))
            logger.info("agent \(a.code): \(before.name) → \(after.name)")
        }
        if sessionEnded {
            // A forced logout took effect: the session ends as an agent's own logout does.
            for t in [a.timer, a.graceTimer].compactMap({ $0 }) { clock.cancel(t) }
            a.timer = nil
            a.graceTimer = nil
            if agents[a.code] === a { agents.removeValue(forKey: a.code) }
            engine.agentUnavailable(a.code)
            submit(.agentState(AgentStateRecord(agent: a.code, state: "logged-out", reason: "forced by a supervisor", startedAt: now, endedAt: now)))
            logger.info("agent \(a.code): logged out by a supervisor")
            boardChanged?(.agentGone(a.code))
        }
        // The calls the machine gave back (after its own state changed, so it is not offered them again).
        for (callID, reason) in requeued {
            if let entry = calls[callID] { feed(entry, .requeued(agent: a.code, reason: reason)) }
        }
        // Only an agent becoming ready (or a call back in the queue, above) can make a new pair.
        if case .ready = after, before != after { route() }
        return refused
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
            if let t = a.graceTimer { clock.cancel(t); a.graceTimer = nil }
            // Logging in again (after a lost connection, or a second window) with another mode
            // or phone: taken at once when no call is in hand, else said — never kept silently.
            let newExtension = sipExtension.isEmpty ? a.sipExtension : sipExtension
            if !attach, mode != a.mode || newExtension != a.sipExtension {
                if callOf(a) == nil {
                    logger.info("agent \(a.code): logged in again, now \(mode.rawValue) \(newExtension) (was \(a.mode.rawValue) \(a.sipExtension))")
                    a.mode = mode
                    a.sipExtension = newExtension
                    submit(.agentState(AgentStateRecord(agent: a.code, state: "logged-in", reason: "\(mode.rawValue) \(newExtension)", startedAt: now, endedAt: now)))
                } else {
                    push(a, "notice", ["text": "a call is in hand: you stay in \(a.mode.rawValue) mode on \(a.sipExtension) until it ends; log in again then to change"])
                }
            }
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
        for t in [a.timer, a.graceTimer].compactMap({ $0 }) { clock.cancel(t) }
        agents.removeValue(forKey: a.code)
        engine.agentUnavailable(a.code)
        boardChanged?(.agentGone(a.code))
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

    /// The call the agent's state names (offered, ringing, talking, held).
    func callOf(_ a: Agent) -> CallEntry? { a.machine.state.call.flatMap { calls[$0] } }
}
