import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Outbound campaigns over real sockets: numbers dialled through a trunk to a SIPp carrier that
/// answers, a baresip agent phone, App-Operate's `campaign` commands, a real PostgreSQL.
@Suite(.serialized) struct OutboundTests {
    let edge = SIPEdgeTests()
    let agents = AgentTests()

    static func trace(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
    static func invites(_ url: URL) -> [String] {
        trace(url).components(separatedBy: "\n").filter { $0.hasPrefix("INVITE sip:") }.map { String($0.dropFirst(11).prefix { $0 != "@" }) }
    }

    /// A carrier that rings `ringMs` before answering, then hangs up after `talkMs`.
    static func carrier(_ dir: URL, port: Int, calls: Int, ringMs: Int, talkMs: Int) throws -> (ChildProcess, URL) {
        let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_carrier_hangup.xml"), encoding: .utf8)
            .replacingOccurrences(of: "<pause milliseconds=\"300\"/>", with: "<pause milliseconds=\"\(ringMs)\"/>")
        let scenario = dir.appendingPathComponent("carrier-\(port).xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        let trace = dir.appendingPathComponent("carrier-\(port).log")
        let p = try SIPp.start(nil, scenario: scenario, ports: SIPp.Ports(at: port),
                               ["-rtp_echo", "-m", "\(calls)", "-d", "\(talkMs)", "-timeout", "120", "-timeout_error", "-trace_msg", "-message_file", trace.path])
        return (p, trace)
    }

    /// Progressive, one agent: the call list is imported (a bad list is refused whole, with its
    /// lines); a number put on the do-not-call list after the import is never dialled (the
    /// carrier's trace proves it); each answered callee reaches the agent with the list's fields;
    /// pausing stops new dials at once; the report counts every outcome.
    @Test func progressiveCampaignThroughTheTrunk() throws {
        let trunkPort = TestPorts.block(8)
        let c = try AgentTests.Center(edge: edge, queues: AgentTests.trunkQueues(callerID: nil), trunkPort: trunkPort)
        defer { c.stop() }
        let (carrier, trace) = try Self.carrier(c.dir, port: trunkPort, calls: 3, ringMs: 300, talkMs: 2500)
        defer { _ = carrier.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", [])
        func sup(_ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate("2001", ["campaign"] + args) }
        let flowLog = { c.flow.outputText.suffix(3000) }

        var r = try sup(["create", "spring", "--mode", "progressive", "--queue", "sales", "--caller-id", "4000", "--window", "00:00-24:00", "--timezone", "UTC"])
        #expect(r.status == 0, "\(r.output)")
        let bad = c.dir.appendingPathComponent("bad.csv")
        try "number,name\n13800000001,Ann\nnot-a-number,Bo\n13800000001,Cy\n".write(to: bad, atomically: true, encoding: .utf8)
        r = try sup(["import", "spring", bad.path])
        #expect(r.status != 0 && r.output.contains("line 3: not a phone number") && r.output.contains("line 4: 13800000001 is already on line 2"), "\(r.output)")
        #expect(try c.pg.query("select count(*) from campaign_numbers") == "0", "nothing half-imported")
        let list = c.dir.appendingPathComponent("list.csv")
        try "number,name,account\n13800000001,Ann,A-1\n13800000002,Bo,A-2\n13800000003,Cy,A-3\n13800000004,Di,A-4\n".write(to: list, atomically: true, encoding: .utf8)
        r = try sup(["import", "spring", list.path])
        #expect(r.status == 0 && r.output.contains("4 numbers imported"), "\(r.output)")
        r = try sup(["dnc", "add", "13800000002", "--reason", "asked on the phone"])
        #expect(r.status == 0, "\(r.output)")
        #expect(try c.appOperate("1001", ["campaign", "list"]).output.contains("permission denied"), "agents cannot manage campaigns")

        r = try sup(["control", "start", "spring"])
        #expect(r.status == 0 && r.output.contains("running (4 numbers)"), "\(r.output)\n\(flowLog())")
        #expect(a.waitForLine(containing: "13800000001", seconds: 20) != nil, "the first callee reached the agent: \(a.outputText)\n\(flowLog())")
        #expect(c.events(a).contains { ($0["fields"] as? [String: String])?["customer.name"] == "Ann" }, "the pop carries the list's fields: \(a.outputText)")
        // Pause at once; whatever was dialled before stays the only dials.
        r = try sup(["control", "pause", "spring"])
        #expect(r.status == 0 && r.output.contains("paused"), "\(r.output)")
        let atPause = Self.invites(trace).count
        Thread.sleep(forTimeInterval: 7)
        #expect(Self.invites(trace).count == atPause, "no dial while paused: \(Self.invites(trace))")
        r = try sup(["control", "resume", "spring"])
        #expect(r.status == 0, "\(r.output)")
        #expect(TestSupport.waitUntil(45) { (try? c.pg.query("select count(*) from campaign_numbers where done")) == "4" },
                "\((try? c.pg.query("select string_agg(number||':'||coalesce(last_outcome,'-'), ' ') from campaign_numbers")) ?? "")\n\(flowLog())")
        #expect(carrier.wait(seconds: 20) == 0, "\(carrier.outputText.suffix(1500))\n\(Self.trace(trace).suffix(3000))")
        #expect(Set(Self.invites(trace)) == ["13800000001", "13800000003", "13800000004"], "the DNC number was never dialled: \(Self.invites(trace))")
        // Progressive: every dial happened while the one agent was ready (and nothing else rang).
        var agentState = "", ringing = 0
        for line in c.flow.outputLines {
            if let r = line.range(of: "agent 1001: ") { agentState = String(line[r.upperBound...].split(separator: " ").last ?? "") }
            if line.contains("campaign spring: dialling") {
                ringing += 1
                #expect(agentState == "ready" && ringing == 1, "a dial with the agent \(agentState) and \(ringing) ringing: \(line)")
            }
            if line.contains("Established outbound to 138") || line.contains("Failed outbound to 138") { ringing = max(0, ringing - 1) }
        }
        // The agent's disposition of its last call, then the report: outcomes, and the agent's shares.
        var d = try c.appOperate("1001", ["agent", "campaign-disposition", "campaign=spring", "code=sale", "note=two-year renewal"])
        #expect(d.status == 0, "\(d.output)")
        d = try c.appOperate("1001", ["agent", "campaign-disposition", "code=not a word"])
        #expect(d.status != 0)
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select disposition||':'||note from campaign_attempts where disposition is not null")) == "sale:two-year renewal" })
        #expect(try c.pg.query("select count(*) from campaign_attempts where outcome = 'answered' and agent = '1001'") == "3")
        let report = try sup(["report", "spring"])
        #expect(report.output.contains("answered=3") && report.output.contains("dnc=1") && report.output.contains("connects=3"), "\(report.output)")
        let agentRow = report.output.split(separator: "\n").first { $0.hasPrefix("1001") }.map(String.init) ?? ""
        let cells = agentRow.split(separator: " ", omittingEmptySubsequences: true)
        #expect(cells.count == 8 && cells[1] == "3" && (Double(cells[2]) ?? 0) > 6, "1001 took 3 calls, ≥ 2.5 s each: \(report.output)")
        #expect(try c.pg.query("select count(*) from dnc_refusals where number = '13800000002'") == "1")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'outbound' and agent = '1001'")) == "3" },
                "\((try? c.pg.query("select string_agg(direction||':'||called||':'||disposition||':'||coalesce(agent,'-'), ' ') from calls")) ?? "")\n\(flowLog())")
        #expect(try c.pg.query("select state from campaigns") == "finished")
    }

    /// Predictive: the callee answers while the only agent has gone not ready: no agent within
    /// 2 s, the callee hears the campaign's message and the attempt is an abandon.
    @Test func predictiveAbandonPlaysTheMessage() throws {
        let trunkPort = TestPorts.block(8)
        let c = try AgentTests.Center(edge: edge, queues: AgentTests.trunkQueues(callerID: nil), trunkPort: trunkPort)
        defer { c.stop() }
        let (carrier, trace) = try Self.carrier(c.dir, port: trunkPort, calls: 1, ringMs: 3000, talkMs: 15000)
        defer { _ = carrier.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        _ = try c.watcher("1001", [])
        func sup(_ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate("2001", ["campaign"] + args) }
        #expect(try sup(["create", "late", "--mode", "predictive", "--queue", "sales", "--caller-id", "4000", "--window", "00:00-24:00", "--timezone", "UTC",
                         "--message", "tone:beep:1500"]).status == 0)
        let list = c.dir.appendingPathComponent("one.csv")
        try "number\n13900000009\n".write(to: list, atomically: true, encoding: .utf8)
        #expect(try sup(["import", "late", list.path]).status == 0)
        #expect(try sup(["control", "start", "late"]).status == 0)
        #expect(TestSupport.waitUntil(15) { Self.invites(trace).contains("13900000009") }, "\(c.flow.outputText.suffix(2000))")
        // While it rings, the agent leaves.
        #expect(try c.appOperate("1001", ["agent", "not-ready", "reason=meeting"]).status == 0)
        #expect(TestSupport.waitUntil(30) { (try? c.pg.query("select outcome from campaign_attempts where campaign = 'late'")) == "abandoned" },
                "\((try? c.pg.query("select string_agg(outcome, ',') from campaign_attempts")) ?? "")\n\(c.flow.outputText.suffix(2500))")
        #expect(c.flow.outputText.contains("no agent within 2 s"), "\(c.flow.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from call_events where kind = 'campaign-abandoned'")) == "1" })
        let report = try sup(["report", "late"])
        #expect(report.output.contains("abandoned=1") && report.output.contains("abandon_rate=1.0000"), "the abandon rate: \(report.output)")
    }

    /// Preview: the agent sees the record first, skips one with a reason (never dialled), dials
    /// the next; the callee answers and reaches that agent; the report counts both.
    @Test func previewSkipAndDial() throws {
        let trunkPort = TestPorts.block(8)
        let c = try AgentTests.Center(edge: edge, queues: AgentTests.trunkQueues(callerID: nil), trunkPort: trunkPort)
        defer { c.stop() }
        let (carrier, trace) = try Self.carrier(c.dir, port: trunkPort, calls: 1, ringMs: 300, talkMs: 2500)
        defer { _ = carrier.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", [])
        func sup(_ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate("2001", ["campaign"] + args) }
        func agent(_ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate("1001", ["agent"] + args + ["--json"]) }
        #expect(try sup(["create", "pv", "--mode", "preview", "--queue", "sales", "--caller-id", "4000", "--window", "00:00-24:00", "--timezone", "UTC"]).status == 0)
        let list = c.dir.appendingPathComponent("pv.csv")
        try "number,name\n13800000011,Eve\n13800000012,Fay\n".write(to: list, atomically: true, encoding: .utf8)
        #expect(try sup(["import", "pv", list.path]).status == 0)
        #expect(try sup(["control", "start", "pv"]).status == 0)
        var r = try agent(["campaign-next", "campaign=pv"])
        #expect(r.status == 0 && r.output.contains("13800000011") && r.output.contains("\"customer.name\":\"Eve\""), "\(r.output)")
        r = try agent(["campaign-skip", "campaign=pv", "record=0", "reason=wrong person"])
        #expect(r.status == 0, "\(r.output)")
        r = try agent(["campaign-next", "campaign=pv"])
        #expect(r.status == 0 && r.output.contains("13800000012"), "\(r.output)")
        #expect(try agent(["campaign-dial", "campaign=pv", "record=0"]).status != 0, "a skipped record cannot be dialled")
        r = try agent(["campaign-dial", "campaign=pv", "record=1"])
        #expect(r.status == 0, "\(r.output)")
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "the callee reached the agent who dialled: \(a.outputText)\n\(c.flow.outputText.suffix(2000))")
        #expect(carrier.wait(seconds: 20) == 0, "\(carrier.outputText.suffix(1000))")
        #expect(Self.invites(trace) == ["13800000012"], "the skipped number was never dialled: \(Self.invites(trace))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select state from campaigns")) == "finished" }, "\(c.flow.outputText.suffix(1500))")
        let report = try sup(["report", "pv"])
        #expect(report.output.contains("answered=1") && report.output.contains("skipped=1"), "\(report.output)")
        #expect(try c.pg.query("select detail from campaign_attempts where outcome = 'skipped'") == "wrong person")
    }

    static let wakeFlow = """
    flow: wake
    start: hello
    nodes:
      hello:
        type: play
        prompts: "tone:beep:1500"
        next: bye
      bye:
        type: hangup
        cause: reminder given
    """

    static let remindFlow = """
    flow: remind
    start: later
    nodes:
      later:
        type: schedule
        to: "1003"
        in_seconds: 3
        flow: wake
        next: thanks
        failure: bye
      thanks:
        type: play
        prompts: "tone:beep:300"
        next: bye
      bye:
        type: hangup
        cause: reminder set
    """

    /// Scheduled calls: one from App-Operate rings its phone at its time and runs its flow; one
    /// set by a caller's flow (the schedule node) rings another phone 3 s later; one scheduled
    /// before the Flow-Server restarts still rings; a cancelled one never does.
    @Test func scheduledCallsRingAtTheirTimeAndSurviveARestart() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n", mapping: "mappings:\n  - called: [\"4600\"]\n    flow: remind\ndefault: support\n",
                                      extraFlows: ["wake": Self.wakeFlow, "remind": Self.remindFlow])
        defer { c.stop() }
        let p2 = try c.phone("1002", answers: true, audio: try AgentTests.toneWAV(c.dir, 700))
        let p3 = try c.phone("1003", answers: true, audio: try AgentTests.toneWAV(c.dir, 800))
        func op(_ code: String, _ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate(code, args) }

        // From App-Operate, in 4 s.
        let set = Date()
        var r = try op("1001", ["schedule", "add", "1002", "--flow", "wake", "--in", "4", "--var", "reason=wake-up"])
        #expect(r.status == 0 && r.output.contains("scheduled call"), "\(r.output)")
        let cancelled = try op("2001", ["schedule", "add", "1002", "--flow", "wake", "--in", "8"])
        let cancelID = cancelled.output.split(separator: " ").dropFirst(2).first.map { String($0.dropLast()) } ?? ""
        r = try op("2001", ["schedule", "cancel", cancelID])
        #expect(r.status == 0 && r.output.contains("cancelled"), "\(cancelled.output) / \(r.output)")
        #expect(p2.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "\(p2.events)\n\(c.flow.outputText.suffix(2000))")
        let after = Date().timeIntervalSince(set)
        #expect(after >= 3.5, "rang at its time, not before: \(after) s")
        #expect(p2.wait(for: "CALL_CLOSED", seconds: 15) != nil, "the wake flow hung up after its beep")
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select string_agg(state, ',' order by id) from scheduled_calls")) == "answered,cancelled" },
                "\((try? c.pg.query("select string_agg(state||':'||coalesce(outcome,''), ',' order by id) from scheduled_calls")) ?? "")")

        // From a flow: the caller of 4600 leaves a reminder for 1003.
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440), number: "4600")
        #expect(caller.wait(seconds: 30) == 0, "\(caller.outputText.suffix(800))")
        #expect(p3.wait(for: "CALL_ESTABLISHED", seconds: 20) != nil, "\(p3.events)\n\(c.flow.outputText.suffix(2000))")
        #expect(try c.pg.query("select created_by from scheduled_calls where number = '1003'") == "flow:remind")

        // Scheduled, then the Flow-Server restarts before it is due: it still rings.
        p2.forgetEvents()
        r = try op("2001", ["schedule", "add", "1002", "--flow", "wake", "--in", "10"])
        #expect(r.status == 0, "\(r.output)")
        try c.restartFlowServer(0)
        #expect(p2.wait(for: "CALL_ESTABLISHED", seconds: 30) != nil, "the stored call rang after the restart: \(p2.events)\n\(c.flow.outputText.suffix(2000))")
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select count(*) from scheduled_calls where state = 'answered'")) == "3" })
        let list = try op("2001", ["schedule", "list"])
        #expect(list.status == 0 && list.output.contains("answered") && list.output.contains("cancelled"), "\(list.output)")
    }

    /// Some numbers answer, one is always busy (a second trunk): the busy one is tried again by
    /// the campaign's rules (`--retries busy=2/5`: twice in all, 5 s apart) and ends `busy`.
    @Test func busyNumbersAreRetriedByTheRules() throws {
        let trunkPort = TestPorts.block(8), busyPort = TestPorts.block(8)
        let queues = "queues:\n  sales: {}\nring_timeout_ms: 10000\nwrap_up_seconds: 1\noutbound:\n  routes:\n"
            + "    - name: busy\n      match: [\"139XXXXXXXX\"]\n      trunk: busyline\n    - name: mobile\n      match: [\"138XXXXXXXX\"]\n      trunk: carrier\n"
        let c = try AgentTests.Center(edge: edge, queues: queues, trunkPort: trunkPort, busyTrunkPort: busyPort)
        defer { c.stop() }
        let (carrier, _) = try Self.carrier(c.dir, port: trunkPort, calls: 1, ringMs: 300, talkMs: 2000)
        defer { _ = carrier.stop() }
        let busyTrace = c.dir.appendingPathComponent("busy.log")
        let busy = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_busy.xml"), ports: SIPp.Ports(at: busyPort),
                                  ["-m", "2", "-timeout", "90", "-timeout_error", "-trace_msg", "-message_file", busyTrace.path])
        defer { _ = busy.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        _ = try c.watcher("1001", [])
        func sup(_ args: [String]) throws -> (status: Int32, output: String) { try c.appOperate("2001", ["campaign"] + args) }
        #expect(try sup(["create", "mixed", "--mode", "progressive", "--queue", "sales", "--caller-id", "4000", "--window", "00:00-24:00", "--timezone", "UTC",
                         "--retries", "busy=2/5"]).status == 0)
        let list = c.dir.appendingPathComponent("mixed.csv")
        try "number\n13900000001\n13800000001\n".write(to: list, atomically: true, encoding: .utf8)
        #expect(try sup(["import", "mixed", list.path]).status == 0)
        #expect(try sup(["control", "start", "mixed"]).status == 0)
        #expect(TestSupport.waitUntil(40) { (try? c.pg.query("select count(*) from campaign_numbers where done")) == "2" },
                "\((try? c.pg.query("select string_agg(number||':'||attempts||':'||coalesce(last_outcome,'-'), ' ') from campaign_numbers")) ?? "")\n\(c.flow.outputText.suffix(2000))")
        #expect(busy.wait(seconds: 15) == 0, "\(busy.outputText.suffix(800))")
        #expect(Self.invites(busyTrace) == ["13900000001", "13900000001"], "two attempts at the busy number: \(Self.invites(busyTrace))")
        #expect(try c.pg.query("select string_agg(outcome, ',' order by at) from campaign_attempts where number = '13900000001'") == "busy,busy")
        #expect(try c.pg.query("select outcome from campaign_attempts where number = '13800000001'") == "answered")
        let gap = try c.pg.query("select extract(epoch from max(at) - min(at))::int from campaign_attempts where number = '13900000001'")
        #expect((Int(gap) ?? 0) >= 5, "retried after the rule's 5 s: \(gap) s")
    }
}
