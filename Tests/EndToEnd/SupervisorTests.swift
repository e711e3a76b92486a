import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Supervisors in control, over real sockets: SIPp callers streaming 440 Hz, baresip phones for
/// the agent (600 Hz) and the supervisor (900 Hz), App-Operate's `supervise` commands, a real
/// PostgreSQL. What the caller hears is read from the call's stereo recording (right channel).
@Suite(.serialized) struct SupervisorTests {
    let edge = SIPEdgeTests()

    /// The supervisor intercepts 1001's call: its phone (1003) is rung and auto-answers, the
    /// caller is bridged to it and hears the supervisor, 1001's phone is released; when the
    /// supervisor hangs up, the caller gets the BYE. The record names the agent and the supervisor.
    @Test func interceptGivesTheCallerToTheSupervisor() throws {
        let c = try AgentTests.Center(edge: edge, queues: RecordingTests.recordedSales)
        defer { c.stop() }
        let agentPhone = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let supPhone = try c.phone("1003", answers: true, audio: try AgentTests.toneWAV(c.dir, 900))
        let a = try c.watcher("1001", [])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a.outputText)")
        Thread.sleep(forTimeInterval: 3)
        let denied = try c.appOperate("1002", ["supervise", "intercept", "1001"])
        #expect(denied.status != 0 && denied.output.contains("permission denied"), "an agent cannot intercept: \(denied.output)")
        let r = try c.appOperate("2001", ["supervise", "intercept", "1001", "--extension", "1003"])
        #expect(r.status == 0 && r.output.contains("ringing your phone 1003"), "\(r.output)")
        #expect(supPhone.wait(for: "CALL_ESTABLISHED", seconds: 10) != nil, "\(supPhone.events)\n\(c.flow.outputText.suffix(1500))")
        #expect(agentPhone.wait(for: "CALL_CLOSED", seconds: 10) != nil, "the agent's phone is released: \(agentPhone.events)")
        #expect(a.waitForLine(containing: "intercepted by supervisor 2001", seconds: 10) != nil, "\(a.outputText)")
        Thread.sleep(forTimeInterval: 4)
        #expect(caller.isRunning, "the caller talks on with the supervisor")
        supPhone.command("hangup")
        #expect(caller.wait(seconds: 15) == 0, "the caller gets the BYE when the supervisor hangs up: \(caller.outputText.suffix(800))")
        #expect(TestSupport.waitUntil(20) { (try? c.pg.query("select count(*) from recordings")) == "1" }, "\(c.flow.outputText.suffix(2000))")
        #expect(try c.pg.query("select disposition||' '||agent||' '||ended_by from calls") == "answered 1001 supervisor")
        #expect(try c.pg.query("select string_agg(role||':'||party, ',' order by leg) from call_legs") == "caller:\(try c.pg.query("select caller from calls")),agent:1001,supervisor:2001")
        #expect(try c.pg.query("select detail->>'agent'||' '||(detail->>'supervisor') from call_events where kind = 'intercepted'") == "1001 2001")
        // What the caller heard: the agent's 600 Hz first, the supervisor's 900 Hz at the end.
        let file = c.dir.appendingPathComponent("recordings").appendingPathComponent(try c.pg.query("select path from recordings"))
        let wav = try RecordingTests.stereo(file)
        let first = 500 * 8..<2500 * 8, last = (wav.right.count - 3000 * 8)..<(wav.right.count - 500 * 8)
        #expect(RecordingTests.power(wav.right[first], 600) > 20 * RecordingTests.power(wav.right[first], 900), "the agent first")
        #expect(RecordingTests.power(wav.right[last], 900) > 20 * RecordingTests.power(wav.right[last], 600), "the supervisor last")
    }

    /// A forced logout of an agent on a call waits for the call; a force-release clears the call
    /// (the caller gets the BYE, the record says the supervisor ended it, with the reason); then
    /// the agent is logged out. Force-ready makes a locked agent ready.
    @Test func forceReleaseAndForceLogoutAfterTheCall() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        let phone = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", [])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a.outputText)")
        let logout = try c.appOperate("2001", ["supervise", "force-logout", "1001"])
        #expect(logout.status == 0 && logout.output.contains("logged out when it ends"), "\(logout.output)")
        Thread.sleep(forTimeInterval: 2)
        let status = try c.appOperate("1001", ["agent", "status"])
        #expect(status.output.contains("talking"), "still on the call: \(status.output)")
        #expect(caller.isRunning)
        let release = try c.appOperate("2001", ["supervise", "force-release", "1001", "--reason", "abusive caller"])
        #expect(release.status == 0, "\(release.output)")
        #expect(caller.wait(seconds: 15) == 0, "the caller gets the BYE: \(caller.outputText.suffix(800))")
        #expect(phone.wait(for: "CALL_CLOSED", seconds: 10) != nil)
        #expect(a.waitForLine(containing: "\"state\":\"logged-out\"", seconds: 10) != nil, "logged out after the call: \(a.outputText)")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select ended_by from calls")) == "supervisor" }, "\(c.flow.outputText.suffix(2000))")
        #expect(try c.pg.query("select detail->>'reason' from call_events where kind = 'force-released'") == "abusive caller")
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select count(*) from agent_states where agent = '1001' and state = 'logged-out'")) == "1" })

        // Force-ready over a lock password (1001 logs in again: a watcher keeps the session).
        _ = a.stop()
        let again = try c.watcher("1001", [])
        #expect(again.outputText.contains("\"state\":\"ready\""))
        let lock = try c.appOperate("1001", ["agent", "not-ready", "reason=lunch", "lock=pw1"])
        #expect(lock.status == 0, "\(lock.output)")
        let mine = try c.appOperate("1001", ["agent", "ready"])
        #expect(mine.status != 0 && mine.output.contains("lock password"), "locked: \(mine.output)")
        let ready = try c.appOperate("2001", ["supervise", "force-ready", "1001"])
        #expect(ready.status == 0 && ready.output.contains("1001: ready"), "\(ready.output)")
        #expect(again.waitForLine(containing: "made ready by supervisor 2001", seconds: 5) != nil, "\(again.outputText)")
    }

    /// Two Flow-Servers: agent 1001 is logged in to the second, the supervisor to the first. The
    /// supervisor listens (the command goes through the CT-Server to the agent's Flow-Server),
    /// hears both sides, stops, then releases the call — all from the first Flow-Server.
    @Test func supervisorOnOneFlowServerListensToAnAgentOnAnother() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n", flowServers: 2)
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let sup = try c.phone("1003", answers: true, audio: try AgentTests.toneWAV(c.dir, 900))
        let a = try c.watcher("1001", [], server: 1)
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select flow_server from agent_presence where agent = '1001'")) == "flow-acd2" })
        Thread.sleep(forTimeInterval: 4)   // the first Flow-Server reads the presence (every 3 s)
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 25) != nil, "\(a.outputText)")
        let listen = try c.appOperate("2001", ["supervise", "listen", "1001", "--extension", "1003"])
        #expect(listen.status == 0 && listen.output.contains("ringing your phone 1003"), "\(listen.output)\n\(c.flows[0].outputText.suffix(1500))")
        #expect(c.flows[0].outputText.contains("listen 1001 relayed to flow-acd2"), "\(c.flows[0].outputText.suffix(1500))")
        #expect(sup.wait(for: "CALL_ESTABLISHED", seconds: 10) != nil, "\(sup.events)\n\(c.flows[1].outputText.suffix(1500))")
        Thread.sleep(forTimeInterval: 4)
        let stop = try c.appOperate("2001", ["supervise", "stop-monitor"])
        #expect(stop.status == 0 && stop.output.contains("monitoring stopped"), "\(stop.output)")
        #expect(sup.wait(for: "CALL_CLOSED", seconds: 10) != nil, "\(sup.events)")
        #expect(caller.isRunning, "the call goes on")
        // The supervisor records the call on the other Flow-Server, then releases it.
        let record = try c.appOperate("2001", ["agent", "record", "agent=1001", "do=start"])
        #expect(record.status == 0 && record.output.contains("recording of 1001's call: recording"), "\(record.output)")
        Thread.sleep(forTimeInterval: 2)
        let release = try c.appOperate("2001", ["supervise", "force-release", "1001"])
        #expect(release.status == 0, "\(release.output)")
        #expect(caller.wait(seconds: 15) == 0, "\(caller.outputText.suffix(800))")
        #expect(TestSupport.waitUntil(20) { (try? c.pg.query("select started_by from recordings")) == "2001" },
                "\((try? c.pg.query("select count(*) from recordings")) ?? "")\n\(c.flows[1].outputText.suffix(1500))")
        sup.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: sup.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        let heard = try WAV.samples(dec)
        let mid = heard.count > 16000 ? Array(heard[(heard.count / 2 - 8000)..<(heard.count / 2 + 8000)]) : heard
        let caller440 = ToneAnalysis.level(mid, frequency: 440), agent600 = ToneAnalysis.level(mid, frequency: 600)
        #expect(caller440 > 2000 && agent600 > 1000, "the supervisor on flow-acd heard both sides of flow-acd2's call: 440 Hz \(caller440), 600 Hz \(agent600)")
        let unknown = try c.appOperate("2001", ["supervise", "listen", "1999", "--extension", "1003"])
        #expect(unknown.status != 0 && unknown.output.contains("not logged in"), "\(unknown.output)")
    }
}
