import Foundation
import Testing
import TestSupport
@testable import FlowServerKit
@testable import Protocol

/// The call machine in scenarios, driven through its runner against the scripted CT-Server on
/// virtual time: every phase and the events that matter in it, including late ones.
@Suite struct ACDCallTests {
    typealias CT = DistributorRandomizedTests.ScriptedCT

    /// A distributor with agents a1, a2 (phones ext-a1, ext-a2) logged in and ready, routes for numbers.
    final class Rig {
        let ct = CT()
        let clock = VirtualClock()
        var records: [StoredRecord] = []
        var outcomes: [FlowRun.QueueOutcome] = []
        lazy var d: CallDistributor = {
            let d = CallDistributor(clock: clock, recorder: CallRecorder(flowServer: "t") { _ in }, submit: { [unowned self] in self.records.append($0) },
                                    logger: TestSupport.logger)
            d.ctLink = { [unowned self] in self.ct }
            var s = QueueSettings()
            s.ringTimeoutMs = 10_000
            s.wrapUpSeconds = 1
            s.routes = OutboundRoutes(routes: [.init(name: "mobile", patterns: ["1[3-9]XXXXXXXXX"], trunk: "mobile", callerID: "4000")], defaultTrunk: nil)
            d.apply(settings: s)
            return d
        }()
        func login(_ code: String, mode: CallDistributor.Mode = .phone, ready: Bool = true) throws -> CallDistributor.Agent {
            let op = Operator(workCode: code, name: code, roles: ["agent"], queues: ["q"], sipExtension: "ext-\(code)", mayCallExternal: true)
            let a = try d.login(op, sipExtension: "ext-\(code)", mode: mode, conn: nil, attach: false)
            if ready { d.handle(a, .ready(password: nil)) }
            return a
        }
        func caller(_ ch: String = "in-1") {
            ct.live.insert(ch)
            let node = FlowNode.Queue(queue: "q", priority: 0, skills: [:], maxWaitSeconds: nil, music: ["tone:ringback"], announce: [],
                                      announceEverySeconds: 0, timeout: nil, noAgents: nil, returned: "back")
            d.enqueue(channelID: ch, conn: ct, caller: "5550001", called: "4000", node: node, variables: [:],
                      onOutcome: { [unowned self] in self.outcomes.append($0) }, onFlow: { _ in })
        }
        /// Every CT-Server answer so far, in order.
        func flush() { while !ct.pending.isEmpty { ct.pending.removeFirst()() } }
        /// The channel the CT-Server created for the latest Originate to `destination`.
        func leg(to destination: String) -> String? { ct.destination.filter { $0.value == destination }.keys.max { Int($0.dropFirst(4))! < Int($1.dropFirst(4))! } }
        func event(_ ch: String, _ kind: ChannelEvent.Kind, sip: UInt16 = 0) {
            d.channelEvent(ChannelEvent(channelID: ch, kind: kind, direction: .outbound, caller: "", called: "", sipCode: sip, timestampMs: 0))
        }
        /// a1 answers the caller in-1.
        func connect(_ a: CallDistributor.Agent) throws {
            caller()
            flush()
            let phone = try #require(self.leg(to: a.sipExtension))
            event(phone, .established)
            #expect(d.liveCall("in-1")?.call.agent == a.code)
        }
        var call: ACDCall? { d.liveCall("in-1")?.call }
    }

    @Test func offerAnswerAndCallerHangsUp() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        r.caller()
        #expect(r.call?.phase.name == "offered" && a1.machine.state == .reserved(call: "in-1"))
        r.flush()
        #expect(a1.machine.state == .ringing(call: "in-1"))
        r.event(r.leg(to: "ext-a1")!, .established)
        #expect(r.call?.phase.name == "connected" && a1.machine.state == .talking(call: "in-1"))
        r.d.channelEvent(ChannelEvent(channelID: "in-1", kind: .cleared, direction: .inbound, caller: "", called: "", timestampMs: 0))
        #expect(r.call == nil && a1.machine.state.name == "wrap-up")
        #expect(!r.ct.live.contains(r.leg(to: "ext-a1")!), "the agent's leg was hung up")
    }

    @Test func busyPhoneIsARejectAndTheNextAgentGetsTheCall() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        r.caller()
        r.flush()
        r.event(r.leg(to: "ext-a1")!, .failed, sip: 486)
        #expect(r.call?.excluded == ["a1"], "a busy phone rejects: never offered to a1 again")
        #expect(r.call?.phase.name == "waiting" && a1.machine.state.name == "ready")
        let a2 = try r.login("a2")
        #expect(a2.machine.state == .reserved(call: "in-1"))
        r.flush()
        r.event(r.leg(to: "ext-a2")!, .failed, sip: 480)
        #expect(a2.machine.state.name == "not-ready" && r.d.counters.rona == 1, "480 is no answer (RONA), not a reject")
    }

    @Test func lateOriginateAnswerIsHungUp() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        r.caller()
        // The caller leaves before the CT-Server says which channel rings a1's phone.
        r.d.channelEvent(ChannelEvent(channelID: "in-1", kind: .cleared, direction: .inbound, caller: "", called: "", timestampMs: 0))
        #expect(a1.machine.state.name == "ready")
        r.flush()
        #expect(r.ct.live.filter { $0.hasPrefix("out-") }.isEmpty, "the late leg was hung up")
    }

    @Test func ringNoAnswerOnVirtualTime() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        r.caller()
        r.flush()
        r.clock.advance(by: 9.9)
        #expect(a1.machine.state == .ringing(call: "in-1"))
        r.clock.advance(by: 0.2)
        #expect(a1.machine.state.name == "not-ready" && r.call?.phase.name == "waiting")
        #expect(!r.ct.live.contains(r.leg(to: "ext-a1")!))
    }

    @Test func holdRetrieveAndConsultAnAgentThenComplete() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        let a2 = try r.login("a2")
        try r.d.hold(a1)
        #expect(r.call?.phase.name == "held" && a1.machine.state == .held(call: "in-1"))
        try r.d.retrieve(a1)
        #expect(r.call?.phase.name == "connected")
        try r.d.consult(a1, to: "agent:a2")
        #expect(r.call?.phase.name == "consulting" && a2.machine.state == .reserved(call: "in-1"))
        r.flush()
        #expect(a2.machine.state == .ringing(call: "in-1"))
        let cleg = try #require(r.leg(to: "ext-a2"))
        r.event(cleg, .established)
        #expect(r.call?.talk?.consult?.connected == true && a2.machine.state == .talking(call: "in-1"))
        try r.d.complete(a1)
        #expect(r.call?.agent == "a2" && r.call?.talk?.leg == cleg && a1.machine.state.name == "wrap-up")
        #expect(r.d.entry(forChannel: cleg)?.id == "in-1", "the consulted leg is now the agent's leg")
    }

    @Test func consultANumberThenThreeWayThroughTheTrunk() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        try r.d.consult(a1, to: "13800138000")
        r.flush()
        let leg = try #require(r.leg(to: "13800138000"))
        #expect(r.ct.trunks[leg] == "mobile", "dialled through the route's trunk")
        r.event(leg, .established)
        try r.d.conference(a1)
        #expect(r.call?.phase.name == "conferenced")
        // The outside party leaves: the caller and the agent talk on in the room.
        r.event(leg, .cleared)
        #expect(r.call?.phase.name == "conferenced" && r.call?.talk?.consult == nil && a1.machine.state == .talking(call: "in-1"))
        #expect(throws: CallDistributor.CommandError.self) { try r.d.consult(a1, to: "13800138000") }
    }

    @Test func blindTransferToANumberBecomesAnOutsidePair() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        try r.d.transfer(a1, to: "13900139000")
        #expect(r.call?.phase.name == "transferring" && a1.machine.state.name == "wrap-up")
        r.flush()
        let leg = try #require(r.leg(to: "13900139000"))
        r.event(leg, .established)
        #expect(r.call?.phase.name == "external" && r.d.whereIs("in-1") == "external")
        r.event(leg, .cleared)
        #expect(r.call == nil && !r.ct.live.contains("in-1"), "the caller is hung up when the outside party leaves")
    }

    /// The agent's phone transfers the call itself (REFER, the CT-Server dialled and bridged the
    /// target): the caller talks on with the target, the agent is free, the record has the
    /// transfer, and the call ends when either of them hangs up — the caller is never dropped.
    @Test func phoneTransferKeepsTheCallerWithTheTarget() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        let agentLeg = try #require(r.leg(to: "ext-a1"))
        r.ct.live.insert("lt")
        var e = ChannelEvent(channelID: agentLeg, kind: .transferred, direction: .outbound, caller: "", called: "", sipCode: 200, timestampMs: 0)
        e.bridgedWith = "lt"
        e.data = ["target": "1003"]
        r.d.channelEvent(e)
        #expect(r.call?.phase == .external(leg: "lt") && a1.machine.state.name == "wrap-up")
        #expect(r.ct.live.contains("in-1"), "the caller is not hung up")
        r.event(agentLeg, .cleared)
        #expect(r.ct.live.contains("in-1") && r.call != nil, "the agent's leg ending is not the call's end")
        r.event("lt", .cleared)
        #expect(r.call == nil && !r.ct.live.contains("in-1"), "the caller is hung up when the target leaves")
    }

    /// Logging in again with another mode takes it when no call is in hand; with a call the
    /// agent keeps its mode and is told so.
    @Test func loggingInAgainChangesTheModeWhenIdle() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        #expect(a1.mode == .phone)
        let op = Operator(workCode: "a1", name: "a1", roles: ["agent"], queues: ["q"], sipExtension: "ext-a1", mayCallExternal: true)
        _ = try r.d.login(op, sipExtension: "ext-a1b", mode: .console, conn: nil, attach: false)
        #expect(a1.mode == .console && a1.sipExtension == "ext-a1b")
        _ = try r.d.login(op, sipExtension: "ext-a1", mode: .phone, conn: nil, attach: false)
        try r.connect(a1)
        _ = try r.d.login(op, sipExtension: "", mode: .console, conn: nil, attach: false)
        #expect(a1.mode == .phone, "a call is in hand: the mode stays")
    }

    /// A blind transfer to a busy agent waits in that agent's own queue and reaches it when free.
    @Test func transferToABusyAgentWaitsForIt() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        let a2 = try r.login("a2")
        r.caller("in-2")
        r.flush()
        r.event(r.leg(to: "ext-a2")!, .established)
        #expect(a2.machine.state == .talking(call: "in-2"))
        try r.d.transfer(a1, to: "agent:a2")
        #expect(r.call?.phase.name == "waiting" && r.call?.queue == "agent/a2", "waits for a2")
        r.d.channelEvent(ChannelEvent(channelID: "in-2", kind: .cleared, direction: .inbound, caller: "", called: "", timestampMs: 0))
        r.clock.advance(by: 1.1)   // a2's wrap-up
        #expect(a2.machine.state == .reserved(call: "in-1"), "offered to a2 once it is free")
    }

    @Test func unroutableNumbersAreRefusedUpFront() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        #expect(throws: CallDistributor.CommandError.self) { try r.d.transfer(a1, to: "0044207946000") }
        #expect(r.call?.phase.name == "connected", "nothing changed")
    }

    @Test func agentCallsAnotherAgentAndANumber() throws {
        let r = Rig()
        let a1 = try r.login("a1", ready: false)
        let a2 = try r.login("a2")
        try r.d.placeCall(a1, to: "agent:a2")
        r.flush()
        let own = try #require(r.leg(to: "ext-a1"))
        r.event(own, .established)
        r.flush()
        let other = try #require(r.leg(to: "ext-a2"))
        #expect(r.ct.trunks[other] == "", "an agent's phone is dialled as it is")
        r.event(other, .established)
        #expect(a1.machine.state.name == "talking")
        r.event(own, .cleared)
        #expect(!r.ct.live.contains(other) && a1.machine.state.name == "wrap-up")
        _ = a2
        // An agent on a call cannot be called; a number goes through the trunk.
        r.clock.advance(by: 2)
        try r.connect(a2)
        #expect(throws: CallDistributor.CommandError.self) { try r.d.placeCall(a1, to: "agent:a2") }
        try r.d.placeCall(a1, to: "13700137000")
        r.flush()
        r.event(r.leg(to: "ext-a1")!, .established)
        r.flush()
        #expect(r.ct.trunks[r.leg(to: "13700137000")!] == "mobile")
    }

    @Test func callbackRingsTheAgentThenTheCustomerThroughTheTrunk() throws {
        let r = Rig()
        #expect(r.d.registerCallback(conn: r.ct, queue: "q", number: "13600136000", called: "4000", priority: 0, variables: [:]))
        #expect(!r.d.registerCallback(conn: r.ct, queue: "q", number: "0099", called: "4000", priority: 0, variables: [:]), "no route: refused")
        let a1 = try r.login("a1")
        r.flush()
        r.event(r.leg(to: "ext-a1")!, .established)
        r.flush()
        let customer = try #require(r.leg(to: "13600136000"))
        #expect(r.ct.trunks[customer] == "mobile" && r.ct.callerIDs[customer] == "4000")
        r.event(customer, .established)
        let call = try #require(r.d.callOf(a1)?.call)
        #expect(call.callerChannel == customer && call.phase.name == "connected")
    }

    @Test func machineRefusesWhatItsPhaseDoesNotExpect() {
        var c = ACDCall(id: "x", kind: .inbound, callerChannel: "x", caller: "1", called: "2", queue: "q", enqueuedAt: 0)
        #expect(c.handle(.complete, now: 1).isEmpty && c.phase == .waiting)
        #expect(c.handle(.hold, now: 1).isEmpty)
        #expect(c.handle(.agentDialled(agent: "a", leg: "l"), now: 1) == [.hangup("l", cause: "no longer needed")])
        _ = c.handle(.offer(agent: "a", dial: true, autoAnswer: false), now: 1)
        #expect(c.handle(.answered(leg: "unknown"), now: 2) == [.hangup("unknown", cause: "taken by another agent")])
        _ = c.handle(.cleared(leg: "x", cause: .normalClearing, text: "", failed: false), now: 3)
        #expect(c.isEnded)
        #expect(c.handle(.consultDialled(leg: "late"), now: 4) == [.hangup("late", cause: "no longer needed")], "a late leg of an ended call is hung up")
    }
}

/// The call machine alone, every phase with every event (owned legs, unknown legs, late dial
/// results, commands in the wrong phase): what must hold whatever the pair.
@Suite struct ACDCallMachineTableTests {
    typealias E = ACDCall.Event

    /// The call driven into each phase by a scripted sequence.
    static var phases: [(String, ACDCall)] {
        func run(_ events: [E]) -> ACDCall {
            var c = ACDCall(id: "in-1", kind: .inbound, callerChannel: "in-1", caller: "5550001", called: "4000", queue: "q", enqueuedAt: 0,
                            music: ["tone:ringback"], fromFlow: true)
            for e in events { _ = c.handle(e, now: 1) }
            return c
        }
        let waiting: [E] = [.enqueue(open: true, staffed: true)]
        let offered = waiting + [.offer(agent: "a", dial: true, autoAnswer: false), .agentDialled(agent: "a", leg: "la")]
        let connected = offered + [.answered(leg: "la")]
        let consulting = connected + [.consult(target: "agent:b", agent: "b", destination: "ext-b", autoAnswer: false), .consultDialled(leg: "lb")]
        let consultConnected = consulting + [.answered(leg: "lb")]
        let transferring = connected + [.transfer(.number("13900139000")), .outsideDialled(leg: "lo")]
        return [("waiting", run(waiting)), ("offered", run(offered)), ("connected", run(connected)), ("held", run(connected + [.hold])),
                ("consulting", run(consulting)), ("consult-connected", run(consultConnected)), ("conferenced", run(consultConnected + [.conference])),
                ("transferring", run(transferring)), ("external", run(transferring + [.answered(leg: "lo")])),
                ("ended", run(waiting + [.cleared(leg: "in-1", cause: .normalClearing, text: "caller hung up", failed: false)]))]
    }

    static let events: [E] = [
        .enqueue(open: true, staffed: true), .enqueue(open: false, staffed: true), .maxWaitExpired, .handOver(server: "flow-2"),
        .offer(agent: "c", dial: true, autoAnswer: false), .answerInConsole(agent: "a"), .agentDialled(agent: "a", leg: "late"),
        .agentDialFailed(agent: "a", reason: "unreachable"), .withdraw(agent: "a", reason: .rejected), .requeued(agent: "a", reason: .agentDisconnected),
        .requeued(agent: "b", reason: .ringNoAnswer), .answered(leg: "la"), .answered(leg: "lb"), .answered(leg: "lo"), .answered(leg: "unknown"),
        .held(leg: "la"), .retrieved(leg: "la"), .cleared(leg: "in-1", cause: .normalClearing, text: "", failed: false),
        .cleared(leg: "la", cause: .userBusy, text: "busy", failed: true), .cleared(leg: "lb", cause: .normalClearing, text: "", failed: false),
        .cleared(leg: "lo", cause: .normalClearing, text: "", failed: false), .cleared(leg: "unknown", cause: .normalClearing, text: "", failed: false),
        .outsideDialled(leg: "lx"), .outsideDialFailed(reason: "no route"), .hold, .retrieve, .hangup, .transfer(.queue("q2")),
        .transfer(.number("13800138000")), .consult(target: "13700137000", agent: nil, destination: "13700137000", autoAnswer: false),
        .consultDialled(leg: "lc"), .consultDialFailed(reason: "busy"), .complete, .cancelConsult, .conference,
        .returnToFlow(node: nil, variables: [:]), .linkLost, .phoneTransferred(leg: "la", to: "lt", target: "1003"),
    ]

    /// The legs an event brings in (a dial result names a new channel).
    static func introduced(_ e: E) -> Set<String> {
        switch e {
        case .agentDialled(_, let l), .consultDialled(let l), .outsideDialled(let l), .phoneTransferred(_, let l, _): return [l]
        default: return []
        }
    }

    static func agentOf(_ e: E) -> String? {
        switch e {
        case .offer(let a, _, _), .answerInConsole(let a), .agentDialled(let a, _), .agentDialFailed(let a, _), .withdraw(let a, _), .requeued(let a, _): return a
        case .consult(_, let a, _, _): return a
        default: return nil
        }
    }

    @Test func everyPhaseWithEveryEvent() {
        let phases = Self.phases
        #expect(phases.map { $0.1.phase.name } == ["waiting", "offered", "connected", "held", "consulting", "consulting", "conferenced",
                                                 "transferring", "external", "ended"], "the script reaches every phase")
        for (name, start) in phases {
            for e in Self.events {
                var c = start
                let actions = c.handle(e, now: 2)
                var again = start
                #expect(again.handle(e, now: 2) == actions && again == c, "\(name) + \(e): a value type, the same every time")
                let before = Set(start.channels.keys), after = Set(c.channels.keys)
                let known = before.union(after).union(Self.introduced(e))
                #expect(after.isSubset(of: before.union(Self.introduced(e))), "\(name) + \(e): a channel appeared from nowhere: \(after.subtracting(before))")
                if start.isEnded {
                    #expect(actions.allSatisfy { if case .hangup = $0 { return true }; return false }, "\(name) + \(e): an ended call only hangs up late legs: \(actions)")
                }
                if c.isEnded { #expect(c.channels.isEmpty, "\(name) + \(e): an ended call owns no channel") }
                let agents = Set(start.agentsInvolved + c.agentsInvolved + (Self.agentOf(e).map { [$0] } ?? []))
                for a in actions {
                    switch a {
                    case .bridge(let x, let y): #expect(known.contains(x) && known.contains(y), "\(name) + \(e): bridges \(x)–\(y), not its own")
                    case .play(let x, _), .stopMedia(let x), .conferenceJoin(let x, _), .unbridge(let x):
                        #expect(known.contains(x), "\(name) + \(e): media on \(x), not its own")
                    case .agent(let code, _), .notify(let code, _, _):
                        #expect(agents.contains(code), "\(name) + \(e): tells \(code), who has nothing to do with it")
                    default: break
                    }
                }
            }
        }
    }
}
