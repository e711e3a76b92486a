import Foundation
import Testing
@testable import FlowServerKit

@Suite struct AgentStateMachineTests {
    @Test func lifeOfAnAgent() {
        var a = AgentStateMachine(wrapUpSeconds: 5)
        #expect(a.handle(.ready(password: nil), now: 0).first == .refuse("logged-out: cannot ready(password: nil)"))
        _ = a.handle(.login, now: 1)
        #expect(a.state == .notReady(reason: "login", locked: false))
        _ = a.handle(.ready(password: nil), now: 2)
        #expect(a.state == .ready(since: 2))
        _ = a.handle(.reserve(call: "c1"), now: 3)
        #expect(a.handle(.ringing(call: "c1"), now: 3).contains(.startRingTimer(call: "c1")))
        _ = a.handle(.answered(call: "c1"), now: 5)
        #expect(a.state == .talking(call: "c1"))
        #expect(a.handle(.logout, now: 6) == [.refuse("cannot log out while on a call")])
        _ = a.handle(.hold, now: 7)
        #expect(a.state == .held(call: "c1"))
        _ = a.handle(.retrieve, now: 8)
        #expect(a.handle(.callEnded(call: "c1"), now: 20).contains(.startWrapUpTimer(seconds: 5)))
        _ = a.handle(.wrapUpEnded, now: 25)
        #expect(a.state == .ready(since: 25) && a.callsHandled == 1)
        // A lock password is needed to come back from a locked not-ready.
        _ = a.handle(.notReady(reason: "lunch", lockPassword: "1234"), now: 30)
        #expect(a.handle(.ready(password: "0000"), now: 31) == [.refuse("wrong lock password")])
        _ = a.handle(.ready(password: "1234"), now: 32)
        #expect(a.state == .ready(since: 32))
    }

    @Test func ringNoAnswerAndRejectRequeue() {
        var a = AgentStateMachine()
        _ = a.handle(.login, now: 0); _ = a.handle(.ready(password: nil), now: 0)
        _ = a.handle(.reserve(call: "c"), now: 1); _ = a.handle(.ringing(call: "c"), now: 1)
        let rona = a.handle(.ringTimeout(call: "c"), now: 16)
        #expect(rona.contains(.requeue(call: "c", reason: .ringNoAnswer)) && a.state == .notReady(reason: "ring no answer", locked: false))
        _ = a.handle(.ready(password: nil), now: 20); _ = a.handle(.reserve(call: "d"), now: 21)
        #expect(a.handle(.rejected(call: "d"), now: 22).contains(.requeue(call: "d", reason: .rejected)))
        #expect(a.state == .ready(since: 22))
        // A phone that cannot be dialled (not registered) is not a RONA: its own reason.
        _ = a.handle(.reserve(call: "f"), now: 22.5)
        #expect(a.handle(.phoneUnreachable(call: "f"), now: 22.6).contains(.requeue(call: "f", reason: .phoneUnreachable)))
        #expect(a.state == .notReady(reason: "phone unreachable", locked: false))
        _ = a.handle(.ready(password: nil), now: 22.7)
        // Events for another call are refused, never applied.
        _ = a.handle(.reserve(call: "e"), now: 23)
        #expect(a.handle(.answered(call: "zzz"), now: 24).first.map { if case .refuse = $0 { return true }; return false } == true)
        #expect(a.state == .reserved(call: "e"))
    }

    @Test func aLostConnectionKeepsTheCallThenLogsOut() {
        var a = AgentStateMachine()
        _ = a.handle(.login, now: 0); _ = a.handle(.ready(password: nil), now: 0)
        _ = a.handle(.reserve(call: "c"), now: 1); _ = a.handle(.ringing(call: "c"), now: 1); _ = a.handle(.answered(call: "c"), now: 2)
        #expect(a.handle(.connectionLost, now: 3) == [.startGraceTimer])
        #expect(a.state == .talking(call: "c"), "the call goes on")
        #expect(a.handle(.graceExpired, now: 33) == [.startGraceTimer], "still talking: wait")
        _ = a.handle(.callEnded(call: "c"), now: 60)
        #expect(a.state == .notReady(reason: "disconnected", locked: false))
        _ = a.handle(.graceExpired, now: 90)
        #expect(a.state == .loggedOut)
        // Reserved (not yet ringing) when the connection drops: the call goes elsewhere at once.
        var b = AgentStateMachine()
        _ = b.handle(.login, now: 0); _ = b.handle(.ready(password: nil), now: 0); _ = b.handle(.reserve(call: "x"), now: 1)
        #expect(b.handle(.connectionLost, now: 2).contains(.requeue(call: "x", reason: .agentDisconnected)))
    }
}

@Suite struct ACDEngineTests {
    func engine(_ strategy: ACDEngine.Strategy, skills: [String: Int] = [:]) -> ACDEngine {
        var e = ACDEngine()
        e.setQueue(.init(name: "sales", strategy: strategy, skills: skills))
        return e
    }

    @Test func strategiesPickTheRightAgent() {
        let agents = [ACDEngine.Agent(id: "a", skills: ["en": 3], queues: ["sales"], readySince: 30, callsHandled: 1),
                      ACDEngine.Agent(id: "b", skills: ["en": 9], queues: ["sales"], readySince: 10, callsHandled: 7),
                      ACDEngine.Agent(id: "c", skills: ["en": 5], queues: ["sales"], readySince: 20, callsHandled: 0)]
        func pick(_ s: ACDEngine.Strategy) -> [String] {
            var e = engine(s, skills: ["en": 1])
            for a in agents { e.agentReady(a) }
            e.enqueue(.init(id: "x", queue: "sales", enqueuedAt: 100))
            return e.agentsFor(call: "x", now: 100)
        }
        #expect(pick(.longestIdle) == ["b"])
        #expect(pick(.fewestCalls) == ["c"])
        #expect(pick(.skillLevelFirst) == ["b"])
        #expect(pick(.ringAll) == ["a", "b", "c"])
        var rr = engine(.roundRobin)
        var got: [String] = []
        for i in 0..<4 {
            for a in agents { rr.agentReady(a) }
            rr.enqueue(.init(id: "x\(i)", queue: "sales", enqueuedAt: 100))
            got += rr.agentsFor(call: "x\(i)", now: 100)
        }
        #expect(got == ["a", "b", "c", "a"])
    }

    @Test func skillsEscalationAndStickyAgent() {
        var e = ACDEngine()
        e.setQueue(.init(name: "experts", strategy: .longestIdle, skills: ["tax": 8], escalateAfterSeconds: 30, escalationStep: 3))
        e.agentReady(.init(id: "junior", skills: ["tax": 5], queues: ["experts"], readySince: 0))
        e.enqueue(.init(id: "q", queue: "experts", enqueuedAt: 0))
        #expect(e.agentsFor(call: "q", now: 10).isEmpty, "level 5 < 8")
        #expect(e.agentsFor(call: "q", now: 31) == ["junior"], "after 30 s the minimum drops to 5")
        var s = engine(.longestIdle)
        s.agentReady(.init(id: "old", skills: [:], queues: ["sales"], readySince: 0))
        s.agentReady(.init(id: "friend", skills: [:], queues: ["sales"], readySince: 50))
        s.enqueue(.init(id: "vip", queue: "sales", enqueuedAt: 60, stickyAgent: "friend"))
        #expect(s.agentsFor(call: "vip", now: 60) == ["friend"])
    }

    /// An agent serving two queues takes the caller who has waited longest across both,
    /// weighted by priority — not the first queue's head (Asterisk #108, Wazo's order).
    @Test func fairAcrossQueues() {
        var e = ACDEngine()
        e.priorityWeightSeconds = 60
        e.setQueue(.init(name: "a"))
        e.setQueue(.init(name: "b"))
        e.enqueue(.init(id: "a-new", queue: "a", enqueuedAt: 100))
        e.enqueue(.init(id: "b-old", queue: "b", enqueuedAt: 40))
        e.enqueue(.init(id: "a-vip", queue: "a", priority: 2, enqueuedAt: 90))   // 90 − 120 = −30: first
        e.agentReady(.init(id: "both", skills: [:], queues: ["a", "b"], readySince: 0))
        #expect(e.callFor(agent: "both", now: 120)?.id == "a-vip")
        e.agentReady(.init(id: "both", skills: [:], queues: ["a", "b"], readySince: 0))
        #expect(e.callFor(agent: "both", now: 121)?.id == "b-old")
        e.agentReady(.init(id: "both", skills: [:], queues: ["a", "b"], readySince: 0))
        #expect(e.callFor(agent: "both", now: 122)?.id == "a-new")
        #expect(e.waitingCount == 0)
        // A routing pass serves the longest (weighted) waits first.
        var r = ACDEngine()
        r.setQueue(.init(name: "a")); r.setQueue(.init(name: "b"))
        r.enqueue(.init(id: "late", queue: "a", enqueuedAt: 50))
        r.enqueue(.init(id: "early", queue: "b", enqueuedAt: 10))
        r.agentReady(.init(id: "x", skills: [:], queues: ["a", "b"], readySince: 0))
        #expect(r.route(now: 60).map(\.call.id) == ["early"])
    }
}

/// Thousands of random event sequences through agents' state machines and the engine, joined
/// the way the Flow-Server joins them; invariants checked after every step.
@Suite struct ACDRandomizedTests {
    struct World {
        var engine = ACDEngine()
        var agents: [String: AgentStateMachine] = [:]
        var callState: [String: String] = [:]   // call → "waiting" | "agent:<id>" | "ended"
        var now = 0.0

        init() {
            engine.setQueue(.init(name: "q1", strategy: .longestIdle))
            engine.setQueue(.init(name: "q2", strategy: .fewestCalls))
            for i in 0..<4 { agents["a\(i)"] = AgentStateMachine(wrapUpSeconds: 2) }
        }

        func agentRecord(_ id: String) -> ACDEngine.Agent {
            .init(id: id, skills: [:], queues: id == "a0" ? ["q1"] : ["q1", "q2"], readySince: now, callsHandled: agents[id]!.callsHandled)
        }

        mutating func apply(_ id: String, _ e: AgentStateMachine.Event) {
            let before = agents[id]!.state
            let actions = agents[id]!.handle(e, now: now)
            for a in actions {
                if case .requeue(let call, _) = a, callState[call] == "agent:\(id)" {
                    callState[call] = "waiting"
                    engine.enqueue(.init(id: call, queue: "q1", enqueuedAt: now))
                }
            }
            let after = agents[id]!.state
            if case .ready = after, before != after { engine.agentReady(agentRecord(id)) }
            if case .ready = before, after != before { engine.agentUnavailable(id) }
            if case .ready = after {} else { engine.agentUnavailable(id) }
            if after.call == nil, let c = before.call, callState[c] == "agent:\(id)", case .talking = before {
                callState[c] = "ended"
            }
            if after.call == nil, let c = before.call, callState[c] == "agent:\(id)" {
                // Reserved/ringing ended without the call (caller left): it is over.
                if case .callEnded = e { callState[c] = "ended" }
            }
        }

        mutating func route() {
            for (call, agentIDs) in engine.route(now: now) {
                let id = agentIDs[0]
                for other in agentIDs.dropFirst() { engine.agentReady(agentRecord(other)) }   // ring-all not used here
                callState[call.id] = "agent:\(id)"
                apply(id, .reserve(call: call.id))
                apply(id, .ringing(call: call.id))
            }
        }

        func check() -> String? {
            var offered: [String: String] = [:]
            for (id, a) in agents {
                if let c = a.state.call {
                    guard callState[c] == "agent:\(id)" else { return "\(id) is \(a.state.name) with \(c), which is \(callState[c] ?? "unknown")" }
                    if let o = offered[c] { return "call \(c) is with \(o) and \(id)" }
                    offered[c] = id
                }
            }
            for (c, s) in callState {
                if s == "waiting" && engine.call(c) == nil { return "call \(c) lost from its queue" }
                if s.hasPrefix("agent:"), offered[c] == nil { return "call \(c) assigned to \(s) who does not have it" }
                if s != "waiting" && engine.call(c) != nil { return "call \(c) is \(s) and still queued" }
            }
            return nil
        }
    }

    @Test func invariantsHoldUnderRandomEvents() {
        var rng = SystemRandomNumberGenerator()
        var steps = 0
        for run in 0..<300 {
            var w = World()
            var nextCall = 0
            for _ in 0..<200 {
                w.now += Double.random(in: 0...3, using: &rng)
                let ids = w.agents.keys.sorted()
                let id = ids.randomElement(using: &rng)!
                let call = w.agents[id]!.state.call
                switch Int.random(in: 0..<14, using: &rng) {
                case 0, 1:
                    nextCall += 1
                    let c = "c\(run)-\(nextCall)"
                    w.callState[c] = "waiting"
                    w.engine.enqueue(.init(id: c, queue: Bool.random(using: &rng) ? "q1" : "q2", priority: Int.random(in: 0...2, using: &rng), enqueuedAt: w.now))
                case 2: w.apply(id, .login)
                case 3: w.apply(id, .ready(password: nil))
                case 4: w.apply(id, .notReady(reason: "break", lockPassword: nil))
                case 5: w.apply(id, .logout)
                case 6: if let call { w.apply(id, .answered(call: call)) }
                case 7: if let call { w.apply(id, .rejected(call: call)) }
                case 8: if let call { w.apply(id, .ringTimeout(call: call)) }
                case 9:
                    // The caller hangs up: in queue, ringing or talking.
                    if let waitingCall = w.callState.first(where: { $0.value == "waiting" })?.key, Bool.random(using: &rng) {
                        w.engine.remove(call: waitingCall)
                        w.callState[waitingCall] = "ended"
                    } else if let call {
                        w.apply(id, .callEnded(call: call))
                    }
                case 10: w.apply(id, .wrapUpEnded)
                case 11: w.apply(id, .connectionLost)
                case 12: w.apply(id, .graceExpired)
                default: w.apply(id, Bool.random(using: &rng) ? .hold : .retrieve)
                }
                w.route()
                steps += 1
                if let problem = w.check() {
                    Issue.record("run \(run) step \(steps): \(problem)")
                    return
                }
            }
        }
        #expect(steps == 60_000)
    }
}
