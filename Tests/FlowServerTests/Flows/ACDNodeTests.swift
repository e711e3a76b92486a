import Foundation
import Testing
@testable import FlowServerKit

/// The flow nodes that hand calls to the ACD and dial out: queue, callback, transfer to an
/// agent, originate — parsing, validation and the interpreter's side of them.
@Suite struct ACDNodeTests {
    static let flow = """
    flow: acd
    start: q
    nodes:
      q:
        type: queue
        queue: sales
        priority: 5
        skills: {mandarin: 4}
        max_wait_seconds: 120
        music: "file:hold"
        announce: "tts:en:You are number ${queue.position}."
        announce_every_seconds: 30
        timeout: offer
        no_agents: offer
        returned: survey
      offer:
        type: menu
        prompt: "tts:en:Press 1 for a call back."
        options: {"1": cb}
        failure: bye
      cb:
        type: callback
        queue: sales
        next: thanks
        failure: bye
      thanks:
        type: originate
        to: "${caller}"
        bridge: false
        flow: acd
        next: vip
        failure: bye
      vip:
        type: transfer
        agent: "1001"
        failure: dial
      dial:
        type: originate
        to: "13900001111"
        caller_id: "4000"
        next: bye
        failure: bye
      survey:
        type: play
        prompts: "tts:en:Thanks."
        next: bye
      bye:
        type: hangup
    """

    static func run() throws -> FlowRun {
        let def = try FlowParser().parse(flow).get()
        return FlowRun(flow: def, version: 1, environment: .init(caller: "13800001111", called: "4000"))
    }

    @Test func parsesQueueCallbackOriginateAndAgentTransfer() throws {
        let def = try FlowParser().parse(Self.flow).get()
        guard case .queue(let q)? = def.nodes["q"]?.kind else { Issue.record("q"); return }
        #expect(q.queue == "sales" && q.priority == 5 && q.skills == ["mandarin": 4] && q.maxWaitSeconds == 120)
        #expect(q.music == ["file:hold"] && q.announceEverySeconds == 30 && q.timeout == "offer" && q.returned == "survey")
        guard case .queue(let personal)? = def.nodes["vip"]?.kind else { Issue.record("vip"); return }
        #expect(personal.queue == "agent/1001" && personal.timeout == "dial" && personal.noAgents == "dial")
        guard case .originate(let o)? = def.nodes["dial"]?.kind else { Issue.record("dial"); return }
        #expect(o.bridge && o.callerID == "4000" && o.timeoutMs == 30_000)
        #expect(FlowGraph.text(def, version: 1).contains("queue → acd:sales"))
    }

    @Test func validationOfTheNewNodes() {
        let bad = """
        flow: bad
        start: a
        nodes:
          a:
            type: queue
            queue: "sales queue!"
            max_wait_seconds: 30
            skills: {x: 11}
            next: b
          b:
            type: originate
            to: "123"
            bridge: false
            next: c
            failure: c
          c:
            type: transfer
            agent: "1001"
          d:
            type: callback
            queue: sales
            number: "bad name"
            next: c
            failure: c
        """
        guard case .failure(let e) = FlowParser().parse(bad) else { Issue.record("accepted"); return }
        let text = e.description
        for expected in ["bad queue name sales queue!", "max_wait_seconds needs timeout", "skill x needs a level 1–10",
                         "unknown field next for a queue node", "originate with bridge: false needs flow",
                         "transfer to an agent needs failure", "number names a variable"] {
            #expect(text.contains(expected), "missing \(expected) in\n\(text)")
        }
        #expect(e.errors.allSatisfy { $0.line > 0 })
    }

    @Test func queueOutcomesLeadWhereTheNodeSays() throws {
        var r = try Self.run()
        let a = r.start()
        guard case .enqueue(let q, let vars)? = a.first, a.count == 1 else { Issue.record("\(a)"); return }
        #expect(q.queue == "sales" && vars["caller"] == "13800001111" && r.inQueue)
        // Waiting: late media events change nothing.
        #expect(r.handle(.playDone(tag: 99, reason: "finished")).isEmpty)
        // The maximum wait passes: the menu offering a call back.
        let b = r.handle(.queueOutcome(.timeout))
        guard case .collect? = b.last else { Issue.record("\(b)"); return }
        #expect(r.current == "offer" && !r.inQueue)
    }

    @Test func anAgentReturnsTheCallerToTheFlow() throws {
        var r = try Self.run()
        _ = r.start()
        let a = r.handle(.queueOutcome(.returned(node: nil, variables: ["resolved": "yes"])))
        #expect(r.current == "survey" && r.variables["resolved"] == "yes")
        guard case .play(["tts:en:Thanks."], _, _)? = a.first else { Issue.record("\(a)"); return }
        var r2 = try Self.run()
        _ = r2.start()
        _ = r2.handle(.queueOutcome(.returned(node: "bye", variables: [:])))
        #expect(r2.finished)
    }

    @Test func callbackAndOriginateBranches() throws {
        var r = try Self.run()
        _ = r.start()
        var a = r.handle(.queueOutcome(.noAgents))
        guard case .collect(_, _, _, _, _, let tag)? = a.last else { Issue.record("\(a)"); return }
        a = r.handle(.digitsCollected(tag: tag, digits: "1", reason: "max-digits"))
        guard case .callback("sales", "13800001111", 0, _)? = a.first else { Issue.record("\(a)"); return }
        a = r.handle(.callbackRegistered(ok: true))
        guard case .originate(let o, let to, let callerID)? = a.first else { Issue.record("\(a)"); return }
        #expect(!o.bridge && to == "13800001111" && callerID == "4000")
        a = r.handle(.originated(ok: true))
        // Placed: on to the personal queue of agent 1001.
        guard case .enqueue(let q, _)? = a.first else { Issue.record("\(a)"); return }
        #expect(q.queue == "agent/1001")
        a = r.handle(.queueOutcome(.timeout))
        guard case .originate(let o2, "13900001111", "4000")? = a.first else { Issue.record("\(a)"); return }
        #expect(o2.bridge)
        // Bridged: the flow waits until the far end hangs up, then goes on.
        #expect(r.handle(.originated(ok: true)).isEmpty && !r.finished)
        #expect(r.handle(.farEndCleared) == [.hangup(cause: "flow ended")])
    }

    @Test func queueSettingsParseAndRefuseMistakes() throws {
        let s = try QueueSettings.parse("""
        queues:
          sales:
            strategy: ring-all
            skills: {sales: 3}
            escalate_after_seconds: 45
            max_wait_seconds: 300
          vip: {}
        ring_timeout_ms: 12000
        wrap_up_seconds: 8
        """)
        #expect(s.queues["sales"]?.strategy == .ringAll && s.queues["sales"]?.skills == ["sales": 3] && s.queues["sales"]?.escalateAfterSeconds == 45)
        #expect(s.queues["vip"] != nil && s.ringTimeoutMs == 12_000 && s.wrapUpSeconds == 8)
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("queues:\n  a:\n    strategy: random\n") }
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("queues:\n  a:\n    colour: red\n") }
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("ring_timeout: 5\n") }
        // Opening hours: 2026-11-20 is a Friday; 09:00 UTC open, 21:00 closed, Saturday closed.
        let h = try QueueSettings.parse("queues:\n  day:\n    hours: \"08:00-20:00\"\n    weekdays: [mon, tue, wed, thu, fri]\n")
        let utc = TimeZone(identifier: "UTC")!
        let day = try #require(h.queues["day"])
        #expect(day.isOpen(at: Date(timeIntervalSince1970: 1_795_165_200), timeZone: utc))
        #expect(!day.isOpen(at: Date(timeIntervalSince1970: 1_795_165_200 + 12 * 3600), timeZone: utc))
        #expect(!day.isOpen(at: Date(timeIntervalSince1970: 1_795_165_200 + 24 * 3600), timeZone: utc))
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("queues:\n  a:\n    hours: \"8 to 5\"\n") }
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("queues:\n  a:\n    weekdays: [funday]\n") }
    }
}
