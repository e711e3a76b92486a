import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Recording by policy, over real sockets: SIPp callers streaming a tone, baresip agents'
/// phones streaming another, a real PostgreSQL catalogue, and App-Operate's commands.
@Suite(.serialized) struct RecordingTests {
    let edge = SIPEdgeTests()

    /// Queue `sales` recording every answered call by policy (skill-level-first: 1001 first).
    static let recordedSales = """
    queues:
      sales:
        strategy: skill-level-first
        recording: {policy: all, from: answer}
    ring_timeout_ms: 10000
    wrap_up_seconds: 1
    """

    static let survey = """
    flow: survey
    start: ask
    nodes:
      ask:
        type: collect
        prompt: "tts:en:Please rate the call from one to five."
        variable: csat
        min: 1
        max: 1
        pattern: "[1-5]"
        first_digit_timeout_ms: 15000
        next: thanks
        failure: bye
      thanks:
        type: play
        prompts: "tone:beep:200"
        next: bye
      bye:
        type: hangup
        cause: survey done
    """

    /// A stereo 16-bit WAV: (left, right, channels).
    static func stereo(_ url: URL) throws -> (left: [Int16], right: [Int16], channels: Int) {
        let b = [UInt8](try Data(contentsOf: url))
        let channels = Int(b[22]) | Int(b[23]) << 8
        var l: [Int16] = [], r: [Int16] = []
        var i = 44
        while i + 3 < b.count {
            l.append(Int16(bitPattern: UInt16(b[i]) | UInt16(b[i + 1]) << 8))
            r.append(Int16(bitPattern: UInt16(b[i + 2]) | UInt16(b[i + 3]) << 8))
            i += 4
        }
        return (l, r, channels)
    }

    /// Goertzel power of `hz` in 8 kHz samples, normalised per sample.
    static func power(_ s: ArraySlice<Int16>, _ hz: Double) -> Double {
        let k = 2 * cos(2 * Double.pi * hz / 8000)
        var s1 = 0.0, s2 = 0.0
        for x in s { let s0 = Double(x) + k * s1 - s2; s2 = s1; s1 = s0 }
        return (s1 * s1 + s2 * s2 - k * s1 * s2) / Double(max(1, s.count))
    }

    func catalogue(_ c: AgentTests.Center, _ column: String, _ whereClause: String = "true") throws -> String {
        try c.pg.query("select \(column) from recordings where \(whereClause) order by started_at")
    }

    /// A queued call answered by 1001's phone is recorded by the queue's policy: the file is
    /// stereo, the caller's 440 Hz in the left channel, the agent's 600 Hz in the right; a span
    /// the agent paused is silence and listed; the catalogue matches the file (size, duration,
    /// SHA-256); the call's record names it; find, download (hash checked), play on a phone; an
    /// agent's delete is refused and audited, a supervisor's done and audited; the retention run
    /// deletes exactly the old recording.
    @Test func policyRecordsTheCallInStereoWithAPause() throws {
        let c = try AgentTests.Center(edge: edge, queues: Self.recordedSales)
        defer { c.stop() }
        let p1 = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a1 = try c.watcher("1001", ["--hangup-after", "9"])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"kind\":\"connected\"", seconds: 25) != nil, "\(a1.outputText)\n\(c.flow.outputText.suffix(2000))")
        Thread.sleep(forTimeInterval: 3)
        // The caller reads a card number: the agent pauses the recording for it.
        let pause = try c.appOperate("1001", ["agent", "record", "do=pause"])
        #expect(pause.status == 0, "\(pause.output)")
        // An agent may not stop a recording the policy started.
        let stop = try c.appOperate("1001", ["agent", "record", "do=stop"])
        #expect(stop.status != 0 && stop.output.contains("policy"), "\(stop.output)")
        Thread.sleep(forTimeInterval: 2)
        let resume = try c.appOperate("1001", ["agent", "record", "do=resume"])
        #expect(resume.status == 0, "\(resume.output)")
        #expect(caller.wait(seconds: 30) == 0, "the caller got the BYE: \(caller.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(20) { (try? c.pg.query("select count(*) from recordings")) == "1" },
                "no catalogue row: \(c.flow.outputText.suffix(3000))\n\(c.ct.outputText.suffix(1500))")
        let path = try catalogue(c, "path")
        let file = c.dir.appendingPathComponent("recordings").appendingPathComponent(path)
        #expect(path.hasSuffix(".wav") && path.split(separator: "/").count == 4, "dated layout: \(path)")
        #expect(try c.pg.query("select recording from calls") == path)
        let attrs = try FileManager.default.attributesOfItem(atPath: file.path)
        let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        #expect(try catalogue(c, "size_bytes") == String(size))
        #expect(try catalogue(c, "sha256") == Crypto.sha256(file: file.path)?.hex)
        #expect(try catalogue(c, "channels || ' ' || started_by || ' ' || queue || ' ' || array_to_string(agents, ',') || ' ' || caller")
                    .hasPrefix("2 policy sales 1001 caller"))
        let wav = try Self.stereo(file)
        #expect(wav.channels == 2)
        let fileMs = wav.left.count / 8
        let catalogued = Int(try catalogue(c, "duration_ms")) ?? -1
        #expect(abs(fileMs - catalogued) <= 100, "file \(fileMs) ms, catalogue \(catalogued) ms")
        // The paused span: listed, about 2 s, and silent in both channels.
        let pauses = try catalogue(c, "pauses::text")
        let span = pauses.filter { "0123456789,".contains($0) }.split(separator: ",").compactMap { Int($0) }
        #expect(span.count == 2 && (1500...3000).contains(span[1] - span[0]), "pauses \(pauses)")
        if span.count == 2 {
            let silent = (span[0] * 8 + 80)..<(span[1] * 8 - 80)
            #expect(wav.left[silent].allSatisfy { $0 == 0 } && wav.right[silent].allSatisfy { $0 == 0 }, "the paused span is silence")
        }
        // Outside the pause: the caller's 440 Hz left, the agent's 600 Hz right.
        let talk = 1000 * 8..<(min(span.first ?? 3000, 3000) * 8)
        let l440 = Self.power(wav.left[talk], 440), l600 = Self.power(wav.left[talk], 600)
        let r440 = Self.power(wav.right[talk], 440), r600 = Self.power(wav.right[talk], 600)
        #expect(l440 > 20 * l600, "left: 440 Hz \(l440) vs 600 Hz \(l600)")
        #expect(r600 > 20 * r440, "right: 600 Hz \(r600) vs 440 Hz \(r440)")
        let rms = { (s: ArraySlice<Int16>) in (s.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, s.count))).squareRoot() }
        #expect(rms(wav.left[talk]) > 3000 && rms(wav.right[talk]) > 2000, "levels: left \(rms(wav.left[talk])), right \(rms(wav.right[talk]))")
        let id = try catalogue(c, "id")

        // The catalogue from App-Operate: found by agent, downloaded with its hash checked.
        let found = try c.appOperate("2001", ["recordings", "find", "--agent", "1001", "--format", "json"])
        #expect(found.status == 0 && found.output.contains(path.split(separator: "/").last!.dropLast(4)), "\(found.output)")
        let copy = c.dir.appendingPathComponent("download.wav")
        let dl = try c.appOperate("2001", ["recordings", "download", id, "-o", copy.path])
        #expect(dl.status == 0 && dl.output.contains("as catalogued"), "\(dl.output)")
        #expect(FileManager.default.contentsEqual(atPath: copy.path, andPath: file.path))
        // Played on the agent's own phone (it answers by itself), then hung up.
        let play = try c.appOperate("1001", ["recordings", "play", id])
        #expect(play.status == 0, "\(play.output)")
        #expect(c.ct.waitForLine(containing: "recording played", seconds: 60) != nil, "\(c.ct.outputText.suffix(2000))")
        _ = p1
        // An agent cannot delete: refused, and the refusal audited.
        let agentDelete = try c.appOperate("1002", ["recordings", "delete", id])
        #expect(agentDelete.status != 0 && agentDelete.output.contains("permission denied"), "\(agentDelete.output)")
        #expect(try c.pg.query("select string_agg(operator || ':' || action || ':' || outcome, ' ' order by id) from recording_audit")
                    == "2001:download:done 1001:play:done 1002:delete:refused")
        // The retention run deletes exactly what is older than 30 days.
        let oldDir = c.dir.appendingPathComponent("recordings/2020/01/02")
        try FileManager.default.createDirectory(at: oldDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: file, to: oldDir.appendingPathComponent("old.wav"))
        _ = try c.pg.query("insert into recordings (path, channel_id, started_at, duration_ms) values ('2020/01/02/old.wav', 'x', '2020-01-02', 1000)")
        let purge = try c.appOperate("3001", ["recordings", "purge"])
        #expect(purge.status == 0 && purge.output.contains("deleted 1 recordings") && purge.output.contains("2020/01/02/old.wav"), "\(purge.output)")
        #expect(!FileManager.default.fileExists(atPath: oldDir.appendingPathComponent("old.wav").path))
        #expect(FileManager.default.fileExists(atPath: file.path))
        #expect(try c.pg.query("select string_agg(path, ',') from recordings") == path)
        // A supervisor deletes: the file and row go, audited.
        let del = try c.appOperate("2001", ["recordings", "delete", id])
        #expect(del.status == 0, "\(del.output)")
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(try c.pg.query("select count(*) from recordings") == "0")
        #expect(try c.pg.query("select count(*) from recording_audit where action = 'delete' and outcome = 'done' and operator = '2001'") == "1")
    }
}

extension RecordingTests {
    /// A call transferred from 1001 to 1002 is one recording covering both agents: the right
    /// channel carries 1001's 600 Hz first, then 1002's 900 Hz; the catalogue names both. A
    /// supervisor scores it; the quality report averages the score for 1001.
    @Test func recordingFollowsATransferAndIsScored() throws {
        let c = try AgentTests.Center(edge: edge, queues: Self.recordedSales)
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        _ = try c.phone("1002", answers: true, audio: try AgentTests.toneWAV(c.dir, 900))
        let a1 = try c.watcher("1001", ["--transfer-to", "agent:1002", "--transfer-after", "4"])
        let a2 = try c.watcher("1002", ["--hangup-after", "4"])
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"action\":\"transfer\"", seconds: 30) != nil, "\(a1.outputText)\n\(c.flow.outputText.suffix(2000))")
        #expect(a2.waitForLine(containing: "\"action\":\"hangup\"", seconds: 30) != nil, "\(a2.outputText)")
        #expect(caller.wait(seconds: 30) == 0, "\(caller.outputText.suffix(1000))")
        #expect(TestSupport.waitUntil(20) { (try? c.pg.query("select count(*) from recordings")) == "1" }, "\(c.flow.outputText.suffix(3000))")
        #expect(try catalogue(c, "array_to_string(agents, ',')") == "1001,1002")
        let file = c.dir.appendingPathComponent("recordings").appendingPathComponent(try catalogue(c, "path"))
        let wav = try Self.stereo(file)
        let first = 1000 * 8..<3000 * 8, last = (wav.right.count - 2500 * 8)..<(wav.right.count - 500 * 8)
        #expect(Self.power(wav.right[first], 600) > 20 * Self.power(wav.right[first], 900), "1001 first")
        #expect(Self.power(wav.right[last], 900) > 20 * Self.power(wav.right[last], 600), "1002 last")
        #expect(Self.power(wav.left[last], 440) > 20 * Self.power(wav.left[last], 900), "the caller throughout")
        let id = try catalogue(c, "id")
        let agentScore = try c.appOperate("1001", ["recordings", "score", id, "90", "own call"])
        #expect(agentScore.status != 0, "an agent cannot score: \(agentScore.output)")
        let score = try c.appOperate("2001", ["recordings", "score", id, "80", "clear, polite, transferred correctly"])
        #expect(score.status == 0 && score.output.contains("scored 80 for 1001"), "\(score.output)")
        let report = try c.appOperate("2001", ["recordings", "report", "--format", "csv"])
        #expect(report.status == 0 && report.output.contains("agent,1001,0,,1,80.0"), "\(report.output)")
    }

    /// The agent hangs up first: the caller goes to the queue's survey flow, presses 4 (SIP
    /// INFO); the score is on the call's record and in the CSAT report by agent and queue.
    @Test func postCallSurveyScoreReachesTheRecordAndTheReport() throws {
        let c = try AgentTests.Center(edge: edge, queues: """
            queues:
              sales:
                survey_flow: survey
            wrap_up_seconds: 1
            """, extraFlows: ["survey": Self.survey])
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a1 = try c.watcher("1001", ["--hangup-after", "3"])
        let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_survey.xml"), encoding: .utf8)
            .replacingOccurrences(of: "@AUDIO@", with: try AgentTests.tone(c.dir, 440).path)
            .replacingOccurrences(of: "@PAUSE@", with: "9000").replacingOccurrences(of: "@KEY@", with: "4")
        let scenario = c.dir.appendingPathComponent("survey-caller.xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        let caller = try SIPp.start("127.0.0.1:\(c.sip)", scenario: scenario, ["-s", "4000", "-m", "1", "-timeout", "60", "-timeout_error"])
        defer { _ = caller.stop() }
        #expect(a1.waitForLine(containing: "\"action\":\"hangup\"", seconds: 30) != nil, "\(a1.outputText)\n\(c.flow.outputText.suffix(2000))")
        #expect(caller.wait(seconds: 45) == 0, "the survey flow ended the call: \(caller.outputText.suffix(1500))\n\(c.flow.outputText.suffix(2500))")
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select csat from calls")) == "4" },
                "\((try? c.pg.query("select disposition || ' ' || coalesce(csat::text, '-') from calls")) ?? "")\n\(c.flow.outputText.suffix(2500))")
        #expect(try c.pg.query("select agent || ' ' || ended_by from calls") == "1001 agent")
        let report = try c.appOperate("2001", ["recordings", "report", "--format", "csv"])
        #expect(report.status == 0 && report.output.contains("agent,1001,1,4.00") && report.output.contains("queue,sales,1,4.00"), "\(report.output)")
    }

    /// The Flow-Server that owns a recorded call is killed mid-call: the CT-Server keeps
    /// writing, the Flow-Server that adopts the call catalogues the complete file.
    @Test func recordingSurvivesTheOwningFlowServersDeath() throws {
        let c = try AgentTests.Center(edge: edge, queues: """
            queues:
              sales:
                recording: {policy: all, from: answer}
            wrap_up_seconds: 1
            """, flowServers: 2)
        defer { c.stop() }
        let phone = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        let a = try c.watcher("1001", [], server: 1)
        #expect(TestSupport.waitUntil(10) { (try? c.pg.query("select flow_server from agent_presence where agent = '1001'")) == "flow-acd2" })
        Thread.sleep(forTimeInterval: 4)   // the first Flow-Server reads the presence (every 3 s)
        let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440))
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 25) != nil, "\(a.outputText)\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        let connected = Date()
        Thread.sleep(forTimeInterval: 2)
        c.flows[1].signal(SIGKILL)
        #expect(c.ct.waitForLine(containing: "channels adopted by flow-acd") != nil, "\(c.ct.outputText.suffix(1500))")
        Thread.sleep(forTimeInterval: 4)
        phone.command("hangup")
        let talked = Date().timeIntervalSince(connected)
        #expect(caller.wait(seconds: 15) == 0, "\(caller.outputText.suffix(800))")
        #expect(TestSupport.waitUntil(20) { (try? c.pg.query("select count(*) from recordings")) == "1" },
                "not catalogued: \(c.flows[0].outputText.suffix(3000))\n\(c.ct.outputText.suffix(1500))")
        let path = try catalogue(c, "path")
        let file = c.dir.appendingPathComponent("recordings").appendingPathComponent(path)
        #expect(try catalogue(c, "sha256") == Crypto.sha256(file: file.path)?.hex)
        let ms = Int(try catalogue(c, "duration_ms")) ?? 0
        #expect(Double(ms) / 1000 > talked - 1.5 && Double(ms) / 1000 < talked + 1.5, "complete: \(ms) ms for \(talked) s of talk")
        let wav = try Self.stereo(file)
        let after = (ms - 3000) * 8..<(ms - 1000) * 8   // after the Flow-Server's death
        #expect(Self.power(wav.left[after], 440) > 20 * Self.power(wav.left[after], 600) && Self.power(wav.right[after], 600) > 20 * Self.power(wav.right[after], 440),
                "both parties recorded after the death")
        #expect(try c.pg.query("select started_by || ' ' || coalesce(call_id::text, '-') = (select 'policy ' || call_id::text from calls) from recordings") == "t")
        #expect(c.flows[0].outputText.contains("catalogued"), "the adopter catalogued it")
        // Rows lost (a folder restored without them): the sidecars catalogue the files again.
        let sha = try catalogue(c, "sha256")
        _ = try c.pg.query("delete from recordings")
        let dir = c.dir.appendingPathComponent("recordings").path
        let imported = try ChildProcess.run("flow-server", ["recordings-import", "--directory", dir, "--database-url", c.pg.url], seconds: 30)
        #expect(imported.status == 0 && imported.output.contains("1 catalogued now"), "\(imported.output)")
        #expect(try catalogue(c, "path || ' ' || sha256 || ' ' || started_by") == "\(path) \(sha) policy")
        let again = try ChildProcess.run("flow-server", ["recordings-import", "--directory", dir, "--database-url", c.pg.url], seconds: 30)
        #expect(again.status == 0 && again.output.contains("0 catalogued now, 1 already there"), "\(again.output)")
    }
}
