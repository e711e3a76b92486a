import Testing
@testable import Protocol

/// Property-style: many random instances of every message round-trip through the TLV body
/// and the frame codec (with and without compression).
@Suite struct MessageRoundTripTests {
    static func randomString(_ g: inout SplitMix64) -> String {
        let alphabet = Array("abcXYZ019 -_/:.@中文呼叫中心é\u{1F4DE}")
        return String((0..<Int.random(in: 0...40, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
    }

    static func randomBytes(_ g: inout SplitMix64, _ range: ClosedRange<Int>) -> [UInt8] {
        (0..<Int.random(in: range, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    static func randomRole(_ g: inout SplitMix64) -> PeerRole { PeerRole.allCases.randomElement(using: &g)! }

    func roundTrip<M: WireMessage>(_ m: M, _ g: inout SplitMix64) throws {
        #expect(try M.decode(m.encodedBody()) == m)
        let codec = FrameCodec(compressionThreshold: Bool.random(using: &g) ? 1 : 0)
        let frame = Frame(type: M.messageType, flags: Bool.random(using: &g) ? [.response] : [],
                          correlationID: UInt32.random(in: 0...UInt32.max, using: &g), body: m.encodedBody())
        var b = ByteBuffer(bytes: try codec.encode(frame))
        let back = try #require(try codec.decode(&b))
        #expect(back == frame)
        #expect(try M.decode(back.body) == m)
    }

    @Test func randomMessagesRoundTrip() throws {
        var g = SplitMix64(seed: 20261122)
        for _ in 0..<300 {
            try roundTrip(Heartbeat(sentAtMs: UInt64.random(in: 0...UInt64.max, using: &g)), &g)
            try roundTrip(ErrorMessage(code: ErrorCode(rawValue: UInt16.random(in: 0...UInt16.max, using: &g)), reason: Self.randomString(&g)), &g)
            try roundTrip(Goodbye(reason: Self.randomString(&g)), &g)
            try roundTrip(Challenge(nonce: Self.randomBytes(&g, 16...64), role: Self.randomRole(&g), minVersion: UInt8.random(in: 0...255, using: &g),
                                    maxVersion: UInt8.random(in: 0...255, using: &g), name: Self.randomString(&g)), &g)
            try roundTrip(Hello(role: Self.randomRole(&g), minVersion: 1, maxVersion: UInt8.random(in: 1...9, using: &g), name: Self.randomString(&g),
                                software: Self.randomString(&g), proof: Self.randomBytes(&g, 0...64)), &g)
            try roundTrip(Welcome(version: UInt8.random(in: 0...255, using: &g), role: Self.randomRole(&g), name: Self.randomString(&g),
                                  software: Self.randomString(&g), heartbeatIntervalMs: UInt32.random(in: 0...UInt32.max, using: &g),
                                  sessionID: UInt64.random(in: 0...UInt64.max, using: &g)), &g)
            let nodes = (0..<Int.random(in: 0...8, using: &g)).map { _ in
                NodeInfo(role: Self.randomRole(&g), name: Self.randomString(&g), address: Self.randomString(&g), software: Self.randomString(&g),
                         protocolVersion: UInt8.random(in: 0...255, using: &g), uptimeSeconds: UInt64.random(in: 0...UInt64.max, using: &g),
                         attachedTo: Self.randomString(&g), state: Self.randomString(&g))
            }
            try roundTrip(TopologyReport(nodes: nodes), &g)
            try roundTrip(TopologyRequest(), &g)
            try roundTrip(ChannelEvent(channelID: Self.randomString(&g), kind: ChannelEvent.Kind(rawValue: UInt8.random(in: 1...7, using: &g))!,
                                       direction: Bool.random(using: &g) ? .inbound : .outbound, caller: Self.randomString(&g),
                                       called: Self.randomString(&g), sipCode: UInt16.random(in: 0...699, using: &g), cause: Self.randomString(&g),
                                       timestampMs: UInt64.random(in: 0...UInt64.max, using: &g)), &g)
            try roundTrip(AnswerChannel(channelID: Self.randomString(&g)), &g)
            try roundTrip(RejectChannel(channelID: Self.randomString(&g), sipCode: UInt16.random(in: 400...699, using: &g), reason: Self.randomString(&g)), &g)
            try roundTrip(HangupChannel(channelID: Self.randomString(&g), cause: Self.randomString(&g)), &g)
            try roundTrip(Originate(destination: Self.randomString(&g), callerID: Self.randomString(&g), timeoutMs: UInt32.random(in: 0...UInt32.max, using: &g)), &g)
        }
    }

    /// Random mutations of valid bodies never crash the decoder: they decode or throw.
    @Test func mutatedBodiesNeverCrash() {
        var g = SplitMix64(seed: 7)
        let base = TopologyReport(nodes: [NodeInfo(role: .flowServer, name: "flow-1", address: "127.0.0.1:1", software: "x",
                                                   protocolVersion: 1, uptimeSeconds: 5, attachedTo: "ct-1", state: "up")]).encodedBody()
        var decoded = 0
        for _ in 0..<5000 {
            var b = base
            for _ in 0..<Int.random(in: 1...6, using: &g) {
                switch Int.random(in: 0...2, using: &g) {
                case 0: b[Int.random(in: 0..<b.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                case 1: if b.count > 1 { b.removeLast(Int.random(in: 1..<b.count, using: &g)) }
                default: b.insert(UInt8.random(in: 0...255, using: &g), at: Int.random(in: 0...b.count, using: &g))
                }
            }
            if (try? TopologyReport.decode(b)) != nil { decoded += 1 }
        }
        #expect(decoded < 5000)
    }
}
