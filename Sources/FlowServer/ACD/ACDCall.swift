import Protocol

/// One call in the ACD, as a value type: events in, actions out, every transition explicit —
/// the call's counterpart of `AgentStateMachine`. `CallDistributor` is its runner: it feeds the
/// machine channel events, agent operations and timer expiries, and carries out the actions
/// (channel commands to the CT-Server, agent-machine events, records, pushes to App-Operate).
///
/// waiting ⇄ offered → connected ⇄ held → consulting → conferenced
///                                   ↘ transferring out → external ↘ ended
/// A call that is not `ended` always names where its caller is; the channels it owns (the
/// caller, the agents' phones being rung, the agent's leg, a consulted party, a transfer
/// target) are a function of its phase (`channels`), so the runner's channel index cannot
/// drift from it.
struct ACDCall: Equatable {
    let id: String
    let kind: Kind
    let caller: String
    let called: String
    var callerChannel: String?
    var queue: String
    var priority: Int
    var skills: [String: Int]
    var variables: [String: String]
    var enqueuedAt: Double
    var music: [String]
    /// The flow's queue node has a `no_agents` branch (a queue with nobody logged in sends the call there).
    var noAgentsBranch: Bool
    /// The call came from a flow (it can go back to it).
    var fromFlow: Bool
    /// Agents who rejected it (never offered to them again).
    var excluded: Set<String> = []
    /// The queue's post-call survey: when the agent hangs up first, the caller goes to this flow.
    var surveyFlow: String?
    /// Set only by the machine's transitions (here and in ACDCall+Supervision.swift).
    var phase: Phase = .waiting

    init(id: String, kind: Kind, callerChannel: String?, caller: String, called: String, queue: String, priority: Int = 0,
         skills: [String: Int] = [:], variables: [String: String] = [:], enqueuedAt: Double, music: [String] = [],
         noAgentsBranch: Bool = false, fromFlow: Bool = false) {
        self.id = id
        self.kind = kind
        self.callerChannel = callerChannel
        self.caller = caller
        self.called = called
        self.queue = queue
        self.priority = priority
        self.skills = skills
        self.variables = variables
        self.enqueuedAt = enqueuedAt
        self.music = music
        self.noAgentsBranch = noAgentsBranch
        self.fromFlow = fromFlow
    }

    var isEnded: Bool { if case .ended = phase { return true }; return false }
    var isWaiting: Bool { phase == .waiting }
    var offers: [String: Offer] { if case .offered(let o) = phase { return o }; return [:] }
    var talk: Talk? { if case .connected(let t) = phase { return t }; return nil }
    /// The agent connected to the call.
    var agent: String? { talk?.agent }

    /// Every channel the call owns now, with its role.
    var channels: [String: Role] {
        var r: [String: Role] = [:]
        if let c = callerChannel, !isEnded { r[c] = .caller }
        switch phase {
        case .offered(let offers):
            for (code, o) in offers { if let l = o.leg { r[l] = .offer(code) } }
        case .connected(let t):
            if let l = t.leg { r[l] = .agent(t.agent) }
            if let l = t.consult?.leg { r[l] = .consult }
            if let l = t.dialling { r[l] = .outside }
            if let i = t.intercept, let l = i.leg { r[l] = .supervisor(i.supervisor) }
        case .intercepted(let s, let leg):
            r[leg] = .supervisor(s)
        case .transferringOut(_, let leg):
            if let leg { r[leg] = .outside }
        case .external(let leg):
            r[leg] = .outside
        case .waiting, .ended:
            break
        }
        return r
    }

    /// Agents whose state machine holds this call (offered, talking, consulted).
    var agentsInvolved: [String] {
        switch phase {
        case .offered(let o): return o.keys.sorted()
        case .connected(let t): return [t.agent] + (t.consult?.agent.map { [$0] } ?? [])
        default: return []
        }
    }

    // MARK: transitions

    mutating func handle(_ e: Event, now: Double) -> [Action] {
        switch (phase, e) {
        case (.ended, _):
            return lateEvent(e)
        case (_, .linkLost):
            var a: [Action] = [.dequeue, .stopTimers]
            for code in agentsInvolved {
                a += [.notify(code, kind: "ended", fields: ["call": id, "cause": "ct-server link lost"]), .agent(code, .callEnded(call: id))]
            }
            phase = .ended(.failed)
            return a

        // Queueing.
        case (.waiting, .enqueue(let open, let staffed)):
            if !open, callerChannel != nil { return leave(kind: "closed", outcome: .noAgents) }
            if noAgentsBranch, !staffed { return leave(kind: "no-agents", outcome: .noAgents) }
            var a: [Action] = []
            if let c = callerChannel, !music.isEmpty { a.append(.play(c, items: music)) }
            return a + [.enqueue]
        case (.waiting, .maxWaitExpired):
            return leave(kind: "timeout", outcome: .timeout)
        case (.waiting, .handOver(let server)):
            phase = .ended(.handedOver)
            return [.dequeue, .stopTimers, .queueEvent(kind: "handed-over", detail: ["to": server]), .toServer(server)]

        // Offers.
        case (.waiting, .offer(let code, let dial, let auto)), (.offered, .offer(let code, let dial, let auto)):
            var offers = self.offers
            guard offers[code] == nil else { return [] }
            offers[code] = Offer(dialling: dial)
            phase = .offered(offers)
            if case .agentCall = kind {
                // The agent's own call: its phone is rung (auto-answer) when it says so.
                return [.agent(code, .reserve(call: id)), .agent(code, .ringing(call: id))]
            }
            var pop: [String: String] = ["call": id, "caller": caller, "called": called, "queue": queue,
                                         "waited_seconds": String(Int(now - enqueuedAt)), "priority": String(priority)]
            if case .callback(let n) = kind { pop["callback"] = n }
            for (k, v) in variables where k != "caller" && k != "called" { pop[k.hasPrefix("customer.") ? k : "var.\(k)"] = v }
            var a: [Action] = [.count(.offered), .agent(code, .reserve(call: id)), .notify(code, kind: "offered", fields: pop)]
            if callerChannel != nil { a.append(.record(.offered(agent: code))) }
            a.append(.queueEvent(kind: "offered", detail: ["agent": code]))
            a.append(dial ? .dialAgent(agent: code, autoAnswer: auto) : .agent(code, .ringing(call: id)))
            return a
        case (.offered(var offers), .answerInConsole(let code)):
            guard let o = offers[code], o.leg == nil, !o.dialling else { return [] }
            offers[code]?.dialling = true
            phase = .offered(offers)
            return [.dialAgent(agent: code, autoAnswer: true)]
        case (.offered(var offers), .agentDialled(let code, let leg)):
            guard offers[code] != nil, offers[code]?.leg == nil else { return [.hangup(leg, cause: "offer withdrawn")] }
            offers[code]?.leg = leg
            phase = .offered(offers)
            return [.agent(code, .ringing(call: id))]
        case (.offered, .agentDialFailed(let code, let reason)):
            guard offers[code] != nil else { return [] }
            return [.notify(code, kind: "notice", fields: ["text": "your phone cannot be reached: \(reason)"])]
                + takeBack(code, reason: .phoneUnreachable, hangup: nil)
        case (.offered, .withdraw(let code, let reason)):
            return takeBack(code, reason: reason, hangup: reason.text)
        case (.offered, .requeued(let code, let reason)):
            // The agent's machine gave the call back (it disconnected while reserved, or a late
            // reject / ring timeout): nothing to do unless the offer is still there.
            return takeBack(code, reason: reason, hangup: reason.text, agentEvent: false)
        case (.offered(let offers), .answered(let leg)):
            guard let code = offers.first(where: { $0.value.leg == leg })?.key else { return [.hangup(leg, cause: "taken by another agent")] }
            return agentAnswered(code, leg: leg, others: offers, now: now)
        case (.offered(let offers), .cleared(let leg, let cause, _, _)) where leg != callerChannel:
            // An agent's phone did not answer: declined (busy, decline) or unreachable / no answer.
            guard let code = offers.first(where: { $0.value.leg == leg })?.key else { return [] }
            return takeBack(code, reason: cause.isDecline ? .rejected : .ringNoAnswer, hangup: nil)

        // The caller leaves (any phase but ended).
        case (_, .cleared(let leg, let cause, let text, _)) where leg == callerChannel:
            return callerGone(cause: cause, text: text, now: now)

        // Connected.
        case (.connected(let t), .hold) where !t.held && t.consult == nil && t.dialling == nil && t.conference == nil:
            return hold(t)
        case (.connected(let t), .held(let leg)) where leg == t.leg && !t.held && t.consult == nil && t.conference == nil:
            return hold(t)
        case (.connected(let t), .retrieve) where t.held && t.consult == nil:
            return retrieve(t)
        case (.connected(let t), .retrieved(let leg)) where leg == t.leg && t.held && t.consult == nil:
            return retrieve(t)
        case (.connected(let t), .hangup):
            if let l = t.leg { return [.hangup(l, cause: "agent hung up")] }
            if let c = callerChannel { return [.hangup(c, cause: "agent hung up")] }
            return []
        case (.connected(let t), .cleared(let leg, let cause, let text, let failed)):
            if leg == t.leg { return agentLegEnded(t, text: text) }
            if leg == t.consult?.leg { return consultEnded(t, failed: failed, text: text) }
            if leg == t.dialling { return outsideFailed(t, text: text.isEmpty ? cause.text : text) }
            return []
        case (.connected(let t), .answered(let leg)) where leg == t.intercept?.leg:
            return supervise(e)
        case (.connected(let t), .cleared(let leg, _, _, _)) where leg == t.intercept?.leg:
            return supervise(e)
        case (.connected(var t), .answered(let leg)):
            if leg == t.consult?.leg, var c = t.consult {
                c.connected = true
                t.consult = c
                phase = .connected(t)
                var a: [Action] = []
                if let other = c.agent { a.append(.agent(other, .answered(call: id))) }
                if let l = t.leg { a.append(.bridge(l, leg)) }
                return a + [.notify(t.agent, kind: "consult", fields: ["state": "connected", "target": c.target])]
            }
            if leg == t.dialling { return outsideAnswered(t, leg: leg) }
            return []
        case (.connected(let t), .phoneTransferred(let leg, let to, let target)) where leg == t.leg && t.consult == nil && t.conference == nil && callerChannel != nil:
            // The CT-Server has bridged the caller to the target and releases the agent's leg.
            phase = .external(leg: to)
            let cause = "transferred by the phone to \(target)"
            var a: [Action] = [.record(.transferred(to: target, by: t.agent)), .record(.agentLegEnded(leg: leg, cause: cause)),
                               .queueEvent(kind: "transferred", detail: ["agent": t.agent, "to": target, "by": "phone"])]
            if t.held, let cc = callerChannel { a += [.stopMedia(cc), .record(.hold(false)), .agent(t.agent, .retrieve)] }
            return a + [.handled(agent: t.agent), .notify(t.agent, kind: "ended", fields: ["call": id, "cause": cause]),
                        .agent(t.agent, .callEnded(call: id))]
        case (.connected(var t), .outsideDialled(let leg)) where t.dialPending:
            t.dialPending = false
            t.dialling = leg
            phase = .connected(t)
            return []
        case (.connected(let t), .outsideDialFailed(let reason)) where t.dialPending:
            return outsideFailed(t, text: reason)
        case (.connected(let t), .transfer(let target)) where callerChannel != nil && t.dialling == nil && !t.dialPending && t.consult == nil && t.intercept == nil:
            return transfer(t, to: target, now: now)
        case (.connected(var t), .consult(let target, let other, let destination, let auto)) where t.consult == nil && t.conference == nil && t.intercept == nil && callerChannel != nil:
            var a: [Action] = []
            if !t.held { a += hold(t); t = talk! }
            t.consult = Consult(target: target, agent: other)
            phase = .connected(t)
            if let other {
                a += [.agent(other, .reserve(call: id)),
                      .notify(other, kind: "offered", fields: ["call": id, "caller": caller, "consult_from": t.agent, "queue": queue])]
            }
            return a + [.dialConsult(destination: destination, route: other == nil ? .number : .phone, autoAnswer: auto, callerID: t.agent)]
        case (.connected(var t), .consultDialled(let leg)):
            guard var c = t.consult, c.leg == nil else { return [.hangup(leg, cause: "cancelled")] }
            c.leg = leg
            t.consult = c
            phase = .connected(t)
            return c.agent.map { [.agent($0, .ringing(call: id))] } ?? []
        case (.connected(var t), .consultDialFailed(let reason)):
            guard let c = t.consult, c.leg == nil else { return [] }
            t.consult = nil
            phase = .connected(t)
            var a: [Action] = c.agent.map { [.agent($0, .rejected(call: id))] } ?? []
            a.append(.notify(t.agent, kind: "consult", fields: ["state": "failed", "target": c.target, "cause": reason]))
            return a + retrieve(t)
        case (.connected(var t), .requeued(let code, let reason)) where t.consult?.agent == code && t.consult?.connected == false:
            // The consulted agent's phone did not answer, or its App-Operate link dropped: the
            // consultation ends and the agent is back with the caller.
            let c = t.consult!
            t.consult = nil
            phase = .connected(t)
            var a: [Action] = c.leg.map { [.hangup($0, cause: reason.text)] } ?? []
            a.append(.notify(t.agent, kind: "consult", fields: ["state": "failed", "target": c.target, "cause": reason.text]))
            return a + retrieve(t)
        case (.connected(let t), .complete):
            guard let c = t.consult, c.connected, let leg = c.leg else { return [] }
            return completeTransfer(t, consult: c, leg: leg, now: now)
        case (.connected(var t), .cancelConsult):
            guard let c = t.consult else { return [] }
            if let leg = c.leg { return [.hangup(leg, cause: "consultation cancelled")] }
            t.consult = nil
            phase = .connected(t)
            return (c.agent.map { [.agent($0, .rejected(call: id))] } ?? []) + retrieve(t)
        case (.connected(var t), .conference):
            guard let c = t.consult, c.connected, let cleg = c.leg, let cc = callerChannel, let aleg = t.leg, t.conference == nil else { return [] }
            let room = "three-way-\(id)"
            t.conference = room
            let wasHeld = t.held
            t.held = false
            phase = .connected(t)
            var a: [Action] = [.stopMedia(cc)] + [cc, aleg, cleg].map { .conferenceJoin($0, room: room) }
            if wasHeld { a.append(.agent(t.agent, .retrieve)) }
            return a + [.record(.event(kind: "conferenced", detail: ["agent": t.agent, "with": c.target])),
                        .notify(t.agent, kind: "conferenced", fields: ["call": id, "with": c.target])]
        case (.connected(let t), .returnToFlow(let node, let vars)) where t.consult == nil:
            guard let cc = callerChannel, fromFlow else { return [] }
            var a: [Action] = [.unbridge(cc), .record(.event(kind: "returned-to-flow", detail: ["agent": t.agent, "node": node ?? ""]))]
            a += release(t, cause: "returned to the flow")
            phase = .ended(.toFlow)
            return a + [.toFlow(.returned(node: node, variables: vars))]

        // Supervisors (ACDCall+Supervision.swift).
        case (.connected, .intercept), (.connected, .interceptDialled), (.connected, .interceptDialFailed), (.connected, .forceRelease):
            return supervise(e)
        case (.intercepted(_, let l), .cleared(let leg, _, _, _)) where leg == l:
            return supervise(e)
        case (.connected, .openConference), (.connected, .handConference):
            return hostedConference(e)

        // Transfer out to a number, and the outside party after it.
        case (.transferringOut(let target, nil), .outsideDialled(let leg)):
            phase = .transferringOut(target: target, leg: leg)
            return []
        case (.transferringOut(let target, _), .outsideDialFailed(let reason)):
            phase = .ended(.failed)
            return (callerChannel.map { [.hangup($0, cause: "transfer to \(target) failed: \(reason)")] } ?? [])
        case (.transferringOut(_, let l?), .answered(let leg)) where leg == l:
            phase = .external(leg: leg)
            guard let cc = callerChannel else { return [] }
            return [.stopMedia(cc), .bridge(cc, leg)]
        case (.transferringOut(let target, let l?), .cleared(let leg, let cause, let text, _)) where leg == l:
            phase = .ended(.failed)
            return (callerChannel.map { [.hangup($0, cause: "transfer to \(target) failed: \(text.isEmpty ? cause.text : text)")] } ?? [])
        case (.external(let l), .cleared(let leg, _, _, _)) where leg == l:
            phase = .ended(.transferredOut)
            return callerChannel.map { [.hangup($0, cause: "other party hung up")] } ?? []

        default:
            return lateEvent(e)
        }
    }

    /// An event the phase does not expect (late, reordered, or a command in the wrong state):
    /// a channel dialled for it is hung up; nothing else changes.
    private func lateEvent(_ e: Event) -> [Action] {
        switch e {
        case .agentDialled(_, let leg), .consultDialled(let leg), .outsideDialled(let leg), .interceptDialled(let leg):
            return [.hangup(leg, cause: "no longer needed")]
        default:
            return []
        }
    }

    /// An offer ends unanswered: the agent's phone stops ringing, a rejecting agent is never
    /// offered the call again, and with no offer left the call waits in its queue again —
    /// before the agent's state machine hears of it, so that the engine sees the exclusion.
    private mutating func takeBack(_ code: String, reason: RequeueReason, hangup cause: String?, agentEvent: Bool = true) -> [Action] {
        var offers = self.offers
        guard let o = offers.removeValue(forKey: code) else { return [] }
        var a: [Action] = []
        if let leg = o.leg, let cause { a.append(.hangup(leg, cause: cause)) }
        if reason == .rejected { excluded.insert(code); a.append(.count(.rejected)) }
        if reason == .ringNoAnswer { a.append(.count(.rona)) }
        if case .agentCall = kind {
            // The agent's own call: its phone did not answer; the call ends.
            phase = .ended(.failed)
            return a + (agentEvent ? [.agent(code, Self.agentEvent(reason, call: id))] : [])
        }
        a.append(.queueEvent(kind: "requeued", detail: ["agent": code, "reason": reason.text]))
        if offers.isEmpty {
            phase = .waiting
            a.append(.enqueue)
        } else {
            phase = .offered(offers)
        }
        if agentEvent { a.append(.agent(code, Self.agentEvent(reason, call: id))) }
        return a
    }

    /// What the agent's machine hears when its offer is taken back.
    static func agentEvent(_ reason: RequeueReason, call: String) -> AgentStateMachine.Event {
        switch reason {
        case .rejected: return .rejected(call: call)
        case .phoneUnreachable: return .phoneUnreachable(call: call)
        case .ringNoAnswer, .agentDisconnected: return .ringTimeout(call: call)
        }
    }

    private mutating func leave(kind: String, outcome: FlowRun.QueueOutcome) -> [Action] {
        phase = .ended(.toFlow)
        var a: [Action] = [.dequeue, .stopTimers, .queueEvent(kind: kind, detail: [:])]
        if let c = callerChannel { a.append(.stopMedia(c)) }
        return a + [.toFlow(outcome)]
    }

    private mutating func agentAnswered(_ code: String, leg: String, others: [String: Offer], now: Double) -> [Action] {
        var a: [Action] = []
        // First to answer takes it (ring-all); the other phones stop ringing.
        for (other, o) in others.sorted(by: { $0.key < $1.key }) where other != code {
            if let l = o.leg { a.append(.hangup(l, cause: "answered elsewhere")) }
            a.append(.agent(other, .callEnded(call: id)))
        }
        var t = Talk(agent: code, leg: leg)
        phase = .connected(t)
        a += [.stopTimers, .agent(code, .answered(call: id))]
        if case .agentCall = kind {} else {
            a += [.count(.answered), .queueEvent(kind: "answered", detail: ["agent": code, "waited_seconds": String(format: "%.1f", now - enqueuedAt)])]
        }
        if let cc = callerChannel {
            a += [.stopMedia(cc), .bridge(cc, leg), .record(.agentAnswered(agent: code, leg: leg)),
                  // The safe point is now the bridge: whoever adopts the call records who answered it.
                  .safePoint(["agent": code, "queue": queue, "queued_ms": String(Int(enqueuedAt * 1000)),
                              "agent_answered_ms": String(Int(now * 1000))])]
        } else {
            // Callback or agent call: the agent is on the line; now dial the other party.
            t.dialPending = true
            a.append(.play(leg, items: ["tone:ringback"]))
            switch kind {
            case .callback(let number): a.append(.dialOutside(destination: number, route: .number, callerID: called))
            case .agentCall(let destination, let route): a.append(.dialOutside(destination: destination, route: route, callerID: called))
            case .inbound: break
            }
        }
        phase = .connected(t)
        var f: [String: String] = ["call": id, "caller": caller, "queue": queue]
        for (k, v) in variables where k.hasPrefix("customer.") { f[k] = v }
        return a + [.notify(code, kind: "connected", fields: f)]
    }

    /// The caller (or a callback's customer) hung up or could not be reached.
    private mutating func callerGone(cause: ChannelEvent.Cause, text: String, now: Double) -> [Action] {
        var a: [Action] = []
        switch phase {
        case .waiting:
            a += [.dequeue, .stopTimers, .count(.abandoned), .queueEvent(kind: "abandoned", detail: ["waited_seconds": String(Int(now - enqueuedAt))])]
        case .offered(let offers):
            a += [.dequeue, .stopTimers, .count(.abandoned), .queueEvent(kind: "abandoned", detail: ["waited_seconds": String(Int(now - enqueuedAt))])]
            for (code, o) in offers.sorted(by: { $0.key < $1.key }) {
                if let l = o.leg { a.append(.hangup(l, cause: "caller left")) }
                a += [.queueEvent(kind: "abandoned", detail: ["agent": code, "waited_seconds": String(Int(now - enqueuedAt))]),
                      .notify(code, kind: "ended", fields: ["call": id, "cause": "caller left before answer"]),
                      .agent(code, .callEnded(call: id))]
            }
        case .connected(let t):
            if let l = t.leg {
                a.append(.hangup(l, cause: "caller hung up"))
                if callerChannel != nil { a.append(.record(.agentLegEnded(leg: l, cause: "caller hung up"))) }
            }
            if let l = t.consult?.leg { a.append(.hangup(l, cause: "caller hung up")) }
            if let l = t.dialling, l != callerChannel { a.append(.hangup(l, cause: "caller hung up")) }
            if let l = t.intercept?.leg { a.append(.hangup(l, cause: "caller hung up")) }
            a += [.handled(agent: t.agent), .notify(t.agent, kind: "ended", fields: ["call": id, "cause": text.isEmpty ? "caller hung up" : text]),
                  .agent(t.agent, .callEnded(call: id))]
            if let other = t.consult?.agent { a.append(.agent(other, .callEnded(call: id))) }
        case .transferringOut(_, let leg):
            if let leg { a.append(.hangup(leg, cause: "caller hung up")) }
        case .external(let leg):
            a.append(.hangup(leg, cause: "other party hung up"))
        case .intercepted(_, let leg):
            a.append(.hangup(leg, cause: "caller hung up"))
        case .ended:
            return []
        }
        phase = .ended(.callerLeft)
        return a
    }

    private mutating func hold(_ t: Talk) -> [Action] {
        guard let cc = callerChannel else { return [] }
        var t = t
        t.held = true
        phase = .connected(t)
        return [.unbridge(cc), .play(cc, items: music.isEmpty ? ["tone:ringback"] : music), .record(.hold(true)),
                .agent(t.agent, .hold), .notify(t.agent, kind: "held", fields: ["call": id])]
    }

    private mutating func retrieve(_ t: Talk) -> [Action] {
        guard let cc = callerChannel, let leg = t.leg else { return [] }
        var t = t
        t.held = false
        phase = .connected(t)
        return [.stopMedia(cc), .bridge(cc, leg), .record(.hold(false)), .agent(t.agent, .retrieve),
                .notify(t.agent, kind: "retrieved", fields: ["call": id])]
    }

    /// The agent leaves the call (which goes on elsewhere, or ends); a supervisor's phone still
    /// ringing to take it over is hung up.
    func release(_ t: Talk, cause: String) -> [Action] {
        var a: [Action] = t.intercept?.leg.map { [.hangup($0, cause: "intercept cancelled: \(cause)")] } ?? []
        if let l = t.leg {
            a.append(.hangup(l, cause: cause))
            if callerChannel != nil { a.append(.record(.agentLegEnded(leg: l, cause: cause))) }
        }
        return a + [.handled(agent: t.agent), .notify(t.agent, kind: "ended", fields: ["call": id, "cause": cause]), .agent(t.agent, .callEnded(call: id))]
    }

    private mutating func agentLegEnded(_ t: Talk, text: String) -> [Action] {
        var t = t
        let leg = t.leg
        t.leg = nil
        var a: [Action] = []
        if let leg, callerChannel != nil { a.append(.record(.agentLegEnded(leg: leg, cause: text))) }
        if let c = t.consult, c.connected, let cleg = c.leg {
            // Hanging up during a consultation completes the transfer (attended transfer).
            phase = .connected(t)
            return a + completeTransfer(t, consult: c, leg: cleg, now: nil)
        }
        // With a survey flow the caller stays on the line for it (the post-call survey);
        // otherwise the call ends with the agent's hang-up.
        let survey = surveyFlow.flatMap { fromFlow && callerChannel != nil && kind == .inbound ? $0 : nil }
        if let cc = callerChannel {
            a.append(.record(.endedBy("agent")))
            if let survey { a += [.unbridge(cc), .record(.event(kind: "survey", detail: ["flow": survey, "agent": t.agent]))] }
            else { a.append(.hangup(cc, cause: "agent hung up")) }
        }
        if let l = t.dialling, l != callerChannel { a.append(.hangup(l, cause: "agent hung up")) }
        if let l = t.consult?.leg { a.append(.hangup(l, cause: "agent hung up")) }
        if let l = t.intercept?.leg { a.append(.hangup(l, cause: "agent hung up")) }
        if let other = t.consult?.agent { a.append(.agent(other, .callEnded(call: id))) }
        phase = survey != nil ? .ended(.toFlow) : .ended(.agentHungUp)
        return a + [.handled(agent: t.agent), .notify(t.agent, kind: "ended", fields: ["call": id, "cause": "you hung up"]),
                    .agent(t.agent, .callEnded(call: id))] + (survey.map { [.toNamedFlow($0)] } ?? [])
    }

    private mutating func consultEnded(_ t: Talk, failed: Bool, text: String) -> [Action] {
        guard let c = t.consult else { return [] }
        var t = t
        t.consult = nil
        phase = .connected(t)
        var a: [Action] = []
        if let other = c.agent { a.append(.agent(other, failed && !c.connected ? .ringTimeout(call: id) : .callEnded(call: id))) }
        a.append(.notify(t.agent, kind: "consult", fields: ["state": "ended", "target": c.target, "cause": text]))
        // Back to the caller (still held).
        if t.conference == nil, t.held { a += retrieve(t) }
        return a
    }

    private mutating func outsideAnswered(_ t: Talk, leg: String) -> [Action] {
        var t = t
        t.dialling = nil
        callerChannel = leg
        phase = .connected(t)
        var a: [Action] = [.record(.outbound(channel: leg, caller: called, called: caller))]
        if let aleg = t.leg { a += [.record(.agentAnswered(agent: t.agent, leg: aleg)), .stopMedia(aleg), .bridge(leg, aleg)] }
        return a
    }

    private mutating func outsideFailed(_ t: Talk, text: String) -> [Action] {
        var t = t
        t.dialling = nil
        t.dialPending = false
        phase = .connected(t)
        var a: [Action] = [.notify(t.agent, kind: "notice", fields: ["text": "call to \(caller) failed: \(text)"])]
        if case .callback = kind { a.append(.queueEvent(kind: "callback-failed", detail: ["cause": text])) }
        if let l = t.leg { a.append(.hangup(l, cause: "call to \(caller) failed")) }
        return a
    }

    private mutating func transfer(_ t: Talk, to target: Transfer, now: Double) -> [Action] {
        guard let cc = callerChannel else { return [] }
        let name: String
        switch target {
        case .queue(let q): name = q.hasPrefix("agent/") ? "agent:\(q.dropFirst(6))" : "queue:\(q)"
        case .flow(let f): name = "flow:\(f)"
        case .number(let n): name = n
        }
        var a: [Action] = [.unbridge(cc), .record(.transferred(to: name, by: t.agent)),
                           .queueEvent(kind: "transferred", detail: ["agent": t.agent, "to": name])]
        a += release(t, cause: "transferred to \(name)")
        switch target {
        case .queue(let q):
            queue = q
            enqueuedAt = now
            excluded = []
            if music.isEmpty { music = ["tone:ringback"] }
            phase = .waiting
            a += [.record(.queued(queue: q)), .queueEvent(kind: "entered", detail: ["caller": caller, "transferred": "yes"])]
            // The runner follows with .enqueue(open:staffed:) for the new queue.
        case .flow(let f):
            phase = .ended(.toFlow)
            a.append(.toNamedFlow(f))
        case .number(let n):
            phase = .transferringOut(target: n, leg: nil)
            a.append(.play(cc, items: ["tone:ringback"]))
            a.append(.dialOutside(destination: n, route: .number, callerID: caller))
        }
        return a
    }

    /// Completes a consultation: the caller is connected to the consulted party; the agent leaves.
    private mutating func completeTransfer(_ t: Talk, consult c: Consult, leg: String, now: Double?) -> [Action] {
        guard let cc = callerChannel else { return [] }
        var a: [Action] = []
        if let l = t.leg { a.append(.unbridge(l)) }
        a.append(.stopMedia(cc))
        if t.conference == nil { a.append(.bridge(cc, leg)) }
        a += [.record(.transferred(to: c.target, by: t.agent)),
              .queueEvent(kind: "transferred", detail: ["agent": t.agent, "to": c.target, "attended": "yes"])]
        a += release(t, cause: "transferred to \(c.target)")
        if let other = c.agent {
            phase = .connected(Talk(agent: other, leg: leg, conference: t.conference))
            a += [.record(.agentAnswered(agent: other, leg: leg)),
                  .notify(other, kind: "connected", fields: ["call": id, "caller": caller, "queue": queue, "transferred_by": t.agent])]
        } else {
            // An outside party: the caller and it talk on; the call ends when either hangs up.
            phase = .external(leg: leg)
        }
        return a
    }
}

extension ChannelEvent.Cause {
    /// The called party declined (busy, decline, rejected): the agent rejected the offer.
    var isDecline: Bool { self == .userBusy || self == .callRejected }
}
