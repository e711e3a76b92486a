import Foundation
import Testing
import TestSupport
@testable import Protocol

/// An agent-hosted conference of nine parties over real sockets: a SIPp caller (440 Hz), the
/// host agent's baresip phone (600 Hz), five talkers (700–1100 Hz) and two listeners (1200 and
/// 1300 Hz), each a baresip phone that records what it hears. A listener asks for the floor with
/// `*1` (RFC 4733), the host grants it, then takes it back.
@Suite(.serialized) struct ConferenceTests {
    let edge = SIPEdgeTests()

    /// A quiet tone (seven of them mix without clipping).
    static func quietTone(_ dir: URL, _ hz: Int) throws -> URL {
        let u = dir.appendingPathComponent("quiet\(hz).wav")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", u.path, "synth", "90", "sine", "\(hz)", "vol", "0.08"])
        return u
    }

    @Test func nineParties() throws {
        let talkers = ["1002": 700, "1003": 800, "1004": 900, "1005": 1000, "1006": 1100]
        let listeners = ["1007": 1200, "1008": 1300]
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\nwrap_up_seconds: 1\n",
                                      phones: ["1002", "1003", "1004", "1005", "1006", "1007", "1008"])
        defer { c.stop() }
        let host = try c.phone("1001", answers: true, audio: try Self.quietTone(c.dir, 600))
        var phones: [String: Baresip] = [:]
        for (ext, hz) in talkers.merging(listeners, uniquingKeysWith: { a, _ in a }).sorted(by: { $0.key < $1.key }) {
            phones[ext] = try c.phone(ext, answers: true, audio: try Self.quietTone(c.dir, hz))
        }
        let a = try c.watcher("1001", [])
        let callerTone = c.dir.appendingPathComponent("caller440.ul")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", callerTone.path, "synth", "90", "sine", "440", "vol", "0.08"])
        let caller = try c.caller(audio: callerTone)
        defer { _ = caller.stop() }
        #expect(a.waitForLine(containing: "\"kind\":\"connected\"", seconds: 20) != nil, "\(a.outputText)")
        func agent(_ args: [String]) throws -> String {
            let r = try c.appOperate("1001", ["agent"] + args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.output)")
            return r.output
        }
        _ = try agent(["conf-open"])
        for ext in talkers.keys.sorted() { _ = try agent(["conf-add", "to=ext:\(ext)", "as=talker"]) }
        for ext in listeners.keys.sorted() { _ = try agent(["conf-add", "to=ext:\(ext)", "as=listener"]) }
        for (ext, p) in phones { #expect(p.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "\(ext): \(p.events)") }
        Thread.sleep(forTimeInterval: 4)

        func roster() throws -> [[String: String]] {
            let out = try agent(["conf-roster"])
            let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
            return (obj?["rows"] as? [[String: String]]) ?? []
        }
        var rows = try roster()
        #expect(rows.count == 9, "\(rows)")
        #expect(rows.first { $0["number"] == "1002" }?["talking"] == "yes", "voice activity: \(rows)")
        #expect(rows.first { $0["number"] == "1007" }?["may_talk"] == "no")
        // A listener asks for the floor.
        phones["1007"]!.command("sndcode", "*1")
        #expect(a.waitForLine(containing: "floor-request", seconds: 10) != nil, "\(a.outputText.suffix(1500))")
        rows = try roster()
        let party = try #require(rows.first { $0["number"] == "1007" })
        #expect(party["floor_requested"] == "yes", "\(party)")
        let granted = Date()
        _ = try agent(["conf-floor", "party=\(party["party"]!)", "do=grant"])
        Thread.sleep(forTimeInterval: 4)
        let revoked = Date()
        _ = try agent(["conf-floor", "party=\(party["party"]!)", "do=revoke"])
        Thread.sleep(forTimeInterval: 4)
        let ended = Date()
        _ = try agent(["hangup"])
        for (ext, p) in phones { #expect(p.wait(for: "CALL_CLOSED", seconds: 15) != nil, "\(ext) left when the host did: \(p.events)") }
        #expect(caller.wait(seconds: 15) == 0, "\(caller.outputText.suffix(800))")

        // What each heard, by phase (times counted back from the end of its recording).
        func heard(_ p: Baresip) throws -> [Int16] {
            p.stop()
            let files = (try? FileManager.default.contentsOfDirectory(at: p.recordings, includingPropertiesForKeys: nil)) ?? []
            let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
            return try WAV.samples(dec)
        }
        func window(_ s: [Int16], _ from: Date, _ to: Date) -> ArraySlice<Int16> {
            let end = s.count
            let a = max(0, end - Int(ended.timeIntervalSince(from) * 8000)), b = max(a, end - Int(ended.timeIntervalSince(to) * 8000))
            return s[a..<min(b, end)]
        }
        func levels(_ s: ArraySlice<Int16>) -> [Int: Double] {
            Dictionary(uniqueKeysWithValues: [440, 600, 700, 800, 900, 1000, 1100, 1200, 1300].map { ($0, ToneAnalysis.level(s, frequency: Double($0))) })
        }
        let before = (granted.addingTimeInterval(-3.5), granted.addingTimeInterval(-0.5))
        let during = (granted.addingTimeInterval(1), revoked.addingTimeInterval(-0.5))
        let after = (revoked.addingTimeInterval(1), ended.addingTimeInterval(-0.5))
        let hostHeard = try heard(host)
        let h0 = levels(window(hostHeard, before.0, before.1)), h1 = levels(window(hostHeard, during.0, during.1)), h2 = levels(window(hostHeard, after.0, after.1))
        print("conference: the host heard, before the floor: \(h0.sorted { $0.key < $1.key }.map { "\($0.key) Hz \(Int($0.value))" }); with it: 1200 Hz \(Int(h1[1200]!)); after: 1200 Hz \(Int(h2[1200]!))")
        for hz in [440, 700, 800, 900, 1000, 1100] { #expect(h0[hz]! > 1000, "the host hears \(hz) Hz: \(h0)") }
        #expect(h0[600]! < 200 && h0[1200]! < 200 && h0[1300]! < 200, "the host hears neither itself nor the listeners: \(h0)")
        #expect(h1[1200]! > 1000, "the listener with the floor is heard: \(h1)")
        #expect(h2[1200]! < 200 && h2[1300]! < 200, "the floor taken back, silent again: \(h2)")
        let t = levels(window(try heard(phones["1002"]!), before.0, before.1))
        #expect(t[700]! < 200 && t[600]! > 1000 && t[440]! > 1000 && t[1100]! > 1000 && t[1300]! < 200, "a talker hears the others, not itself nor listeners: \(t)")
        let heard1008 = try heard(phones["1008"]!)
        let l = levels(window(heard1008, before.0, before.1))
        #expect(l[600]! > 1000 && l[700]! > 1000 && l[440]! > 1000 && l[1300]! < 200 && l[1200]! < 200, "a listener hears the talkers only: \(l)")
        let l1 = levels(window(heard1008, during.0, during.1))
        #expect(l1[1200]! > 1000, "the other listener hears the one with the floor: \(l1)")
    }
}
