import Foundation
import Testing
import TestSupport
@testable import FlowServerKit
@testable import Protocol

/// The CallDistributor — the ACD engine, the agents' state machines and the glue that rings
/// phones, bridges and transfers — driven by thousands of random steps against a scripted
/// CT-Server whose responses and events arrive late and in any order: callers arrive and hang
/// up, phones answer, decline or fail, agents go ready and not ready, reject, hang up, hold,
/// transfer (blind and consultative), return callers to the flow, log out; ring and wrap-up
/// timers fire. After every step: no agent reserved or ringing without a live offer, no call
/// offered to two agents, no caller the ACD holds that is neither waiting, offered nor with
/// someone, and no caller waiting while an agent who could take it is ready.
@Suite(.serialized) struct DistributorRandomizedTests {
    /// A CT-Server that answers commands later (the test decides when) and reports the
    /// consequences: a hung-up channel is cleared, an originated one can be answered or fail.
    final class ScriptedCT: ChannelLink {
        var pending: [() -> Void] = []
        var live: Set<String> = []
        var destination: [String: String] = [:]
        var clears: [String] = []
        var next = 1
        func command<M: WireMessage>(_ m: M, completion: @escaping (Result<ChannelCommandResult, ProtocolError>) -> Void) {
            switch m {
            case let o as Originate:
                if o.destination == "9999" {   // an extension that is not registered
                    pending.append { completion(.failure(ProtocolError(.unavailable, "9999 is not registered"))) }
                    return
                }
                let id = "out-\(next)"
                next += 1
                live.insert(id)
                destination[id] = o.destination
                pending.append { completion(.success(ChannelCommandResult(channelID: id))) }
            case let h as HangupChannel:
                if live.remove(h.channelID) != nil { clears.append(h.channelID) }
                pending.append { completion(.success(ChannelCommandResult(channelID: h.channelID))) }
            default:
                pending.append { completion(.success(ChannelCommandResult(channelID: ""))) }
            }
        }
    }

    enum CallerState { case acd, flow, gone }

    @Test(arguments: [1, 2, 3, 4, 5])
    func randomStepsKeepTheInvariants(seed: Int) throws {
        let lt = try LoopThread("distributor-random")
        defer { lt.stop() }
        var rng = SeededGenerator(seed: UInt64(seed))
        let ct = ScriptedCT()
        let recorder = CallRecorder(flowServer: "t") { _ in }
        let d = try lt.sync { () -> CallDistributor in
            let d = CallDistributor(loop: lt.loop, recorder: recorder, submit: { _ in }, logger: TestSupport.logger)
            var s = QueueSettings()
            s.queues["q"] = .init(name: "q", strategy: ACDEngine.Strategy.allCases.filter { $0 != .ringAll }[seed % 4])
            s.ringTimeoutMs = 30
            s.wrapUpSeconds = 0.02
            s.disconnectGraceSeconds = 0.05
            d.apply(settings: s)
            return d
        }
        let codes = ["a1", "a2", "a3", "a4"]
        var callers: [String: CallerState] = [:]
        var nextCaller = 1
        let node = FlowNode.Queue(queue: "q", priority: 0, skills: [:], maxWaitSeconds: nil, music: ["tone:ringback"], announce: [],
                                  announceEverySeconds: 0, timeout: nil, noAgents: nil, returned: "back")
        var stepsDone = 0, answered = 0, offered = 0
        var trace: [String] = []   // the last steps, shown when an invariant breaks

        for step in 0..<3000 {
            let r = Int.random(in: 0..<100, using: &rng)
            let agentsBefore = try lt.sync { d.agents.values.sorted { $0.code < $1.code }.map { "\($0.code):\($0.machine.state)" }.joined(separator: " ") }
            trace.append("step \(step) r=\(r) agents before: \(agentsBefore)")
            if trace.count > 40 { trace.removeFirst() }
            try lt.sync {
                func anyAgent() -> CallDistributor.Agent? { d.agents.values.sorted { $0.code < $1.code }.randomElement(using: &rng) }
                switch r {
                case 0..<8:   // an agent logs in (phone or console mode; a4's phone is not registered), or
                              // its App-Operate connection drops, or a script joins its session
                    let code = codes.randomElement(using: &rng)!
                    if let a = d.agents[code] {
                        if Bool.random(using: &rng) { d.handle(a, .connectionLost) } else { _ = try? d.login(a.op, sipExtension: a.sipExtension, mode: a.mode, conn: nil, attach: true) }
                    } else {
                        let op = Operator(workCode: code, name: code, roles: ["agent"], queues: ["q"], sipExtension: code == "a4" ? "9999" : "ext-\(code)",
                                          mayCallExternal: true)
                        _ = try? d.login(op, sipExtension: op.sipExtension!, mode: Bool.random(using: &rng) ? .phone : .console, conn: nil, attach: false)
                    }
                case 8..<20:  // ready / not ready
                    if let a = anyAgent() {
                        if Bool.random(using: &rng) { d.handle(a, .ready(password: nil)) } else { d.handle(a, .notReady(reason: "break", lockPassword: nil)) }
                    }
                case 20..<30: // a caller reaches the queue
                    let ch = "in-\(nextCaller)"
                    nextCaller += 1
                    ct.live.insert(ch)
                    callers[ch] = .acd
                    d.enqueue(channelID: ch, conn: ct, caller: "c\(nextCaller)", called: "4000", node: node, variables: ["topic": "x"],
                              onOutcome: { _ in callers[ch] = .flow }, onFlow: { _ in callers[ch] = .flow })
                case 30..<37: // a caller hangs up
                    if let ch = callers.filter({ $0.value != .gone && ct.live.contains($0.key) }).keys.sorted().randomElement(using: &rng) {
                        ct.live.remove(ch)
                        callers[ch] = .gone
                        d.channelEvent(ChannelEvent(channelID: ch, kind: .cleared, direction: .inbound, caller: "", called: "4000", cause: "caller hung up", timestampMs: 0))
                    }
                case 37..<60: // the CT-Server answers a command
                    if !ct.pending.isEmpty { ct.pending.remove(at: Int.random(in: 0..<ct.pending.count, using: &rng))() }
                case 60..<66: // a hung-up channel's ConnectionCleared arrives
                    if !ct.clears.isEmpty {
                        let ch = ct.clears.remove(at: Int.random(in: 0..<ct.clears.count, using: &rng))
                        if ch.hasPrefix("in-") { callers[ch] = .gone }
                        d.channelEvent(ChannelEvent(channelID: ch, kind: .cleared, direction: ch.hasPrefix("in-") ? .inbound : .outbound, caller: "", called: "",
                                                    cause: "hung up", timestampMs: 0))
                    }
                case 66..<76: // a ringing phone answers, declines or fails
                    if let ch = ct.live.filter({ $0.hasPrefix("out-") }).sorted().randomElement(using: &rng) {
                        let k = Int.random(in: 0..<10, using: &rng)
                        if k < 7 {
                            d.channelEvent(ChannelEvent(channelID: ch, kind: .established, direction: .outbound, caller: "", called: ct.destination[ch] ?? "", timestampMs: 0))
                        } else {
                            ct.live.remove(ch)
                            d.channelEvent(ChannelEvent(channelID: ch, kind: .failed, direction: .outbound, caller: "", called: ct.destination[ch] ?? "",
                                                        sipCode: k == 7 ? 486 : 480, cause: k == 7 ? "busy" : "unavailable", timestampMs: 0))
                        }
                    }
                case 76..<80: // an agent's phone hangs up
                    if let a = anyAgent(), let ch = a.call?.agentChannel, ct.live.remove(ch) != nil {
                        d.channelEvent(ChannelEvent(channelID: ch, kind: .cleared, direction: .outbound, caller: "", called: "", cause: "agent hung up", timestampMs: 0))
                    }
                default:      // an agent operation from App-Operate
                    guard let a = anyAgent() else { return }
                    let others = codes.filter { $0 != a.code }
                    switch Int.random(in: 0..<12, using: &rng) {
                    case 0: try? d.answer(a)
                    case 1: try? d.reject(a)
                    case 2: try? d.hangup(a)
                    case 3: if let c = try? d.currentCall(a) { c.held ? d.retrieve(a, c) : d.hold(a, c) }
                    case 4: try? d.transfer(a, to: "queue:q")
                    case 5: try? d.transfer(a, to: "agent:\(others.randomElement(using: &rng)!)")
                    case 6: try? d.consult(a, to: "agent:\(others.randomElement(using: &rng)!)")
                    case 7: try? d.complete(a)
                    case 8: try? d.cancelConsult(a)
                    case 9: try? d.returnToFlow(a, node: nil, variables: ["resolved": "yes"])
                    case 10: try? d.logout(a)
                    default: try? d.conference(a)
                    }
                }
            }
            if step % 25 == 0 { Thread.sleep(forTimeInterval: 0.04) }   // ring and wrap-up timers fire
            // Invariants, on the loop.
            let problems = try lt.sync { () -> [String] in
                var p: [String] = []
                for a in d.agents.values {
                    switch a.machine.state {
                    case .reserved(let id), .ringing(let id):
                        let c = d.liveCall(id)
                        if c == nil || c!.ended || (c!.offers[a.code] == nil && c!.consult?.agent != a.code && c!.agent != a.code) {
                            p.append("\(a.code) \(a.machine.state.name) for \(id) with no live offer (call: \(c.map { "ended=\($0.ended) offers=\($0.offers) agent=\($0.agent ?? "-")" } ?? "none"))")
                        }
                    default: break
                    }
                }
                // Timer-driven states end: ringing by answer or ring timeout, wrap-up by its timer.
                for a in d.agents.values where Date().timeIntervalSince1970 - a.machine.since > 2 {
                    switch a.machine.state {
                    case .ringing, .wrapUp: p.append("\(a.code) stuck \(a.machine.state.name) for \(Int(Date().timeIntervalSince1970 - a.machine.since)) s")
                    default: break
                    }
                }
                for (id, c) in d.calls where c.offers.count > 1 { p.append("\(id) offered to \(c.offers.keys.sorted())") }
                for (ch, state) in callers where state == .acd && ct.live.contains(ch) {
                    if d.whereIs(ch) == nil { p.append("caller \(ch) lost: the ACD neither queues it nor has it with anyone") }
                }
                for w in d.engine.waitingCalls(in: "q") {
                    let ready = d.engine.agents.keys.filter { !w.excluded.contains($0) }
                    if !ready.isEmpty { p.append("\(w.id) waits while \(ready.sorted()) are ready") }
                }
                return p
            }
            #expect(problems.isEmpty, "seed \(seed) step \(step): \(problems)\n\(trace.joined(separator: "\n"))")
            if !problems.isEmpty { return }
            stepsDone += 1
            offered = try lt.sync { d.counters.offered }
            answered = try lt.sync { d.counters.answered }
        }
        #expect(stepsDone == 3000)
        #expect(offered > 50 && answered > 10, "the random walk exercised offers (\(offered)) and answers (\(answered))")
    }
}

extension DistributorRandomizedTests {
    /// A queue outside its opening hours takes no calls: the call goes back to its flow at once
    /// (the node's no_agents branch) even with an agent ready; inside its hours it is offered.
    @Test func closedQueueSendsCallsBackToTheFlow() throws {
        let lt = try LoopThread("distributor-hours")
        defer { lt.stop() }
        let ct = ScriptedCT()
        let outcomes = Box<[FlowRun.QueueOutcome]>([])
        try lt.sync {
            let d = CallDistributor(loop: lt.loop, recorder: CallRecorder(flowServer: "t") { _ in }, submit: { _ in }, logger: TestSupport.logger)
            var s = QueueSettings()
            // Closed all day every day but one minute that is never now, and open all week.
            let now = Calendar.current.dateComponents([.hour, .minute], from: Date())
            let m = ((now.hour ?? 0) * 60 + (now.minute ?? 0) + 120) % 1440
            let closedHours = String(format: "%02d:%02d-%02d:%02d", m / 60, m % 60, (m + 1) / 60 % 24, (m + 1) % 60)
            s.queues["night"] = .init(name: "night", hours: closedHours)
            s.queues["open"] = .init(name: "open")
            d.apply(settings: s)
            let op = Operator(workCode: "a1", name: "a1", roles: ["agent"], queues: ["night", "open"], sipExtension: "ext-a1")
            let a = try d.login(op, sipExtension: "ext-a1", mode: .phone, conn: nil, attach: false)
            d.handle(a, .ready(password: nil))
            for q in ["night", "open"] {
                let node = FlowNode.Queue(queue: q, priority: 0, skills: [:], maxWaitSeconds: nil, music: [], announce: [], announceEverySeconds: 0,
                                          timeout: nil, noAgents: "closed", returned: nil)
                d.enqueue(channelID: "in-\(q)", conn: ct, caller: "c", called: "4000", node: node, variables: [:],
                          onOutcome: { o in outcomes.mutate { $0.append(o) } }, onFlow: { _ in })
            }
            #expect(outcomes.value == [.noAgents], "the closed queue sent its call back to the flow")
            #expect(d.whereIs("in-night") == nil && d.whereIs("in-open") == "offered")
        }
    }
}

extension DistributorRandomizedTests {
    /// A script joining the session (or the connection dropping) while the phone rings or the
    /// agent is in wrap-up leaves the ring and wrap-up timers running: ring no answer still
    /// happens, and wrap-up still ends.
    @Test func timersSurviveReconnects() throws {
        let lt = try LoopThread("distributor-timers")
        defer { lt.stop() }
        let ct = ScriptedCT()
        let d = try lt.sync { () -> CallDistributor in
            let d = CallDistributor(loop: lt.loop, recorder: CallRecorder(flowServer: "t") { _ in }, submit: { _ in }, logger: TestSupport.logger)
            var s = QueueSettings()
            s.ringTimeoutMs = 100
            s.wrapUpSeconds = 0.1
            s.disconnectGraceSeconds = 5
            d.apply(settings: s)
            let op = Operator(workCode: "a1", name: "a1", roles: ["agent"], queues: ["q"], sipExtension: "ext-a1")
            let a = try d.login(op, sipExtension: "ext-a1", mode: .console, conn: nil, attach: false)
            d.handle(a, .ready(password: nil))
            let node = FlowNode.Queue(queue: "q", priority: 0, skills: [:], maxWaitSeconds: nil, music: [], announce: [], announceEverySeconds: 0,
                                      timeout: nil, noAgents: nil, returned: nil)
            d.enqueue(channelID: "in-1", conn: ct, caller: "c", called: "4000", node: node, variables: [:], onOutcome: { _ in }, onFlow: { _ in })
            #expect(a.machine.state == .ringing(call: "in-1"))
            d.handle(a, .connectionLost)                                            // the console drops …
            _ = try d.login(op, sipExtension: "ext-a1", mode: .console, conn: nil, attach: true)   // … and a script joins
            return d
        }
        #expect(TestSupport.waitUntil(2) { (try? lt.sync { d.agents["a1"]?.machine.state.name }) == "not-ready" }, "ring no answer after a reconnect")
        try lt.sync {
            let a = d.agents["a1"]!
            d.handle(a, .ready(password: nil))
            // Now answer (console: the phone is rung with auto-answer), talk, hang up → wrap-up.
            #expect(a.machine.state == .ringing(call: "in-1"))
            try d.answer(a)
            while !ct.pending.isEmpty { ct.pending.removeFirst()() }
            let leg = try #require(ct.live.first { $0.hasPrefix("out-") })
            d.channelEvent(ChannelEvent(channelID: leg, kind: .established, direction: .outbound, caller: "", called: "ext-a1", timestampMs: 0))
            d.channelEvent(ChannelEvent(channelID: leg, kind: .cleared, direction: .outbound, caller: "", called: "ext-a1", cause: "agent hung up", timestampMs: 0))
            #expect(a.machine.state.name == "wrap-up")
            _ = try d.login(a.op, sipExtension: "ext-a1", mode: .console, conn: nil, attach: true)
        }
        #expect(TestSupport.waitUntil(2) { (try? lt.sync { d.agents["a1"]?.machine.state.name }) == "ready" }, "wrap-up ends after a reconnect")
    }
}

/// SplitMix64: reproducible random steps for a seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
