import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Phones calling phones and passing calls on, with real baresip phones and SIPp callers against
/// the whole center (CT-Server, Flow-Server, PostgreSQL): extension dialling that rings every
/// contact of the user, and a blind transfer from an agent's phone during a queue call.
@Suite(.serialized) struct PhoneCallsTests {
    let edge = SIPEdgeTests()

    /// A caller dials extension 1002, which has two phones registered: both ring, the second
    /// answers, the first stops ringing (CANCEL). The caller hears ringing, not an answer, until
    /// then; it talks to the phone that answered; the phone hangs up and the caller gets the BYE.
    /// One record: disposition `extension`, the extension's leg, no flow.
    @Test func extensionCallRingsEveryContactFirstAnswerWins() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n",
                                      mapping: "default: support\nextensions: [\"1001-1003\"]\n")
        defer { c.stop() }
        let desk = try c.phone("1002", answers: false, audio: try AgentTests.toneWAV(c.dir, 700))
        let soft = try c.phone("1002", answers: true, audio: try AgentTests.toneWAV(c.dir, 900), contacts: 2)
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440), number: "1002")
        defer { _ = caller.stop() }
        #expect(desk.wait(for: "CALL_INCOMING", seconds: 15) != nil, "the desk phone rang: \(desk.events)\n\(c.ct.outputText.suffix(2000))")
        #expect(soft.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "the softphone answered: \(soft.events)\n\(c.flow.outputText.suffix(2000))")
        #expect(desk.wait(for: "CALL_CLOSED", seconds: 10) != nil, "the desk phone stopped ringing: \(desk.events)")
        #expect(c.ct.outputText.contains("(of 2 contacts)"), "\(c.ct.outputText.suffix(2000))")
        Thread.sleep(forTimeInterval: 3)
        soft.command("hangup")
        #expect(caller.wait(seconds: 20) == 0, "the caller got the BYE: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" }, "\(c.flow.outputText.suffix(2000))")
        let row = try c.pg.query("select disposition||' '||called||' '||coalesce(flow, '-')||' '||ended_by from calls")
        #expect(row == "extension 1002 - agent" || row == "extension 1002 - called", "\(row)")
        #expect(try c.pg.query("select string_agg(party||':'||role, ',' order by leg) from call_legs") .hasSuffix("1002:extension"))
        soft.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: soft.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        let heard = try WAV.samples(dec)
        #expect(ToneAnalysis.maxLevel(heard, frequency: 440) > 2000, "the softphone heard the caller")
    }

    /// An extension nobody answers: the caller gets the status (here 480 after the ring time is
    /// cut short by the phone declining) and is never answered; the record is `unanswered`.
    @Test func busyExtensionGivesTheCallerBusy() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n",
                                      mapping: "default: support\nextensions: [\"1001-1003\"]\n")
        defer { c.stop() }
        let phone = try c.phone("1003", answers: false, audio: try AgentTests.toneWAV(c.dir, 700))
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440), number: "1003")
        defer { _ = caller.stop() }
        #expect(phone.wait(for: "CALL_INCOMING", seconds: 15) != nil, "\(phone.events)")
        phone.command("hangup")   // declines the ringing call (baresip answers 486 Busy Here)
        _ = caller.wait(seconds: 20)
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" }, "\(c.flow.outputText.suffix(2000))")
        let row = try c.pg.query("select disposition||' '||coalesce(sip_code::text, '-')||' '||(answered_at is null) from calls")
        #expect(row.hasPrefix("unanswered 4") && row.hasSuffix(" true"), "\(row)\n\(c.ct.outputText.suffix(1500))")
    }

    /// During a queue call the agent's phone blind-transfers (REFER to `sip:1003@<our address>`):
    /// 1003 — a registered user, not the literal address — rings and answers, the agent's phone
    /// is released, the caller stays and talks to 1003, and the record shows the transfer.
    @Test func agentPhoneBlindTransfersAQueueCall() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales:\n    strategy: skill-level-first\nring_timeout_ms: 10000\nwrap_up_seconds: 1\n")
        defer { c.stop() }
        let agentPhone = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let target = try c.phone("1003", answers: true, audio: try AgentTests.toneWAV(c.dir, 1300))
        let a1 = try c.watcher("1001", [])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 25) != nil, "\(a1.outputText)\n\(c.flow.outputText.suffix(1500))")
        #expect(agentPhone.wait(for: "CALL_ESTABLISHED", seconds: 10) != nil)
        Thread.sleep(forTimeInterval: 1)
        agentPhone.command("transfer", "sip:1003@127.0.0.1:\(c.sip)")
        #expect(target.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "1003 answered: \(target.events)\n\(c.ct.outputText.suffix(2000))")
        #expect(agentPhone.wait(for: "CALL_CLOSED", seconds: 15) != nil, "the agent's phone is released")
        #expect(a1.waitForLine(containing: "\"kind\":\"ended\"", seconds: 10) != nil, "\(a1.outputText)")
        Thread.sleep(forTimeInterval: 3)
        #expect(caller.isRunning, "the caller is still on the call: \(caller.outputText.suffix(800))\n\(c.flow.outputText.suffix(2000))")
        target.command("hangup")
        #expect(caller.wait(seconds: 20) == 0, "the caller got the BYE when 1003 hung up: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "1" }, "\(c.flow.outputText.suffix(2000))")
        let row = try c.pg.query("select disposition||' '||agent||' '||transfers from calls")
        #expect(row == "answered 1001 1", "\(row)")
        #expect(try c.pg.query("select count(*) from call_events where kind = 'transferred' and detail->>'to' = '1003'") == "1")
        target.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: target.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        #expect(ToneAnalysis.maxLevel(try WAV.samples(dec), frequency: 440) > 2000, "1003 heard the caller")
    }

    /// Attended transfer from the agent's phone during a queue call (REFER with Replaces): the
    /// phone holds the caller, calls 1003 (an extension call), then REFERs the caller to 1003
    /// replacing that second call. The caller ends up talking to 1003, the phone's two calls are
    /// released, the agent is free, and the queue call's record shows the transfer to 1003.
    /// (The transferring phone is scripted over a real UDP socket: baresip 1.0 has no attended
    /// transfer.)
    @Test func agentPhoneAttendedTransferWithReplaces() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales:\n    strategy: skill-level-first\nring_timeout_ms: 10000\nwrap_up_seconds: 1\n",
                                      mapping: "default: support\nextensions: [\"1001-1003\"]\n")
        defer { c.stop() }
        let phone = try ScriptedPhone(user: "1001", password: "pw-1001-secret", server: c.sip)
        #expect(phone.register(), "\(phone.seen)")
        let target = try c.phone("1003", answers: true, audio: try AgentTests.toneWAV(c.dir, 1300))
        let a1 = try c.watcher("1001", [])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        var call = try #require(phone.answer(rtpPort: 40_000), "the agent's phone was rung: \(phone.seen.suffix(3))\n\(c.flow.outputText.suffix(1500))")
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 10) != nil, "\(a1.outputText)")
        #expect(phone.hold(&call, rtpPort: 40_000), "hold: \(phone.seen.suffix(2))")
        #expect(a1.waitForLine(containing: "\"kind\":\"held\"", seconds: 10) != nil, "the hold reached the ACD: \(a1.outputText)")
        let consult = try #require(phone.call("1003", rtpPort: 40_002), "the consultation call: \(phone.seen.suffix(3))\n\(c.flow.outputText.suffix(2000))")
        #expect(target.wait(for: "CALL_ESTABLISHED", seconds: 10) != nil)
        let refer = phone.referReplacing(&call, number: "1003", consult: consult)
        #expect(refer?.hasPrefix("SIP/2.0 202") == true, "\(refer ?? "no answer to REFER")\n\(c.ct.outputText.suffix(2000))")
        // Both of the phone's calls are released (BYE on each), after NOTIFY 200.
        var byes = Set<String>()
        _ = phone.next(seconds: 10) { m in
            if m.hasPrefix("BYE "), let id = ScriptedPhone.header(m, "Call-ID") { phone.respond(to: m, code: 200); byes.insert(id) }
            return byes.count == 2
        }
        #expect(byes == [call.callID, consult.callID], "\(phone.seen.suffix(4))\n\(c.ct.outputText.suffix(1500))")
        #expect(phone.seen.contains { $0.hasPrefix("NOTIFY ") && $0.contains("SIP/2.0 200") }, "NOTIFY sipfrag 200")
        #expect(a1.waitForLine(containing: "\"kind\":\"ended\"", seconds: 10) != nil, "\(a1.outputText)")
        Thread.sleep(forTimeInterval: 3)
        #expect(caller.isRunning, "the caller is on the call: \(c.flow.outputText.suffix(2000))")
        #expect(!target.events.contains { $0["type"] as? String == "CALL_CLOSED" }, "1003 is on the call")
        target.command("hangup")
        #expect(caller.wait(seconds: 20) == 0, "the caller got the BYE when 1003 hung up: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from calls")) == "2" }, "\(c.flow.outputText.suffix(2000))")
        let row = try c.pg.query("select disposition||' '||agent||' '||transfers from calls where queue = 'sales'")
        #expect(row == "answered 1001 1", "\(row)")
        #expect(try c.pg.query("select count(*) from call_events e join calls c using (call_id) where c.queue = 'sales' and e.kind = 'transferred' and e.detail->>'to' = '1003'") == "1")
        target.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: target.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        #expect(ToneAnalysis.maxLevel(try WAV.samples(dec), frequency: 440) > 2000, "1003 heard the caller")
    }
}
