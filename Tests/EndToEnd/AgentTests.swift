import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The ACD end to end: a SIPp caller goes through a flow into a queue; agents logged in through
/// App-Operate with baresip phones registered (digest auth) to the CT-Server take the call.
@Suite(.serialized) struct AgentTests {
    let edge = SIPEdgeTests()
    let media = MediaTests()

    static let flow = """
    flow: support
    start: hello
    nodes:
      hello:
        type: play
        prompts: "tts:en:Please hold for an agent."
        next: topic
      topic:
        type: set
        values: {topic: billing}
        next: wait
      wait:
        type: queue
        queue: sales
        max_wait_seconds: 60
        timeout: sorry
      sorry:
        type: play
        prompts: "tts:en:Nobody could take your call."
        next: bye
      bye:
        type: hangup
        cause: queue timeout
    """

    static func tone(_ dir: URL, _ hz: Int, seconds: Int = 30) throws -> URL {
        let u = dir.appendingPathComponent("tone\(hz).ul")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", u.path, "synth", "\(seconds)", "sine", "\(hz)", "vol", "0.5"])
        return u
    }

    static func toneWAV(_ dir: URL, _ hz: Int) throws -> URL {
        let u = dir.appendingPathComponent("phone\(hz).wav")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", u.path, "synth", "60", "sine", "\(hz)", "vol", "0.3"])
        return u
    }

    /// Skill-level-first sends the call to 1001 (sales 5); the pop carries the caller and the
    /// flow's variable; 1001's phone answers and hears the caller; 1001 transfers to 1002, who
    /// hangs up; the caller gets the BYE; the record names both agents and one transfer.
    @Test func callReachesAgentAndIsTransferred() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales:\n    strategy: skill-level-first\nring_timeout_ms: 10000\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        let p1 = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        _ = try c.phone("1002", answers: true, audio: try Self.toneWAV(c.dir, 900))
        let a1 = try c.watcher("1001", ["--transfer-to", "agent:1002", "--transfer-after", "4"])
        let a2 = try c.watcher("1002", ["--hangup-after", "3"])
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"offered\"", seconds: 20) != nil, "\(a1.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        let pop = c.events(a1).first { $0["kind"] as? String == "offered" }?["fields"] as? [String: String] ?? [:]
        #expect(pop["caller"]?.hasPrefix("caller") == true, "\(pop)")
        #expect(pop["var.topic"] == "billing", "\(pop)")
        #expect(pop["queue"] == "sales")
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 15) != nil, "\(a1.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        #expect(a1.waitForLine(containing: "\"action\":\"transfer\"", seconds: 15) != nil, "\(a1.outputText)")
        #expect(a2.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a2.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        #expect(a2.waitForLine(containing: "\"action\":\"hangup\"", seconds: 15) != nil, "\(a2.outputText)")
        #expect(caller.wait(seconds: 30) == 0, "the caller got the BYE: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" }, "\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        let row = try c.pg.query("select disposition||' '||agent||' '||transfers||' '||queue from calls")
        #expect(row == "answered 1002 1 sales", "\(row)")
        try? (c.ct.outputText + "\n=====\n" + c.flow.outputText).write(toFile: "/tmp/agent-test.log", atomically: true, encoding: .utf8)
        #expect(try c.pg.query("select string_agg(party, ',' order by leg) from call_legs where role = 'agent'") == "1001,1002")
        #expect(try c.pg.query("select string_agg(detail->>'agent', ',' order by at) from queue_events where kind = 'offered'") == "1001,1002")
        // The agent's phone heard the caller (SIPp's 440 Hz tone) while it was connected.
        p1.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: p1.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        let heard = try WAV.samples(dec)
        let loud = heard.filter { abs(Int($0)) > 4000 }.count
        #expect(loud > 8000 * 1, "agent 1001 heard \(loud) loud samples of \(heard.count)")
    }

    /// Ring no answer: 1001's phone rings and nobody lifts it; after the ring timeout the call
    /// goes to 1002 and 1001 becomes not ready (reason "ring no answer").
    @Test func ringNoAnswerGoesToTheNextAgent() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales:\n    strategy: skill-level-first\nring_timeout_ms: 4000\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        _ = try c.phone("1001", answers: false, audio: try Self.toneWAV(c.dir, 600))
        _ = try c.phone("1002", answers: true, audio: try Self.toneWAV(c.dir, 900))
        let a1 = try c.watcher("1001", [])
        let a2 = try c.watcher("1002", ["--hangup-after", "2"])
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"offered\"", seconds: 20) != nil, "\(a1.outputText)")
        #expect(a1.waitForLine(containing: "ring no answer", seconds: 15) != nil, "\(a1.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        #expect(c.events(a1).last { $0["kind"] as? String == "state" }?["state"] as? String == "not-ready")
        #expect(a2.waitForLine(containing: "\"kind\":\"connected\"", seconds: 15) != nil, "\(a2.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        #expect(caller.wait(seconds: 30) == 0, "\(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" })
        #expect(try c.pg.query("select disposition||' '||agent from calls") == "answered 1002")
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select count(*) from agent_states where agent = '1001' and state = 'ringing'")) == "1" })
        #expect(try c.pg.query("select count(*) from queue_events where kind = 'requeued' and detail->>'reason' = 'ring no answer'") == "1")
    }

    /// Roles: an agent cannot run supervisor or admin commands; a supervisor can see the board;
    /// a wrong password is refused; nobody can do anything without logging in.
    @Test func rolesAreChecked() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales: {}\n")
        defer { c.stop() }
        let board = try c.appOperate("1001", ["agent", "board"])
        #expect(board.status != 0 && board.output.contains("permission denied"), "\(board.output)")
        let report = try c.appOperate("1001", ["report", "--utc"])
        #expect(report.status != 0 && report.output.contains("permission denied"), "\(report.output)")
        let flowFile = c.dir.appendingPathComponent("flows/support.yaml").path
        let publish = try c.appOperate("2001", ["flow", "publish", flowFile])
        #expect(publish.status != 0 && publish.output.contains("needs the admin role"), "\(publish.output)")
        let adminPublish = try c.appOperate("3001", ["flow", "publish", flowFile])
        #expect(adminPublish.status == 0, "\(adminPublish.output)")
        let supBoard = try c.appOperate("2001", ["agent", "board", "--json"])
        #expect(supBoard.status == 0 && supBoard.output.contains("\"waiting\""), "\(supBoard.output)")
        let bad = try ChildProcess.run("app-operate", ["agent", "status", "--connect", c.app, "--code", "1001"],
                                       environment: c.env.merging(["HOTLINE_OPERATOR_PASSWORD": "wrong-password"]) { $1 }, seconds: 30)
        #expect(bad.status != 0 && bad.output.contains("wrong work code or password"), "\(bad.output)")
        let anonymous = try ChildProcess.run("app-operate", ["customer", "find", "--phone", "1", "--connect", c.app], environment: c.env, seconds: 30)
        #expect(anonymous.status != 0 && anonymous.output.contains("log in first"), "\(anonymous.output)")
        // The clear password is nowhere in the database.
        #expect(try c.pg.query("select count(*) from users where password_hash like '%secret-1001%'") == "0")
    }
}

extension AgentTests {
    /// The interactive console in tmux (send-keys, capture-pane): the password is asked for
    /// without echo; r goes ready; the pop shows the offered caller; a answers (console mode: the
    /// phone answers by itself); h hangs up; l logs out and leaves.
    @Test func agentConsoleInTmux() throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "tmux must be installed (deploy/test installs it)")
        let c = try Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let socket = "hotline-test-\(getpid())"
        func tmux(_ args: [String]) throws -> String { try ChildProcess.run("/usr/bin/tmux", ["-L", socket] + args, seconds: 10).output }
        let exe = TestSupport.binDirectory.appendingPathComponent("app-operate").path
        _ = try tmux(["new-session", "-d", "-s", "agent", "-x", "150", "-y", "40",
                      "env HOTLINE_APP_LINK_SECRET=e2e-app-secret \(exe) agent --connect \(c.app) --code 1001 --mode console; sleep 30"])
        defer { _ = try? tmux(["kill-server"]) }
        func screen() -> String { (try? tmux(["capture-pane", "-p", "-t", "agent"])) ?? "" }
        func waitScreen(_ text: String, _ seconds: Double = 15) -> Bool { TestSupport.waitUntil(seconds) { screen().contains(text) } }
        #expect(waitScreen("password for 1001"), "\(screen())")
        _ = try tmux(["send-keys", "-t", "agent", "secret-1001", "Enter"])
        #expect(waitScreen("State: NOT-READY (login)"), "\(screen())")
        #expect(!screen().contains("secret-1001"), "the password was echoed: \(screen())")
        #expect(screen().contains("[r]eady"), "the help line: \(screen())")
        _ = try tmux(["send-keys", "-t", "agent", "r"])
        #expect(waitScreen("State: READY"), "\(screen())")
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(waitScreen("press a to answer", 20), "\(screen())")
        #expect(screen().contains("var.topic=billing") && screen().contains("caller1"), "\(screen())")
        _ = try tmux(["send-keys", "-t", "agent", "a"])
        #expect(waitScreen("State: TALKING"), "\(screen())\n\(c.flow.outputText.suffix(1500))")
        #expect(waitScreen("connected to caller1"), "\(screen())")
        Thread.sleep(forTimeInterval: 1)
        _ = try tmux(["send-keys", "-t", "agent", "h"])
        #expect(waitScreen("call ended"), "\(screen())")
        #expect(caller.wait(seconds: 20) == 0, "the caller got the BYE: \(caller.outputText.suffix(800))")
        #expect(waitScreen("State: READY", 10), "\(screen())")
        _ = try tmux(["send-keys", "-t", "agent", "l"])
        #expect(TestSupport.waitUntil(10) { c.flow.outputText.contains("agent 1001: ready → logged-out") }, "\(c.flow.outputText.suffix(800))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select disposition||' '||agent from calls")) == "answered 1001" })
    }
}

extension AgentTests {
    /// Two Flow-Servers behind one CT-Server, the only agent logged in on the second: calls that
    /// land on the first are handed over (they resume at their queue node there) and reach the
    /// agent. Then the Flow-Server that owns a call bridged to the agent is killed (SIGKILL): the
    /// call keeps talking, the other Flow-Server adopts it, and when the agent hangs up the caller
    /// is hung up and the call's record is written — nothing is lost.
    @Test func callsReachAgentsOnAnotherFlowServerAndSurviveItsDeath() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n", flowServers: 2)
        defer { c.stop() }
        let phone = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", ["--hangup-after", "3"], server: 1)
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select flow_server from agent_presence where agent = '1001'")) == "flow-acd2" })
        Thread.sleep(forTimeInterval: 4)   // the first Flow-Server reads the presence (every 3 s)
        let tone = try Self.tone(c.dir, 440)   // one file: SIPp reads it while the second caller starts
        let callers = try (0..<2).map { _ in try c.caller(audio: tone) }
        defer { callers.forEach { _ = $0.stop() } }
        for (i, caller) in callers.enumerated() {
            let status = caller.wait(seconds: 40)
            if status != 0 { try? (c.ct.outputText + "\n=====\n" + c.flows.map(\.outputText).joined(separator: "\n=====\n") + "\n=====\n" + a.outputText + caller.outputText).write(toFile: "/tmp/two-flows.log", atomically: true, encoding: .utf8) }
            #expect(status == 0, "caller \(i): \(caller.outputText.suffix(800))\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        }
        #expect(c.flows[0].outputText.contains("handing over to flow-acd2"), "\(c.flows[0].outputText.suffix(2000))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where disposition = 'answered' and agent = '1001'")) == "2" },
                "\((try? c.pg.query("select string_agg(disposition||':'||coalesce(agent,'-')||':'||flow_server, ' ') from calls")) ?? "")")
        #expect(try c.pg.query("select count(*) from call_events where kind = 'adopted'") == "1")
        #expect(a.outputLines.filter { $0.contains("\"kind\":\"connected\"") }.count == 2)
        _ = a.stop()

        // The agent's call is owned by flow-acd2; kill it while the call is bridged.
        let a2 = try c.watcher("1001", [], server: 1)
        let caller = try c.caller(audio: tone)
        defer { _ = caller.stop() }
        #expect(a2.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a2.outputText)")
        Thread.sleep(forTimeInterval: 1)
        c.flows[1].signal(SIGKILL)
        #expect(c.ct.waitForLine(containing: "channels adopted by flow-acd") != nil, "\(c.ct.outputText.suffix(1500))")
        Thread.sleep(forTimeInterval: 3)
        #expect(caller.isRunning, "the bridged call was not dropped")
        phone.command("hangup")
        #expect(caller.wait(seconds: 15) == 0, "the caller got the BYE after the agent hung up: \(caller.outputText.suffix(800))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "3" }, "\(c.flows[0].outputText.suffix(2000))")
        let last = try c.pg.query("select disposition||' '||flow_server||' '||coalesce((select string_agg(kind, ',' order by seq) from call_events e where e.call_id = calls.call_id), '') from calls order by arrived_at desc limit 1")
        #expect(last.hasPrefix("answered flow-acd ") && last.contains("adopted"), "\(last)")
        #expect(try c.pg.query("select agent from calls order by arrived_at desc limit 1") == "1001", "the adopter's record names the agent")
    }
}

extension AgentTests {
    /// A supervisor listens to an agent's call from App-Operate: the supervisor's phone (1003)
    /// is rung with auto-answer and tapped into the bridge; it hears the caller's tone; when the
    /// agent hangs up, the supervisor's leg is hung up too. An agent cannot monitor.
    @Test func supervisorListensToAnAgentsCall() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let sup = try c.phone("1003", answers: true, audio: try Self.toneWAV(c.dir, 900))
        let a = try c.watcher("1001", [])
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a.outputText)")
        let denied = try c.appOperate("1001", ["agent", "monitor", "agent=1001"])
        #expect(denied.status != 0 && denied.output.contains("permission denied"), "\(denied.output)")
        let listen = try c.appOperate("2001", ["agent", "monitor", "agent=1001", "mode=listen", "extension=1003"])
        #expect(listen.status == 0 && listen.output.contains("ringing your phone 1003"), "\(listen.output)")
        #expect(sup.wait(for: "CALL_ESTABLISHED", seconds: 10) != nil, "\(sup.events)\n\(c.flow.outputText.suffix(1500))")
        Thread.sleep(forTimeInterval: 4)
        let hang = try c.appOperate("1001", ["agent", "hangup"])
        #expect(hang.status == 0, "\(hang.output)")
        #expect(sup.wait(for: "CALL_CLOSED", seconds: 10) != nil, "the supervisor's leg ends with the call: \(sup.events)")
        #expect(caller.wait(seconds: 15) == 0, "\(caller.outputText.suffix(800))")
        sup.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: sup.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        let heard = try WAV.samples(dec)
        // Both sides of the call: the caller's 440 Hz and the agent's 600 Hz (not its own 900 Hz).
        let mid = heard.count > 16000 ? Array(heard[(heard.count / 2 - 8000)..<(heard.count / 2 + 8000)]) : heard
        let caller440 = ToneAnalysis.level(mid, frequency: 440), agent600 = ToneAnalysis.level(mid, frequency: 600)
        let own900 = ToneAnalysis.level(mid, frequency: 900)
        #expect(caller440 > 2000 && agent600 > 1000 && own900 < 500, "supervisor heard 440 Hz \(caller440), 600 Hz \(agent600), 900 Hz \(own900)")
    }
}

extension AgentTests {
    /// The agent's App-Operate dies (SIGKILL) during a call: the Flow-Server notices, the call
    /// goes on; a one-shot command joins the session (still talking) and hangs up; with no
    /// App-Operate connected, the agent is logged out after the grace period.
    @Test func droppedAppOperateKeepsTheCallThenLogsOut() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\ndisconnect_grace_seconds: 3\n")
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", [])
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a.outputText)")
        a.signal(SIGKILL)
        #expect(c.flow.waitForLine(containing: "agent 1001: App-Operate connection lost") != nil, "\(c.flow.outputText.suffix(1000))")
        Thread.sleep(forTimeInterval: 4)   // longer than the grace: a call in progress is never cut
        #expect(caller.isRunning, "the call goes on without App-Operate")
        let status = try c.appOperate("1001", ["agent", "status", "--json"])
        #expect(status.status == 0 && status.output.contains("\"state\":\"talking\""), "\(status.output)")
        let hang = try c.appOperate("1001", ["agent", "hangup"])
        #expect(hang.status == 0, "\(hang.output)")
        #expect(caller.wait(seconds: 15) == 0, "\(caller.outputText.suffix(800))")
        #expect(c.flow.waitForLine(containing: "agent 1001: not-ready → logged-out", seconds: 15) != nil, "\(c.flow.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select count(*) from agent_presence where agent = '1001'")) == "0" })
    }
}

extension AgentTests {
    /// A carrier behind the CT-Server's trunk `carrier` (SIPp answering and echoing media),
    /// recording the messages it gets: it waits for the BYE (`talkMs` nil) or hangs up itself.
    func carrier(_ dir: URL, port: Int, calls: Int, talkMs: Int? = nil) throws -> (ChildProcess, trace: URL) {
        let trace = dir.appendingPathComponent("carrier-\(port)-\(UUID().uuidString.prefix(4)).log")
        let scenario = talkMs == nil ? "sipp/uas_carrier.xml" : "sipp/uas_carrier_hangup.xml"
        let p = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent(scenario), ports: SIPp.Ports(at: port),
                               ["-rtp_echo", "-m", "\(calls)", "-timeout", "90", "-timeout_error", "-trace_msg", "-message_file", trace.path]
                                + (talkMs.map { ["-d", "\($0)"] } ?? []))
        return (p, trace)
    }

    /// Calls that reach out of the ACD: an agent calls another agent (the second phone rings,
    /// both hear each other, the record says so), then calls a number — dialled through the
    /// trunk the route table names, with its caller ID; a number no route takes is refused.
    @Test func agentCallsAnotherAgentAndANumberThroughTheTrunk() throws {
        let trunkPort = TestPorts.block(8)
        let c = try Center(edge: edge, queues: Self.trunkQueues(callerID: "4000"), trunkPort: trunkPort)
        defer { c.stop() }
        let (carrier, trace) = try carrier(c.dir, port: trunkPort, calls: 1)
        defer { _ = carrier.stop() }
        let p1 = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let p2 = try c.phone("1002", answers: true, audio: try Self.toneWAV(c.dir, 900))
        let a1 = try c.watcher("1001", [])
        let a2 = try c.watcher("1002", [])
        let flowLog = { c.flows.map { $0.outputText.suffix(2500) }.joined(separator: "\n----\n") }

        // 1. Internal: 1001 calls agent 1002.
        let call = try c.appOperate("1001", ["agent", "call", "to=agent:1002"])
        #expect(call.status == 0, "\(call.output)")
        #expect(c.ct.waitForLine(containing: "originating to 1002", seconds: 15) != nil, "1002's phone is rung: \(c.ct.outputText.suffix(2000))\n\(flowLog())")
        Thread.sleep(forTimeInterval: 4)   // they talk
        #expect(try c.appOperate("1001", ["agent", "hangup"]).status == 0)
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'outbound'")) == "1" }, "\(flowLog())")
        #expect(try c.pg.query("select caller||'>'||called||' '||agent||' '||disposition from calls where direction = 'outbound'") == "1001>1002 1001 answered")
        _ = a2

        // 2. External: 1001 calls a mobile number; it goes out through the trunk with the route's caller ID.
        Thread.sleep(forTimeInterval: 1.5)   // wrap-up
        let out = try c.appOperate("1001", ["agent", "call", "to=13800138000"])
        #expect(out.status == 0, "\(out.output)")
        #expect(c.ct.waitForLine(containing: "originating to 13800138000 via", seconds: 15) != nil, "\(c.ct.outputText.suffix(2000))\n\(flowLog())")
        #expect(TestSupport.waitUntil(15) { ((try? String(contentsOf: trace, encoding: .utf8)) ?? "").contains("INVITE sip:13800138000@") }, "the carrier got the INVITE")
        Thread.sleep(forTimeInterval: 2)
        #expect(try c.appOperate("1001", ["agent", "hangup"]).status == 0)
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'outbound' and called = '13800138000'")) == "1" }, "\(flowLog())")
        let invite = (try? String(contentsOf: trace, encoding: .utf8)) ?? ""
        #expect(invite.contains("From: <sip:4000@") || invite.contains("From: \"4000\"") || invite.contains("sip:4000@"), "the route's caller ID: \(invite.prefix(1500))")

        // 3. A number no route takes is refused, with the reason.
        Thread.sleep(forTimeInterval: 1.5)
        let refused = try c.appOperate("1001", ["agent", "call", "to=0044207946000"])
        #expect(refused.status != 0 && refused.output.contains("no outbound route for 0044207946000"), "\(refused.output)")
        _ = a1

        // Both agents heard each other on the internal call: 1001 the 900 Hz of 1002's phone,
        // 1002 the 600 Hz of 1001's (the loudest second of each call's recording).
        for (phone, hz, other) in [(p1, 900, "1002"), (p2, 600, "1001")] {
            phone.stop()
            let files = (try? FileManager.default.contentsOfDirectory(at: phone.recordings, includingPropertiesForKeys: nil)) ?? []
            var best = 0.0
            for dec in files where dec.lastPathComponent.hasSuffix("-dec.wav") {
                let s = try WAV.samples(dec)
                for start in stride(from: 0, to: max(0, s.count - 8000), by: 4000) {
                    best = max(best, ToneAnalysis.level(s[start..<start + 8000], frequency: Double(hz)))
                }
            }
            #expect(best > 1000, "\(other)'s \(hz) Hz tone heard at level \(best) (\(files.map(\.lastPathComponent)))")
        }
    }

    /// Consultation, then completion: a caller reaches 1001; 1001 consults agent 1002 (the
    /// caller hears music, 1002's phone rings and answers), then completes the transfer; the
    /// caller talks to 1002, who hangs up; the record names both agents and one transfer.
    @Test func consultThenComplete() throws {
        let c = try Center(edge: edge, queues: "queues:\n  sales:\n    strategy: skill-level-first\nring_timeout_ms: 10000\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let p2 = try c.phone("1002", answers: true, audio: try Self.toneWAV(c.dir, 900))
        let a1 = try c.watcher("1001", [])
        let a2 = try c.watcher("1002", [])
        let flowLog = { c.flows.map { $0.outputText.suffix(2500) }.joined(separator: "\n----\n") }
        let caller = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a1.outputText)\n\(flowLog())")
        let consult = try c.appOperate("1001", ["agent", "consult", "to=agent:1002"])
        #expect(consult.status == 0, "\(consult.output)")
        #expect(a1.waitForLine(containing: "\"state\":\"connected\"", seconds: 15) != nil, "the consultation connects: \(a1.outputText)\n\(flowLog())")
        let status = try c.appOperate("1001", ["agent", "status", "--json"])
        #expect(status.output.contains("agent:1002 (connected)"), "\(status.output)")
        let complete = try c.appOperate("1001", ["agent", "complete"])
        #expect(complete.status == 0, "\(complete.output)")
        #expect(a2.waitForLine(containing: "\"transferred_by\":\"1001\"", seconds: 10) != nil, "\(a2.outputText)")
        Thread.sleep(forTimeInterval: 3)   // the caller talks to 1002
        #expect(try c.appOperate("1002", ["agent", "hangup"]).status == 0)
        #expect(caller.wait(seconds: 30) == 0, "the caller got the BYE: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" }, "\(flowLog())")
        #expect(try c.pg.query("select disposition||' '||agent||' '||transfers from calls") == "answered 1002 1")
        #expect(try c.pg.query("select string_agg(party, ',' order by leg) from call_legs where role = 'agent'") == "1001,1002")
        #expect(try c.pg.query("select count(*) from queue_events where kind = 'transferred' and detail->>'attended' = 'yes'") == "1")
        // 1002 heard the caller's 440 Hz after the completion.
        p2.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: p2.recordings, includingPropertiesForKeys: nil)) ?? []
        var best = 0.0
        for dec in files where dec.lastPathComponent.hasSuffix("-dec.wav") {
            let s = try WAV.samples(dec)
            for start in stride(from: 0, to: max(0, s.count - 8000), by: 4000) { best = max(best, ToneAnalysis.level(s[start..<start + 8000], frequency: 440)) }
        }
        #expect(best > 1000, "1002 heard the caller at level \(best)")
    }

    /// queues.yaml for the trunk tests: queue sales, and mobile numbers through trunk `carrier`.
    static func trunkQueues(callerID: String?) -> String {
        "queues:\n  sales: {}\nring_timeout_ms: 10000\nwrap_up_seconds: 1\noutbound:\n  routes:\n    - name: mobile\n"
            + "      match: [\"1[3-9]XXXXXXXXX\"]\n      trunk: carrier\n" + (callerID.map { "      caller_id: \"\($0)\"\n" } ?? "")
    }

    /// A carrier that answers one call and hangs up by itself after `talkMs`.
    func hangingUpCarrier(_ dir: URL, port: Int, talkMs: Int) throws -> (ChildProcess, trace: URL) {
        try carrier(dir, port: port, calls: 1, talkMs: talkMs)
    }

    /// Numbers reached through the trunk from the ACD: a caller blind-transferred to a number
    /// talks to it there (the carrier hangs up, the caller gets the BYE); a consultation of a
    /// number becomes a three-way call, the outside party leaves and the agent and caller talk
    /// on; a call-back request rings the agent, then the customer through the trunk.
    @Test func transferThreeWayAndCallbackThroughTheTrunk() throws {
        let trunkPort = TestPorts.block(8)
        let c = try Center(edge: edge, queues: Self.trunkQueues(callerID: nil), trunkPort: trunkPort)
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try Self.toneWAV(c.dir, 600))
        let a1 = try c.watcher("1001", [])
        let flowLog = { c.flows.map { $0.outputText.suffix(3000) }.joined(separator: "\n----\n") }
        func trace(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

        // 1. Blind transfer to a number.
        let (carrier1, trace1) = try hangingUpCarrier(c.dir, port: trunkPort, talkMs: 3000)
        defer { _ = carrier1.stop() }
        let caller1 = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller1.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a1.outputText)\n\(flowLog())")
        let transfer = try c.appOperate("1001", ["agent", "transfer", "to=13900139000"])
        #expect(transfer.status == 0, "\(transfer.output)")
        #expect(TestSupport.waitUntil(15) { trace(trace1).contains("INVITE sip:13900139000@") }, "the carrier got the transferred call: \(flowLog())")
        #expect(caller1.wait(seconds: 30) == 0, "the caller talked to the number and got its BYE: \(caller1.outputText.suffix(1500))\n\(flowLog())")
        #expect(carrier1.wait(seconds: 15) == 0, "\(trace(trace1).suffix(3000))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'inbound'")) == "1" }, "\(flowLog())")
        #expect(try c.pg.query("select agent||' '||transfers from calls where direction = 'inbound'") == "1001 1")
        #expect(try c.pg.query("select count(*) from queue_events where kind = 'transferred' and detail->>'to' = '13900139000'") == "1")

        // 2. Consult a number, three-way, the outside party leaves, the agent hangs up.
        Thread.sleep(forTimeInterval: 1.5)   // wrap-up
        let (carrier2, trace2) = try hangingUpCarrier(c.dir, port: trunkPort, talkMs: 5000)
        defer { _ = carrier2.stop() }
        let caller2 = try c.caller(audio: try Self.tone(c.dir, 440))
        defer { _ = caller2.stop() }
        #expect(TestSupport.waitUntil(20) { a1.outputLines.filter { $0.contains("\"kind\":\"connected\"") }.count == 2 }, "\(a1.outputText)\n\(flowLog())")
        let consult = try c.appOperate("1001", ["agent", "consult", "to=13800138000"])
        #expect(consult.status == 0, "\(consult.output)")
        #expect(TestSupport.waitUntil(15) { trace(trace2).contains("INVITE sip:13800138000@") }, "\(flowLog())")
        #expect(TestSupport.waitUntil(10) { c.events(a1).contains { ($0["fields"] as? [String: String])?["state"] == "connected" } }, "\(a1.outputText)")
        let conf = try c.appOperate("1001", ["agent", "conference"])
        #expect(conf.status == 0, "\(conf.output)")
        #expect(carrier2.wait(seconds: 20) == 0, "the outside party hung up: \(carrier2.outputText.suffix(1500))")
        let status = try c.appOperate("1001", ["agent", "status"])
        #expect(status.output.contains("talking"), "the agent and the caller talk on: \(status.output)")
        #expect(try c.appOperate("1001", ["agent", "hangup"]).status == 0)
        #expect(caller2.wait(seconds: 20) == 0, "\(caller2.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'inbound'")) == "2" }, "\(flowLog())")
        #expect(try c.pg.query("select count(*) from call_events where kind = 'conferenced'") == "1")

        // 3. A call-back request: the caller leaves a number and hangs up; the agent's phone rings,
        //    then the customer's number through the trunk; the customer hangs up.
        Thread.sleep(forTimeInterval: 1.5)
        try """
            flow: callback
            start: note
            nodes:
              note:
                type: set
                values: {cb: "13700137000"}
                next: ask
              ask:
                type: callback
                queue: sales
                number: cb
                next: thanks
                failure: thanks
              thanks:
                type: play
                prompts: "tts:en:We will call you back."
                next: bye
              bye:
                type: hangup
                cause: callback registered
            """.write(to: c.dir.appendingPathComponent("flows/callback.yaml"), atomically: true, encoding: .utf8)
        try "mappings:\n  - called: [\"4500\"]\n    flow: callback\ndefault: support\n".write(to: c.dir.appendingPathComponent("flows/mapping.yaml"), atomically: true, encoding: .utf8)
        #expect(c.flow.waitForLine(containing: "flow callback v1 loaded", seconds: 20) != nil, "\(flowLog())")
        #expect(c.flow.waitForLine(containing: "mapping table v2 loaded", seconds: 20) != nil, "\(flowLog())")
        let (carrier3, trace3) = try hangingUpCarrier(c.dir, port: trunkPort, talkMs: 3000)
        defer { _ = carrier3.stop() }
        let caller3 = try c.caller(audio: try Self.tone(c.dir, 440), number: "4500")
        defer { _ = caller3.stop() }
        #expect(caller3.wait(seconds: 30) == 0, "the caller left the request and got the BYE: \(caller3.outputText.suffix(1500))\n\(flowLog())")
        #expect(TestSupport.waitUntil(20) { trace(trace3).contains("INVITE sip:13700137000@") }, "the customer was called through the trunk: \(flowLog())")
        #expect(carrier3.wait(seconds: 20) == 0, "\(carrier3.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls where direction = 'outbound' and called = '13700137000'")) == "1" }, "\(flowLog())")
        #expect(try c.pg.query("select agent from calls where direction = 'outbound' and called = '13700137000'") == "1001")
    }
}
