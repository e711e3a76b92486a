import Foundation
import Testing
import TestSupport
@testable import Protocol

/// The byte vectors of docs/protocol.md §11, read from the document itself so the spec and
/// the codec cannot drift apart. Each is decoded all at once, byte by byte, and re-encoded.
@Suite struct ProtocolVectorTests {
    static let vectors: [String: [UInt8]] = {
        let url = TestSupport.packageRoot.appendingPathComponent("docs/protocol.md")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        var out: [String: [UInt8]] = [:]
        var name: String?
        var inHex = false
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### vector: ") { name = String(line.dropFirst("### vector: ".count)) }
            else if line == "```hex" { inHex = true; bytes = [] }
            else if line == "```", inHex {
                inHex = false
                if let n = name { out[n] = bytes }
                name = nil
            } else if inHex {
                bytes += line.split(separator: " ").compactMap { UInt8($0, radix: 16) }
            }
        }
        return out
    }()

    let codec = FrameCodec(compressionThreshold: 0)

    func decodeFrame(_ name: String) throws -> Frame {
        let bytes = try #require(Self.vectors[name], "vector \(name) missing from docs/protocol.md")
        var all = ByteBuffer(bytes: bytes)
        let frame = try #require(try codec.decode(&all))
        #expect(all.readableBytes == 0)
        // Byte by byte gives the same frame.
        var b = ByteBuffer()
        var fed: Frame?
        for byte in bytes {
            b.writeBytes([byte])
            if let f = try codec.decode(&b) { fed = f }
        }
        #expect(fed == frame)
        return frame
    }

    func checkReencodes(_ name: String, _ frame: Frame, body: [UInt8]) throws {
        var f = frame
        f.body = body
        #expect(try codec.encode(f) == Self.vectors[name], "re-encoding \(name)")
    }

    @Test func documentHasAtLeastFiveVectors() { #expect(Self.vectors.count >= 5) }

    @Test func heartbeat() throws {
        let f = try decodeFrame("heartbeat")
        #expect(f.type == Heartbeat.messageType && f.correlationID == 0 && f.flags == [])
        let m = try Heartbeat.decode(f.body)
        #expect(m == Heartbeat(sentAtMs: 1000))
        try checkReencodes("heartbeat", f, body: m.encodedBody())
    }

    @Test func topologyRequest() throws {
        let f = try decodeFrame("topology-request")
        #expect(f.type == MessageCatalogue.topology && f.correlationID == 7 && f.body.isEmpty)
        try checkReencodes("topology-request", f, body: TopologyRequest().encodedBody())
    }

    @Test func errorResponse() throws {
        let f = try decodeFrame("error-response")
        #expect(f.flags == [.response, .error])
        let m = try ErrorMessage.decode(f.body)
        #expect(m == ErrorMessage(code: .unavailable, reason: "ct down"))
        try checkReencodes("error-response", f, body: m.encodedBody())
    }

    @Test func challengeHelloWelcome() throws {
        let c = try decodeFrame("challenge")
        let challenge = try Challenge.decode(c.body)
        #expect(challenge == Challenge(nonce: Array(0..<16), role: .ctServer, minVersion: 1, maxVersion: 1, name: "ct-1"))
        try checkReencodes("challenge", c, body: challenge.encodedBody())

        let h = try decodeFrame("hello")
        let hello = try Hello.decode(h.body)
        let proof = HandshakeStateMachine.proof(secret: Array("example-secret".utf8), nonce: challenge.nonce, role: .flowServer, name: "flow-1")
        #expect(hello == Hello(role: .flowServer, minVersion: 1, maxVersion: 1, name: "flow-1", software: "hotline/0.1.0", proof: proof))
        try checkReencodes("hello", h, body: hello.encodedBody())

        let w = try decodeFrame("welcome")
        let welcome = try Welcome.decode(w.body)
        #expect(welcome == Welcome(version: 1, role: .ctServer, name: "ct-1", software: "hotline/0.1.0", heartbeatIntervalMs: 2000, sessionID: 42))
        try checkReencodes("welcome", w, body: welcome.encodedBody())
    }

    @Test func topologyReport() throws {
        let f = try decodeFrame("topology-report")
        let m = try TopologyReport.decode(f.body)
        #expect(m.nodes == [NodeInfo(role: .ctServer, name: "ct-1", address: "127.0.0.1:7100", software: "hotline/0.1.0",
                                     protocolVersion: 1, uptimeSeconds: 3600, attachedTo: "", state: "up")])
        try checkReencodes("topology-report", f, body: m.encodedBody())
    }

    @Test func goodbye() throws {
        let f = try decodeFrame("goodbye")
        let m = try Goodbye.decode(f.body)
        #expect(m.reason == "shutting down")
        try checkReencodes("goodbye", f, body: m.encodedBody())
    }

    @Test func unknownOptionalIsSkippedUnknownMandatoryRejected() throws {
        let f = try decodeFrame("heartbeat-with-unknown-optional")
        #expect(try Heartbeat.decode(f.body) == Heartbeat(sentAtMs: 1000))
        let g = try decodeFrame("heartbeat-with-unknown-mandatory")
        #expect(throws: ProtocolError.self) { try Heartbeat.decode(g.body) }
    }

    @Test func compressedGoodbye() throws {
        let f = try decodeFrame("goodbye-compressed")
        #expect(try Goodbye.decode(f.body).reason == String(repeating: "A", count: 200))
        #expect(f.flags == [], "the compressed flag is a property of the encoding, not of the frame")
    }
}

extension ProtocolVectorTests {
    @Test func channelEventAndOriginate() throws {
        let e = try decodeFrame("channel-event")
        let ev = try ChannelEvent.decode(e.body)
        #expect(ev == ChannelEvent(channelID: "ch-1-abcd", kind: .offered, direction: .inbound, caller: "13800001111", called: "4000",
                                   sipCode: 0, cause: "", timestampMs: 1_795_375_000_000))
        try checkReencodes("channel-event", e, body: ev.encodedBody())
        let o = try decodeFrame("originate")
        let orig = try Originate.decode(o.body)
        #expect(orig == Originate(destination: "1001", callerID: "4000", timeoutMs: 30_000) && o.correlationID == 9)
        try checkReencodes("originate", o, body: orig.encodedBody())
    }
}

extension ProtocolVectorTests {
    @Test func playMedia() throws {
        let f = try decodeFrame("play-media")
        let m = try PlayMedia.decode(f.body)
        #expect(f.type == MessageCatalogue.playMedia && f.correlationID == 5)
        #expect(m.channelID == "ch-1" && m.items == ["file:welcome", "tone:beep:250"] && !m.loop && m.bargeIn && m.tag == 42)
        try checkReencodes("play-media", f, body: m.encodedBody())
    }

    /// Every media message survives a round trip with its fields.
    @Test func mediaMessagesRoundTrip() throws {
        let c = try CollectDigits.decode(CollectDigits(channelID: "c", minDigits: 2, maxDigits: 9, firstDigitTimeoutMs: 7000, interDigitTimeoutMs: 1500,
                                                       terminators: "#*", tag: 3, afterPlay: true, inband: true).encodedBody())
        #expect(c.minDigits == 2 && c.maxDigits == 9 && c.firstDigitTimeoutMs == 7000 && c.interDigitTimeoutMs == 1500 && c.terminators == "#*" && c.afterPlay && c.inband)
        let r = try RecordChannel.decode(RecordChannel(channelID: "c", name: "day/x", stereo: true, maxMs: 9, silenceMs: 8, terminators: "#", beep: true, tag: 1).encodedBody())
        #expect(r.name == "day/x" && r.stereo && r.maxMs == 9 && r.silenceMs == 8 && r.beep && r.tag == 1)
        let mon = try MonitorChannel.decode(MonitorChannel(channelID: "s", targetChannelID: "a", mode: .whisper).encodedBody())
        #expect(mon.targetChannelID == "a" && mon.mode == .whisper)
        let j = try ConferenceJoin.decode(ConferenceJoin(channelID: "c", conference: "room", speaks: false, hears: true).encodedBody())
        #expect(j.conference == "room" && !j.speaks && j.hears)
        let e = try MediaEventMessage.decode(MediaEventMessage(channelID: "c", kind: .recordDone, tag: 4, reason: "hangup", path: "/r/x.wav",
                                                               durationMs: 1234, timestampMs: 99).encodedBody())
        #expect(e.kind == .recordDone && e.path == "/r/x.wav" && e.durationMs == 1234 && e.reason == "hangup")
        #expect(throws: ProtocolError.self) { try MonitorChannel.decode(MonitorChannel(channelID: "s", targetChannelID: "a", mode: .listen).encodedBody().map { $0 == 1 ? 9 : $0 }) }
    }
}

extension ProtocolVectorTests {
    @Test func recordingMessagesRoundTrip() throws {
        let r = try RecordChannel.decode(RecordChannel(channelID: "c", name: "2026/12/03/x", stereo: true, tag: 7, startedBy: "policy", callID: "abc").encodedBody())
        #expect(r.name == "2026/12/03/x" && r.startedBy == "policy" && r.callID == "abc")
        let c = try RecordingControl.decode(RecordingControl(channelID: "c", action: .resume).encodedBody())
        #expect(c.channelID == "c" && c.action == .resume)
        #expect(throws: ProtocolError.self) { try RecordingControl.decode(RecordingControl(channelID: "c", action: .pause).encodedBody().map { $0 == 1 ? 9 : $0 }) }
        let summary = MediaEventMessage.Recording(sizeBytes: 288_044, sha256: "ab", channels: 2, startedAtMs: 1_796_300_000_000, pauses: "3120-5380",
                                                  startedBy: "1001", callID: "abc")
        let e = try MediaEventMessage.decode(MediaEventMessage(channelID: "c", kind: .recordDone, tag: 5, reason: "hangup", path: "/r/x.wav", durationMs: 9000,
                                                               timestampMs: 1, recording: summary).encodedBody())
        #expect(e.recording == summary)
        let plain = try MediaEventMessage.decode(MediaEventMessage(channelID: "c", kind: .playDone, timestampMs: 1).encodedBody())
        #expect(plain.recording == nil)
        let q = try RecordingRequest.decode(RecordingRequest(action: "download", fromMs: 1, toMs: 2, agent: "1001", id: 9, offset: 524_288, score: 80,
                                                             comment: "ok", limit: 5, sipExtension: "1003").encodedBody())
        #expect(q.action == "download" && q.id == 9 && q.offset == 524_288 && q.score == 80 && q.agent == "1001" && q.sipExtension == "1003" && q.limit == 5)
        let reply = try RecordingReply.decode(RecordingReply(summary: "s", columns: ["a"], rows: [["1"]], data: [1, 2, 3], totalBytes: 3, sha256: "ff").encodedBody())
        #expect(reply.data == [1, 2, 3] && reply.totalBytes == 3 && reply.rows == [["1"]] && reply.sha256 == "ff")
        #expect(try StopMedia.decode(StopMedia(channelID: "c", what: .playAndCollect).encodedBody()).what == .playAndCollect)
    }

    @Test func supervisionAndBoardMessagesRoundTrip() throws {
        let s = SupervisorCommand(action: .forceRelease, agent: "1001", supervisor: "2001", sipExtension: "1003", reason: "abusive")
        let d = try SupervisorCommand.decode(s.encodedBody())
        #expect(d.action == .forceRelease && d.agent == "1001" && d.supervisor == "2001" && d.sipExtension == "1003" && d.reason == "abusive")
        #expect(throws: ProtocolError.self) { try SupervisorCommand.decode(s.encodedBody().map { $0 == 6 ? 77 : $0 }) }
        #expect(SupervisorCommand.Action.allCases.allSatisfy { SupervisorCommand.Action(word: $0.word) == $0 })
        let relay = try PeerRelay.decode(PeerRelay(peer: "flow-2", s).encodedBody())
        let inner = try SupervisorCommand.decode(relay.body)
        #expect(relay.peer == "flow-2" && relay.innerType == SupervisorCommand.messageType && inner.agent == "1001")
        let caller = BoardUpdate.Caller(call: "c1", caller: "5550001", arrivedMs: 1_796_300_000_000, priority: -2)
        let agent = BoardUpdate.Agent(code: "1001", state: "not-ready", sinceMs: 1_796_300_000_500, reason: "lunch", queues: ["sales", "support"], calls: 3, talkMs: 90_000)
        let call = BoardUpdate.Call(id: "u-1", arrivedMs: 1, queuedMs: 2, offeredMs: nil, answeredMs: 4, endedMs: 9, queue: "sales", agent: "1001", flow: "main",
                                    disposition: "answered", holdMs: 1, wrapupMs: 2, serviceLevelSeconds: 30, shortAbandonSeconds: 5)
        let u = BoardUpdate(server: "flow-1", full: true, sentMs: 7, waiting: ["sales": [caller], "empty": []], agents: [agent], removedAgents: ["1002"],
                            calls: [call], roster: ["1001"])
        let carried = try PeerBroadcast.decode(PeerBroadcast(u).encodedBody())
        #expect(carried.innerType == BoardUpdate.messageType)
        let b = try BoardUpdate.decode(carried.body)
        #expect(b.server == "flow-1" && b.full && b.waiting == ["sales": [caller], "empty": []] && b.agents == [agent] && b.removedAgents == ["1002"]
                && b.calls == [call] && b.roster == ["1001"])
        // A big update is cut under the body limit; the first part keeps the roster.
        let big = BoardUpdate(server: "f", full: true, sentMs: 1, agents: Array(repeating: agent, count: 1200), roster: Array(repeating: "x", count: 1200))
        let parts = big.chunked()
        #expect(parts.count == 3 && parts[0].full && parts[0].roster?.count == 1200 && !parts[1].full && parts.map(\.agents.count) == [500, 500, 200])
        let view = BoardView(full: true, generatedMs: 5, changedMs: 4, queues: [.init(name: "sales", figures: ["waiting": "1"], callers: [["caller": "5550001"]])],
                             agents: [["agent": "1001", "state": "ready"]], removedAgents: ["1002"])
        let v = try BoardPush.decode(BoardPush(view).encodedBody()).view
        #expect(v == view)
        let cut = BoardView(full: true, generatedMs: 1, queues: Array(repeating: view.queues[0], count: 120), agents: Array(repeating: ["a": "b"], count: 2500)).chunked()
        #expect(cut.count == 3 && cut[0].following == 2 && cut[0].full && !cut[1].full && cut.map(\.queues.count) == [50, 50, 20]
                && cut.map(\.agents.count) == [1000, 1000, 500])
        #expect(try BoardRequest.decode(BoardRequest(watch: true).encodedBody()).watch)
    }
}
