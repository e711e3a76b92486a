import Foundation
import Protocol

/// What agents do to their calls from App-Operate: answer, reject, hang up, hold, transfer,
/// consult, three-way, return to the flow, and their own internal and external calls. Each
/// is checked here (permissions, who the target is) and then fed to the call's machine.
extension CallDistributor {
    /// Why an agent or supervisor command was refused (shown to the operator as is).
    struct CommandError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A transfer, consultation or call target: agent:CODE, queue:NAME, flow:NAME or a number.
    enum Target: Equatable {
        case agent(String), queue(String), flow(String), number(String)
        init(_ s: String) throws {
            if s.hasPrefix("agent:") { self = .agent(String(s.dropFirst(6))) }
            else if s.hasPrefix("queue:") { self = .queue(String(s.dropFirst(6))) }
            else if s.hasPrefix("flow:") { self = .flow(String(s.dropFirst(5))) }
            else if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || "+*#".contains($0)) }) { self = .number(s) }
            else { throw CommandError(message: "a target is agent:CODE, queue:NAME, flow:NAME or a number, not \(s)") }
        }
    }

    /// The agent's current call, connected.
    func currentCall(_ a: Agent) throws -> CallEntry {
        guard let entry = callOf(a), entry.call.agent == a.code else { throw CommandError(message: "you are not on a call") }
        return entry
    }

    /// Answer from App-Operate (console mode): ring the phone with auto-answer.
    func answer(_ a: Agent) throws {
        guard case .ringing(let callID) = a.machine.state, let entry = calls[callID], let offer = entry.call.offers[a.code] else {
            throw CommandError(message: "no call is offered to you")
        }
        guard a.mode == .console else { throw CommandError(message: "your phone is ringing: lift the handset (log in with --mode console to answer here)") }
        guard offer.leg == nil, !offer.dialling else { throw CommandError(message: "already answering") }
        feed(entry, .answerInConsole(agent: a.code))
    }

    func reject(_ a: Agent) throws {
        guard let entry = callOf(a), entry.call.offers[a.code] != nil else { throw CommandError(message: "no call is offered to you") }
        feed(entry, .withdraw(agent: a.code, reason: .rejected))
    }

    func hangup(_ a: Agent) throws {
        feed(try currentCall(a), .hangup)
    }

    func hold(_ a: Agent) throws {
        let entry = try currentCall(a)
        guard let t = entry.call.talk, !t.held else { throw CommandError(message: "the caller is already held") }
        guard t.consult == nil else { throw CommandError(message: "the caller is held for your consultation") }
        guard entry.call.callerChannel != nil else { throw CommandError(message: "nobody is on the line yet") }
        feed(entry, .hold)
    }

    func retrieve(_ a: Agent) throws {
        let entry = try currentCall(a)
        guard let t = entry.call.talk, t.held else { throw CommandError(message: "the caller is not held") }
        guard t.consult == nil else { throw CommandError(message: "end or complete the consultation first") }
        feed(entry, .retrieve)
    }

    func transfer(_ a: Agent, to target: String) throws {
        let entry = try currentCall(a)
        guard entry.call.callerChannel != nil else { throw CommandError(message: "this call has no caller to transfer") }
        guard entry.call.talk?.consult == nil else { throw CommandError(message: "complete or cancel the consultation first") }
        let t = try Target(target)
        let transfer: ACDCall.Transfer
        switch t {
        case .agent(let code):
            // The call waits in the agent's own queue until it is free (a busy agent is fine).
            guard code != a.code else { throw CommandError(message: "that is you") }
            guard agents[code] != nil else { throw CommandError(message: "agent \(code) is not logged in") }
            transfer = .queue("agent/\(code)")
        case .queue(let q): transfer = .queue(q)
        case .flow(let f):
            guard entry.onFlow != nil else { throw CommandError(message: "this call did not come from a flow") }
            transfer = .flow(f)
        case .number(let n):
            try checkExternal(a, n, callerID: entry.call.caller)
            transfer = .number(n)
        }
        feed(entry, .transfer(transfer))
        if entry.call.isWaiting { intoQueue(entry) }
    }

    /// Consultation: the caller is held and the agent talks to the target first.
    func consult(_ a: Agent, to target: String) throws {
        let entry = try currentCall(a)
        if let c = entry.call.talk?.consult { throw CommandError(message: "already consulting \(c.target)") }
        if entry.call.talk?.conference != nil { throw CommandError(message: "already a three-way call") }
        guard entry.call.callerChannel != nil else { throw CommandError(message: "nobody is on the line yet") }
        let t = try Target(target)
        switch t {
        case .agent(let code):
            let other = try checkInternal(a, code)
            guard case .ready = other.machine.state else { throw CommandError(message: "agent \(code) cannot take a call: \(other.machine.state.name)") }
            feed(entry, .consult(target: target, agent: code, destination: other.sipExtension, autoAnswer: other.mode == .console))
        case .number(let n):
            try checkExternal(a, n, callerID: entry.call.called)
            feed(entry, .consult(target: target, agent: nil, destination: n, autoAnswer: false))
        default:
            throw CommandError(message: "consult an agent (agent:CODE) or a number")
        }
    }

    /// Completes a consultation: the caller is connected to the consulted party; the agent leaves.
    func complete(_ a: Agent) throws {
        let entry = try currentCall(a)
        guard let c = entry.call.talk?.consult, c.connected else { throw CommandError(message: "no consultation is connected") }
        feed(entry, .complete)
    }

    func cancelConsult(_ a: Agent) throws {
        let entry = try currentCall(a)
        guard entry.call.talk?.consult != nil else { throw CommandError(message: "no consultation") }
        feed(entry, .cancelConsult)
    }

    /// Three-way call: caller, agent and the consulted party in one conference.
    func conference(_ a: Agent) throws {
        let entry = try currentCall(a)
        guard let c = entry.call.talk?.consult, c.connected else { throw CommandError(message: "consult someone first, then join them") }
        guard entry.call.talk?.conference == nil else { throw CommandError(message: "already a three-way call") }
        feed(entry, .conference)
    }

    /// Returns the caller to the flow (人工在线帮助): at `node`, or the queue node's `returned`.
    func returnToFlow(_ a: Agent, node: String?, variables: [String: String]) throws {
        let entry = try currentCall(a)
        guard entry.call.callerChannel != nil, entry.call.fromFlow, entry.onOutcome != nil else { throw CommandError(message: "this call did not come from a flow") }
        guard entry.call.talk?.consult == nil else { throw CommandError(message: "complete or cancel the consultation first") }
        feed(entry, .returnToFlow(node: node, variables: variables))
    }

    /// An internal call (to another agent) or an external call (through the route table) from
    /// the agent's phone: the agent's phone is rung first (auto-answer), then the target.
    func placeCall(_ a: Agent, to target: String) throws {
        guard let link = ctLink() else { throw CommandError(message: "the CT-Server is not attached: no calls can be placed now") }
        let t = try Target(target)
        let kind: ACDCall.Kind
        let display: String
        switch t {
        case .agent(let code):
            let other = try checkInternal(a, code)
            kind = .agentCall(destination: other.sipExtension, route: .phone)
            display = other.sipExtension
        case .number(let n):
            try checkExternal(a, n, callerID: a.sipExtension)
            kind = .agentCall(destination: n, route: .number)
            display = n
        default: throw CommandError(message: "call an agent (agent:CODE) or a number")
        }
        guard a.machine.state.call == nil else { throw CommandError(message: "finish your current call first") }
        let id = "outbound-\(a.code)-\(nextOutbound)"
        nextOutbound += 1
        if let why = handle(a, .outbound(call: id)) { throw CommandError(message: why) }
        let call = ACDCall(id: id, kind: kind, callerChannel: nil, caller: display, called: a.sipExtension, queue: "agent/\(a.code)", enqueuedAt: now)
        let entry = CallEntry(call: call, link: link)
        admit(entry)
        // Offered to the agent alone: its phone answers by itself, then the target is dialled.
        feed(entry, .offer(agent: a.code, dial: false, autoAnswer: true))
        feed(entry, .answerInConsole(agent: a.code))
    }

    /// An internal target: a logged-in agent other than the caller, not on a call.
    @discardableResult
    private func checkInternal(_ a: Agent, _ code: String) throws -> Agent {
        guard code != a.code else { throw CommandError(message: "that is you") }
        guard let other = agents[code] else { throw CommandError(message: "agent \(code) is not logged in") }
        if let call = other.machine.state.call { throw CommandError(message: "agent \(code) is on a call (\(other.machine.state.name), \(call))") }
        return other
    }

    /// An outside number: the agent needs the permission, and a route must take the number.
    private func checkExternal(_ a: Agent, _ number: String, callerID: String) throws {
        guard a.op.mayCallExternal else { throw CommandError(message: "permission denied: external calls are not allowed for \(a.code)") }
        if case .failure(let why) = settings.routes.resolve(number, callerID: callerID) { throw CommandError(message: why.description) }
    }
}
