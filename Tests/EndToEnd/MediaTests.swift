import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The channel loop over real sockets: SIPp talks and presses keys (RFC 4733 and in-band
/// tones), baresip phones are bridged, conferenced and monitored, and the diagnostic numbers
/// answer with no Flow-Server. Audio is checked by its content (tone levels, correlation).
@Suite(.serialized) struct MediaTests {
    let edge = SIPEdgeTests()
    typealias FlowHarness = CallControlTests.FlowHarness

    func startCT() throws -> (ChildProcess, sip: Int, link: Int, dir: URL) {
        let dir = TestSupport.temporaryDirectory("hotline-media")
        let ct = try CTServerUnderTest(top: "media:\n  recording_directory: \(dir.path)/rec\n  prompt_directory: \(dir.path)/prompts")
        try? FileManager.default.removeItem(at: ct.dir)
        return (ct.process, ct.sip, ct.link, dir)
    }

    static func sox(_ args: [String]) throws {
        let r = try ChildProcess.run("/usr/bin/sox", args)
        #expect(r.status == 0, "sox \(args): \(r.output)")
    }

    /// Writes the uac_rtp_dtmf scenario with its audio file and DTMF pcaps filled in.
    func scenario(in dir: URL, audio: URL, digits: [String]) throws -> URL {
        var text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_rtp_dtmf.xml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "@AUDIO@", with: audio.path)
        let dtmf = digits.map { d in
            "  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_\(d).pcap\"/></action></nop>\n  <pause milliseconds=\"600\"/>"
        }.joined(separator: "\n")
        text = text.replacingOccurrences(of: "@DTMF@", with: dtmf)
        let url = dir.appendingPathComponent("scenario-\(UUID().uuidString.prefix(6)).xml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func runSipp(_ scenario: URL, port: Int, service: String, talkMs: Int) throws -> (Int32, String) {
        let r = try SIPp.run("127.0.0.1:\(port)", scenario: scenario, ["-s", service, "-m", "1", "-d", "\(talkMs)", "-timeout", "40", "-timeout_error"], seconds: 50)
        return (r.status, String(r.output.suffix(2000)))
    }

    /// A caller talks (a 440 Hz tone from sox), then presses 1, 2, 3 as RFC 4733 events. The
    /// Flow-Server records the call and collects three digits: the digits arrive in order and the
    /// recording is a valid WAV whose length and tone match what was sent.
    @Test func rtpAndRFC4733DigitsAreCollectedAndRecorded() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let audio = dir.appendingPathComponent("tone440.ul")
        try Self.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", audio.path, "synth", "2", "sine", "440", "vol", "0.5"])
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        flow.onEvent = { conn, e in
            guard e.kind == .established else { return }
            conn.request(RecordChannel(channelID: e.channelID, name: "call-\(e.channelID)", tag: 7), expecting: ChannelCommandResult.self) { _ in }
            conn.request(CollectDigits(channelID: e.channelID, minDigits: 3, maxDigits: 3, firstDigitTimeoutMs: 20_000, tag: 9),
                         expecting: ChannelCommandResult.self) { _ in }
        }
        let sc = try scenario(in: dir, audio: audio, digits: ["1", "2", "3"])
        let r = try runSipp(sc, port: sip, service: "5000", talkMs: 3000)
        #expect(r.0 == 0, "\(r.1)")
        #expect(TestSupport.waitUntil(10) { flow.media.value.contains { $0.kind == .recordDone } }, "\(flow.media.value)")
        let digitEvents = flow.events.value.filter { $0.kind == .digits }
        #expect(digitEvents.map(\.digits).joined() == "123", "\(digitEvents)")
        #expect(digitEvents.allSatisfy { $0.cause == "rfc4733" })
        let collected = try #require(flow.media.value.first { $0.kind == .digitsCollected })
        #expect(collected.digits == "123" && collected.reason == "max-digits" && collected.tag == 9, "\(collected)")
        let rec = try #require(flow.media.value.first { $0.kind == .recordDone })
        #expect(rec.tag == 7 && rec.reason == "hangup", "\(rec)")
        let samples = try WAV.samples(URL(fileURLWithPath: rec.path))
        let seconds = Double(samples.count) / 8000
        // 3 s of talk, about 1.8 s of keys and 1 s before BYE.
        #expect(seconds > 3.5 && seconds < 8, "recorded \(seconds) s")
        #expect(abs(Double(rec.durationMs) / 1000 - seconds) < 0.05)
        // The first 2 s of the call carry the 440 Hz tone at the level it was sent (0.5 FS).
        let talk = Array(samples.prefix(16000))
        let level = ToneAnalysis.level(talk, frequency: 440)
        #expect(level > 0.35 * 32768 && level < 0.65 * 32768, "440 Hz level \(level)")
        #expect(ToneAnalysis.level(talk, frequency: 1000) < 0.02 * 32768)
    }

    /// Tones in the audio (no RFC 4733): spandsp finds 4, 7 and the terminator #.
    @Test func inbandDTMFIsDetected() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let rows: [Character: (Int, Int)] = ["4": (770, 1209), "7": (852, 1209), "#": (941, 1477)]
        var parts: [String] = []
        try Self.sox(["-n", "-r", "8000", "-b", "16", "-c", "1", dir.appendingPathComponent("sil.wav").path, "trim", "0", "0.3"])
        parts.append(dir.appendingPathComponent("sil.wav").path)
        for d in "47#" {
            let (lo, hi) = rows[d]!
            let st = dir.appendingPathComponent("st.wav"), mono = dir.appendingPathComponent("d\(lo)\(hi).wav")
            try Self.sox(["-n", "-r", "8000", "-b", "16", "-c", "2", st.path, "synth", "0.12", "sin", "\(lo)", "sin", "\(hi)", "vol", "0.5"])
            try Self.sox([st.path, "-c", "1", mono.path, "remix", "1,2"])
            parts += [mono.path, dir.appendingPathComponent("sil.wav").path]
        }
        let all = dir.appendingPathComponent("keys.wav"), raw = dir.appendingPathComponent("keys.ul")
        try Self.sox(parts + [all.path])
        try Self.sox([all.path, "-t", "ul", raw.path])
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        flow.onEvent = { conn, e in
            guard e.kind == .established else { return }
            conn.request(CollectDigits(channelID: e.channelID, minDigits: 1, maxDigits: 8, firstDigitTimeoutMs: 20_000, terminators: "#", tag: 3, inband: true),
                         expecting: ChannelCommandResult.self) { _ in }
        }
        let sc = try scenario(in: dir, audio: raw, digits: [])
        let r = try runSipp(sc, port: sip, service: "5000", talkMs: 4000)
        #expect(r.0 == 0, "\(r.1)")
        #expect(TestSupport.waitUntil(10) { flow.media.value.contains { $0.kind == .digitsCollected } }, "\(flow.media.value)")
        let collected = try #require(flow.media.value.first { $0.kind == .digitsCollected })
        // The tone file loops while SIPp talks: the first pass ends collection with '#'.
        #expect(collected.digits == "47" && collected.reason == "terminator", "\(collected)")
        #expect(flow.events.value.filter { $0.kind == .digits }.prefix(3).allSatisfy { $0.cause == "inband" })
    }

    // MARK: baresip parties

    final class Party {
        let phone: Baresip
        let frequency: Int
        let user: String
        init(_ user: String, frequency: Int, dir: URL) throws {
            self.user = user
            self.frequency = frequency
            let wav = dir.appendingPathComponent("\(user).wav")
            try MediaTests.sox(["-n", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", wav.path, "synth", "30", "sine", "\(frequency)", "vol", "0.3"])
            let ports = BaresipPorts()
            phone = try Baresip(account: "<sip:\(user)@127.0.0.1>;regint=0;answermode=manual;audio_codecs=PCMU/8000/1",
                                sipPort: ports.sip, controlPort: ports.control, rtpPorts: ports.rtp, audioSource: wav.path)
        }
        /// What this party heard (baresip's -dec.wav), after it stopped.
        func heard() throws -> [Int16] {
            let files = (try? FileManager.default.contentsOfDirectory(at: phone.recordings, includingPropertiesForKeys: nil)) ?? []
            let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "\(user): no recording in \(files)")
            return try WAV.samples(dec)
        }
    }

    /// Starts `n` baresip parties with distinct tones, each dialling `number`+i; returns them
    /// with their channel ids once the Flow-Server has answered all of them.
    func parties(_ frequencies: [Int], ct: ChildProcess, sip: Int, flow: FlowHarness, dir: URL) throws -> [(Party, String)] {
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        var out: [(Party, String)] = []
        for (i, f) in frequencies.enumerated() {
            let p = try Party("p\(i)", frequency: f, dir: dir)
            #expect(p.phone.connect(), "baresip \(i) ctrl_tcp: \(p.phone.process.outputText)")
            p.phone.command("dial", "sip:\(6000 + i)@127.0.0.1:\(sip)")
            #expect(p.phone.wait(for: "CALL_ESTABLISHED") != nil, "party \(i): \(p.phone.events)")
            let ok = TestSupport.waitUntil(10) { flow.events.value.contains { $0.kind == .established && $0.called == "\(6000 + i)" } }
            #expect(ok)
            let id = try #require(flow.events.value.first { $0.kind == .established && $0.called == "\(6000 + i)" }?.channelID)
            out.append((p, id))
        }
        return out
    }

    func finish(_ parties: [(Party, String)], flow: FlowHarness) {
        for (_, id) in parties { _ = flow.request(HangupChannel(channelID: id, cause: "test done")) }
        for (p, _) in parties { _ = p.phone.wait(for: "CALL_CLOSED", seconds: 5); p.phone.stop() }
    }

    /// Two phones bridged: each hears the other's tone and not its own; when one hangs up the
    /// other's bridge ends.
    @Test func bridgePassesAudioBothWays() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let ps = try parties([500, 1300], ct: ct, sip: sip, flow: flow, dir: dir)
        defer { for (p, _) in ps { p.phone.stop(); p.phone.remove() } }
        #expect((try? flow.request(BridgeChannels(channelID: ps[0].1, otherChannelID: ps[1].1)).get()) != nil)
        Thread.sleep(forTimeInterval: 3)
        _ = flow.request(HangupChannel(channelID: ps[0].1, cause: "caller done"))
        #expect(TestSupport.waitUntil(5) { flow.media.value.contains { $0.kind == .bridgeEnded && $0.channelID == ps[1].1 } }, "\(flow.media.value)")
        finish(ps, flow: flow)
        let a = try ps[0].0.heard(), b = try ps[1].0.heard()
        #expect(ToneAnalysis.maxLevel(a, frequency: 1300) > 3000, "A hears B")
        #expect(ToneAnalysis.maxLevel(b, frequency: 500) > 3000, "B hears A")
        #expect(ToneAnalysis.maxLevel(a, frequency: 500) < 600, "A does not hear itself")
        #expect(ToneAnalysis.maxLevel(b, frequency: 1300) < 600, "B does not hear itself")
    }

    /// Four phones in one conference: each hears the three others and not itself.
    @Test func conferenceOfFourHearsEveryoneButThemselves() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let freqs = [500, 800, 1300, 1900]
        let ps = try parties(freqs, ct: ct, sip: sip, flow: flow, dir: dir)
        defer { for (p, _) in ps { p.phone.stop(); p.phone.remove() } }
        for (_, id) in ps { #expect((try? flow.request(ConferenceJoin(channelID: id, conference: "room-1")).get()) != nil) }
        Thread.sleep(forTimeInterval: 3)
        finish(ps, flow: flow)
        for (i, (p, _)) in ps.enumerated() {
            let heard = try p.heard()
            for (j, f) in freqs.enumerated() {
                let level = ToneAnalysis.maxLevel(heard, frequency: Double(f))
                if i == j { #expect(level < 600, "party \(i) hears itself at \(level)") } else {
                    #expect(level > 2000, "party \(i) hears \(j) at \(level); \(ct.outputLines.filter { $0.contains("gone") || $0.contains("offered") }.joined(separator: "\n"))")
                }
            }
        }
    }

    /// Caller and agent bridged; a supervisor taps the agent: listen (hears both, heard by
    /// nobody), then whisper (heard by the agent only), then barge (heard by both).
    @Test func monitorListenWhisperBarge() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let ps = try parties([500, 800, 1300], ct: ct, sip: sip, flow: flow, dir: dir)
        defer { for (p, _) in ps { p.phone.stop(); p.phone.remove() } }
        let (caller, agent, sup) = (ps[0].1, ps[1].1, ps[2].1)
        #expect((try? flow.request(BridgeChannels(channelID: caller, otherChannelID: agent)).get()) != nil)
        Thread.sleep(forTimeInterval: 0.5)
        for mode in [MonitorChannel.Mode.listen, .whisper, .barge] {
            #expect((try? flow.request(MonitorChannel(channelID: sup, targetChannelID: agent, mode: mode)).get()) != nil, "\(mode)")
            Thread.sleep(forTimeInterval: 3)
        }
        finish(ps, flow: flow)
        let heardByCaller = try ps[0].0.heard(), heardByAgent = try ps[1].0.heard(), heardBySup = try ps[2].0.heard()
        // Offsets from the moment the bridge started (the first window where the other party is heard).
        let callerStart = try #require(ToneAnalysis.firstWindow(heardByCaller, frequency: 800))
        let agentStart = try #require(ToneAnalysis.firstWindow(heardByAgent, frequency: 500))
        let callerHearsSup = ToneAnalysis.firstWindow(heardByCaller, frequency: 1300).map { $0 - callerStart }
        let agentHearsSup = ToneAnalysis.firstWindow(heardByAgent, frequency: 1300).map { $0 - agentStart }
        // Listen: 0.5–3.5 s, whisper 3.5–6.5 s, barge 6.5–9.5 s after the bridge.
        let a = try #require(agentHearsSup, "the agent never heard the supervisor")
        #expect(a > 2.5 && a < 5, "agent first hears the supervisor \(a) s after the bridge (whisper starts at 3.5 s)")
        let c = try #require(callerHearsSup, "the caller never heard the supervisor (barge)")
        #expect(c > 5.5 && c < 8, "caller first hears the supervisor \(c) s after the bridge (barge starts at 6.5 s)")
        #expect(ToneAnalysis.maxLevel(heardBySup, frequency: 500) > 2000 && ToneAnalysis.maxLevel(heardBySup, frequency: 800) > 2000,
                "the supervisor hears both sides")
    }

    /// A phone transfers its bridged call (REFER): the CT-Server dials the target, bridges the
    /// other party to it, tells the phone (NOTIFY 200) and releases it.
    @Test func phoneBlindTransfer() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let ps = try parties([500, 1300], ct: ct, sip: sip, flow: flow, dir: dir)
        defer { for (p, _) in ps { p.phone.stop(); p.phone.remove() } }
        let (caller, agent) = (ps[0].1, ps[1].1)
        #expect((try? flow.request(BridgeChannels(channelID: caller, otherChannelID: agent)).get()) != nil)
        // The transfer target answers by itself.
        let ports = BaresipPorts()
        let wav = dir.appendingPathComponent("target.wav")
        try Self.sox(["-n", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", wav.path, "synth", "30", "sine", "1900", "vol", "0.3"])
        let target = try Baresip(account: "<sip:target@127.0.0.1:\(ports.sip)>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1",
                                 sipPort: ports.sip, controlPort: ports.control, rtpPorts: ports.rtp, audioSource: wav.path)
        defer { target.stop(); target.remove() }
        #expect(target.connect())
        Thread.sleep(forTimeInterval: 1)
        ps[1].0.phone.command("transfer", "sip:target@127.0.0.1:\(ports.sip)")
        #expect(target.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "target: \(target.events)")
        #expect(ps[1].0.phone.wait(for: "CALL_CLOSED", seconds: 15) != nil, "the transferring phone is released")
        #expect(TestSupport.waitUntil(5) { flow.events.value.contains { $0.channelID == agent && $0.kind == .transferred } }, "\(flow.events.value)")
        // The new leg is the transferred party's owner's: it saw it placed and answered.
        let newLeg = try #require(flow.events.value.first { $0.direction == .outbound && $0.kind == .established }?.channelID)
        Thread.sleep(forTimeInterval: 3)
        for id in [caller, newLeg] { _ = flow.request(HangupChannel(channelID: id, cause: "test done")) }
        _ = ps[0].0.phone.wait(for: "CALL_CLOSED", seconds: 5)
        _ = target.wait(for: "CALL_CLOSED", seconds: 5)
        ps[0].0.phone.stop()
        target.stop()
        let heardByCaller = try ps[0].0.heard()
        #expect(ToneAnalysis.maxLevel(heardByCaller, frequency: 1300) > 2000, "the caller talked to the agent first")
        #expect(ToneAnalysis.maxLevel(heardByCaller, frequency: 1900) > 2000, "then to the transfer target")
        let files = (try? FileManager.default.contentsOfDirectory(at: target.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") })
        let heardByTarget = try WAV.samples(dec)
        #expect(ToneAnalysis.maxLevel(heardByTarget, frequency: 500) > 2000,
                "the target hears the caller: \(heardByTarget.count) samples, 500 Hz \(ToneAnalysis.maxLevel(heardByTarget, frequency: 500)), 1300 Hz \(ToneAnalysis.maxLevel(heardByTarget, frequency: 1300)); \(ct.outputLines.filter { $0.contains("gone") || $0.contains("transfer") || $0.contains("originat") }.joined(separator: "\n"))")
    }

    /// *44 plays a prompt and hangs up by itself; *45 reads back the keys pressed (SIP INFO here).
    @Test func diagnosticNumbersWithoutAFlowServer() throws {
        let (ct, sip, _, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let p = try Party("diag", frequency: 300, dir: dir)
        defer { p.phone.stop(); p.phone.remove() }
        #expect(p.phone.connect())
        p.phone.command("dial", "sip:*44@127.0.0.1:\(sip)")
        #expect(p.phone.wait(for: "CALL_ESTABLISHED") != nil, "\(p.phone.events)")
        #expect(p.phone.wait(for: "CALL_CLOSED", seconds: 20) != nil, "*44 did not hang up by itself")
        #expect(ct.waitForLine(containing: "playback test finished") != nil)
        p.phone.stop()
        let heard = try p.heard()
        let loud = heard.filter { abs(Int($0)) > 2000 }.count
        #expect(loud > 4000, "the playback prompt was heard (\(loud) loud samples of \(heard.count))")
        // *45: the phone presses 5 (RFC 4733); the CT-Server speaks the digit back.
        let q = try Party("readback", frequency: 300, dir: dir)
        defer { q.phone.stop(); q.phone.remove() }
        #expect(q.phone.connect())
        q.phone.command("dial", "sip:*45@127.0.0.1:\(sip)")
        #expect(q.phone.wait(for: "CALL_ESTABLISHED") != nil, "\(q.phone.events)")
        Thread.sleep(forTimeInterval: 2)
        q.phone.command("sndcode", "5")
        Thread.sleep(forTimeInterval: 3)
        q.phone.command("hangup")
        _ = q.phone.wait(for: "CALL_CLOSED", seconds: 5)
        q.phone.stop()
        let back = try q.heard()
        // baresip's recording holds only what arrived: nothing is sent before the key, then
        // the digit is spoken ("five", about half a second).
        let spoken = back.filter { abs(Int($0)) > 2000 }.count
        #expect(spoken > 400 && back.count < 8000 * 3 / 2, "read-back: \(spoken) loud samples in \(back.count)")
    }
}

/// Tone levels by the Goertzel algorithm: the amplitude of one frequency in a signal.
enum ToneAnalysis {
    static func level(_ x: ArraySlice<Int16>, frequency f: Double) -> Double {
        let n = x.count
        guard n > 0 else { return 0 }
        let k = 2 * cos(2 * Double.pi * f / 8000)
        var s1 = 0.0, s2 = 0.0
        for v in x {
            let s = Double(v) + k * s1 - s2
            s2 = s1
            s1 = s
        }
        let power = s1 * s1 + s2 * s2 - k * s1 * s2
        return 2 * sqrt(max(0, power)) / Double(n)
    }

    static func level(_ x: [Int16], frequency f: Double) -> Double { level(x[...], frequency: f) }

    /// Levels over 200 ms windows.
    static func windows(_ x: [Int16], frequency f: Double) -> [Double] {
        stride(from: 0, to: max(0, x.count - 1600), by: 1600).map { level(x[$0..<($0 + 1600)], frequency: f) }
    }

    static func maxLevel(_ x: [Int16], frequency f: Double) -> Double { windows(x, frequency: f).max() ?? 0 }

    /// When (seconds) the frequency is first clearly present.
    static func firstWindow(_ x: [Int16], frequency f: Double, threshold: Double = 2000) -> Double? {
        windows(x, frequency: f).firstIndex { $0 > threshold }.map { Double($0) * 0.2 }
    }
}
