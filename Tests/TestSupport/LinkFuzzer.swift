import Foundation
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// A blocking link client for fuzzing and probing: TCP, the link handshake (docs/protocol.md
/// §7) as any role, then frames written and read synchronously. Not for production use — the
/// services use `Connection` on their event loops.
public final class LinkTestClient {
    public let socket: RawClient
    public let codec: FrameCodec
    private var inbound = ByteBuffer()
    private var nextCorrelation: UInt32 = 1
    /// Every ChannelEvent / AgentEvent / MediaEvent that arrived while waiting for responses.
    public private(set) var events: [Frame] = []

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Connects to `port` and completes the handshake as `role`/`name` with `secret`.
    public init(port: Int, host: String = "127.0.0.1", secret: [UInt8], role: PeerRole, name: String,
                expectedPeer: Set<PeerRole>, codec: FrameCodec = FrameCodec()) throws {
        socket = try RawClient(port: port, host: host)
        self.codec = codec
        var hs = HandshakeStateMachine(dialler: LinkIdentity(role: role, name: name, software: "hotline-fuzz"), secret: secret,
                                       expectedPeerRoles: expectedPeer)
        while !hs.isEstablished {
            guard let f = try readFrame(seconds: 5) else { throw Failure(description: "handshake: the peer closed or was silent") }
            let action: HandshakeStateMachine.Action
            switch (f.type, f.isResponse, f.isError) {
            case (Challenge.messageType, false, false): action = hs.challengeReceived(try Challenge.decode(f.body))
            case (Hello.messageType, true, false): action = hs.welcomeReceived(try Welcome.decode(f.body))
            case (_, _, true), (ErrorMessage.messageType, false, false): action = hs.errorReceived(try ErrorMessage.decode(f.body))
            default: action = hs.unexpectedFrame(f.type)
            }
            switch action {
            case .sendHello(let h): guard send(Frame(type: Hello.messageType, body: h.encodedBody())) else { throw Failure(description: "handshake: send failed") }
            case .established: break
            case .close(let e), .rejectAndClose(let e): throw Failure(description: "handshake refused: \(e)")
            case .sendChallenge, .acceptAndSendWelcome: throw Failure(description: "handshake: acceptor action on a dialler")
            }
        }
    }

    @discardableResult
    public func send(_ frame: Frame) -> Bool {
        var b = ByteBuffer()
        guard (try? codec.encode(frame, into: &b)) != nil else { return false }
        return socket.send(Array(b.readableBytesView))
    }

    /// Sends a request and returns its correlation id (a fresh one unless `correlation` is given).
    @discardableResult
    public func sendRequest(type: MessageType, body: [UInt8], flags: FrameFlags = [], correlation: UInt32? = nil) -> UInt32? {
        let id = correlation ?? nextCorrelation
        if correlation == nil { nextCorrelation = nextCorrelation == UInt32.max ? 1 : nextCorrelation + 1 }
        return send(Frame(type: type, flags: flags, correlationID: id, body: body)) ? id : nil
    }

    /// Waits for the response to `correlation`: nil when the connection closed or `seconds` passed.
    /// Heartbeats are answered by being ignored (we send often enough); events are kept.
    public func response(to correlation: UInt32, seconds: Double = 5) throws -> Frame? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let f = try readFrame(seconds: deadline.timeIntervalSinceNow) else { return nil }
            if f.isResponse, f.correlationID == correlation { return f }
            if !f.isResponse, f.type != MessageCatalogue.heartbeat { events.append(f); if events.count > 10_000 { events.removeFirst(5_000) } }
        }
        return nil
    }

    public func request<Req: WireMessage>(_ m: Req, seconds: Double = 5) throws -> Frame? {
        guard let id = sendRequest(type: Req.messageType, body: m.encodedBody()) else { return nil }
        return try response(to: id, seconds: seconds)
    }

    /// One frame, or nil when the peer closed or `seconds` passed.
    public func readFrame(seconds: Double) throws -> Frame? {
        let deadline = Date().addingTimeInterval(max(0, seconds))
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let f = try codec.decode(&inbound) { inbound.discardReadBytes(); return f }
            let left = deadline.timeIntervalSinceNow
            guard left > 0, socket.fd >= 0 else { return nil }
            var pfd = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max(1, left * 1000))) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { socket.close(); return nil }
            if n < 0 { if errno == EAGAIN || errno == EINTR { continue }; socket.close(); return nil }
            inbound.writeBytes(buf[0..<n])
        }
    }

    public var isOpen: Bool { socket.fd >= 0 }
    public func close() { socket.close() }
}

/// A mutation fuzzer for the protocol links after the handshake (and after an operator login on
/// the App-Operate link): for each request family it sends valid seeds bent by bit flips,
/// truncation, extension, TLV length and tag damage, extreme integers, field duplication and
/// foreign bodies, then a probe request whose answer shows the server alive. A closed
/// connection is re-opened (and logged in again); the caller checks that the server process
/// never died. Deterministic for a seed.
public final class LinkFuzzer {
    public struct Family {
        public let name: String
        public let type: MessageType
        /// Valid bodies to start from; `channels` are ids the peer has told us about (live
        /// channels on the flow link), so seeds can aim at real state.
        public let seeds: (_ channels: [String]) -> [[UInt8]]
        public init(name: String, type: MessageType, seeds: @escaping (_ channels: [String]) -> [[UInt8]]) {
            self.name = name
            self.type = type
            self.seeds = seeds
        }
    }

    public struct Tally: Sendable {
        public var sent = 0, answered = 0, errors = 0, closed = 0
    }

    public struct Report: Sendable {
        public var perFamily: [String: Tally] = [:]
        public var probesAnswered = 0
        public var reconnects = 0
        public var seconds = 0.0
        public var total: Tally {
            perFamily.values.reduce(into: Tally()) { $0.sent += $1.sent; $0.answered += $1.answered; $0.errors += $1.errors; $0.closed += $1.closed }
        }

        public var summary: String {
            let t = total
            var lines = [String(format: "%d mutated requests in %.1f s (%.0f/s): %d answered (%d with an error), %d closed their connection; %d probes answered, %d reconnects",
                                t.sent, seconds, Double(t.sent) / max(seconds, 0.001), t.answered, t.errors, t.closed, probesAnswered, reconnects)]
            for (name, f) in perFamily.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(name): \(f.sent) sent, \(f.answered) answered (\(f.errors) errors), \(f.closed) closed")
            }
            return lines.joined(separator: "\n")
        }
    }

    private var rng: SplitMix64
    private let connect: () throws -> LinkTestClient
    private let probe: (LinkTestClient) throws -> Bool
    private var client: LinkTestClient?
    public private(set) var report = Report()

    /// `connect` opens an established (and, on the app link, logged-in) client; `probe` sends
    /// one harmless request and says whether it was answered.
    public init(seed: UInt64, connect: @escaping () throws -> LinkTestClient, probe: @escaping (LinkTestClient) throws -> Bool) {
        rng = SplitMix64(seed: seed)
        self.connect = connect
        self.probe = probe
    }

    /// Sends `count` mutated requests per family (fewer if `deadline` passes first), a probe
    /// after every `batch`. Throws when the server stops answering probes on a fresh connection.
    public func run(_ families: [Family], count: Int, batch: Int = 25, deadline: Date? = nil) throws -> Report {
        let start = Date()
        for family in families {
            var tally = report.perFamily[family.name] ?? Tally()
            var i = 0
            while i < count {
                if let deadline, Date() >= deadline { break }
                let c = try live()
                let seeds = family.seeds(channels(c))
                for _ in 0..<min(batch, count - i) {
                    let seed = seeds.isEmpty ? [] : seeds[Int(rng.next() % UInt64(seeds.count))]
                    let (type, body, flags) = mutate(family.type, seed)
                    guard let id = c.sendRequest(type: type, body: body, flags: flags) else { tally.closed += 1; break }
                    tally.sent += 1
                    i += 1
                    // Answers arrive in any order (database work runs off the loop): wait briefly;
                    // a frame flagged as a response or error expects no answer.
                    if let r = try c.response(to: id, seconds: flags.isEmpty ? 0.5 : 0.02) {
                        tally.answered += 1
                        if r.isError { tally.errors += 1 }
                    } else if !c.isOpen {
                        tally.closed += 1
                        break
                    }
                }
                if c.isOpen {
                    if try probe(c) { report.probesAnswered += 1 } else { c.close() }
                }
            }
            report.perFamily[family.name] = tally
        }
        report.seconds = Date().timeIntervalSince(start)
        client?.close()
        client = nil
        return report
    }

    private func channels(_ c: LinkTestClient) -> [String] {
        var ids: [String] = []
        for f in c.events.suffix(200) where f.type == MessageCatalogue.channelEvent {
            if let e = try? ChannelEvent.decode(f.body), !ids.contains(e.channelID) { ids.append(e.channelID) }
        }
        return ids
    }

    /// The open client, or a new one (a server that cannot be reached three times is down).
    private func live() throws -> LinkTestClient {
        if let c = client, c.isOpen { return c }
        client?.close()
        var last: Error?
        for attempt in 0..<3 {
            do {
                let c = try connect()
                guard try probe(c) else { c.close(); throw LinkTestClient.Failure(description: "a fresh connection's probe was not answered") }
                report.probesAnswered += 1
                if client != nil || attempt > 0 { report.reconnects += 1 }
                client = c
                return c
            } catch {
                last = error
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        throw LinkTestClient.Failure(description: "the server stopped answering: \(last.map { "\($0)" } ?? "?")")
    }

    // MARK: mutations

    private func mutate(_ type: MessageType, _ seed: [UInt8]) -> (MessageType, [UInt8], FrameFlags) {
        var body = seed
        var type = type
        var flags: FrameFlags = []
        // One in eight goes as it is (the real paths behind decoding); three in eight keep the
        // TLV structure and bend only values, so they reach the handlers too.
        let mode = rng.next() % 8
        if mode == 0 { return (type, body, flags) }
        if mode <= 3 {
            for _ in 0..<(1 + rng.next() % 2) { bendValue(&body) }
            return (type, body, flags)
        }
        let rounds = 1 + Int(rng.next() % 3)
        for _ in 0..<rounds {
            switch rng.next() % 12 {
            case 0, 1: // bit flips
                if !body.isEmpty { for _ in 0..<(1 + rng.next() % 8) { let i = Int(rng.next() % UInt64(body.count)); body[i] ^= UInt8(1 << (rng.next() % 8)) } }
            case 2: // truncate
                if !body.isEmpty { body = Array(body.prefix(Int(rng.next() % UInt64(body.count)))) }
            case 3: // append random bytes
                body += (0..<(1 + rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 4: // a field's length made absurd
                if let at = fieldOffsets(body).randomElement(using: &rng) {
                    let v: UInt32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, UInt32(truncatingIfNeeded: rng.next())][Int(rng.next() % 5)]
                    withUnsafeBytes(of: v.bigEndian) { for k in 0..<4 { body[at + 2 + k] = $0[k] } }
                }
            case 5: // a field's tag changed (unknown mandatory, other known tags)
                if let at = fieldOffsets(body).randomElement(using: &rng) {
                    let tag: UInt16 = [0, 0x8000 | UInt16(truncatingIfNeeded: rng.next() % 40), UInt16(truncatingIfNeeded: rng.next() % 40), 0xFFFF][Int(rng.next() % 4)]
                    body[at] = UInt8(tag >> 8); body[at + 1] = UInt8(tag & 0xFF)
                }
            case 6: // a field's value replaced by an extreme integer of its length
                if let at = fieldOffsets(body).randomElement(using: &rng) {
                    let len = Int(UInt32(body[at + 2]) << 24 | UInt32(body[at + 3]) << 16 | UInt32(body[at + 4]) << 8 | UInt32(body[at + 5]))
                    let fill: UInt8 = [0xFF, 0x80, 0x00, 0x7F][Int(rng.next() % 4)]
                    for k in 0..<min(len, 8) where at + 6 + k < body.count { body[at + 6 + k] = k == 0 ? fill : (fill == 0x80 ? 0 : fill) }
                }
            case 7: // a field duplicated
                if let at = fieldOffsets(body).randomElement(using: &rng), let end = fieldEnd(body, at) { body += body[at..<end] }
            case 8: // a long string field
                var w = TLVWriter()
                w.write(FieldTag(UInt16(1 + rng.next() % 20)), String(repeating: ["9", "A", "\u{0}", "é", "%s", "'"][Int(rng.next() % 6)], count: Int(1 + rng.next() % 5000)))
                body += w.bytes
            case 9: // another family's type with this body, or a response/error flag
                if rng.next() % 2 == 0 { type = MessageType(rawValue: UInt16(truncatingIfNeeded: rng.next())) } else { flags = rng.next() % 2 == 0 ? [.response] : [.error] }
            case 10: // nested groups deep
                var inner: [UInt8] = []
                for _ in 0..<Int(50 + rng.next() % 200) {
                    var h: [UInt8] = [0x00, UInt8(1 + rng.next() % 20)]
                    withUnsafeBytes(of: UInt32(inner.count).bigEndian) { h += $0 }
                    inner = h + inner
                }
                body += inner
            default: // entirely random body
                body = (0..<(rng.next() % 256)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        return (type, body, flags)
    }

    /// Replaces one top-level field's value, keeping the TLV structure valid: an extreme integer
    /// of the same width, or a string that is empty, huge, numeric overflow, a path, SQL, not
    /// UTF-8, or full of control characters.
    private func bendValue(_ body: inout [UInt8]) {
        guard let at = fieldOffsets(body).randomElement(using: &rng), let end = fieldEnd(body, at) else { return }
        let old = end - at - 6
        var value: [UInt8]
        if [1, 2, 4, 8].contains(old), rng.next() % 2 == 0 {
            let patterns: [UInt8] = [0xFF, 0x80, 0x00, 0x7F]
            let p = patterns[Int(rng.next() % 4)]
            value = (0..<old).map { $0 == 0 ? p : (p == 0x80 ? 0 : p) }
        } else {
            let strings = ["", "0", "-1", "9223372036854775808", "18446744073709551616", "1e999", "NaN", "../../../../etc/passwd",
                           "'; DROP TABLE calls; --", "%s%s%s%n", String(repeating: "A", count: 70_000), "\u{0}\u{1}\u{7F}",
                           "*", "ready", "2026-13-45", "-9223372036854775809", "\u{202E}rtl", "😀"]
            value = Array(strings[Int(rng.next() % UInt64(strings.count))].utf8)
            if rng.next() % 5 == 0 { value = [0xC3, 0x28, 0xFF, 0xFE] }
        }
        var header = Array(body[at..<(at + 2)])
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { header += $0 }
        body.replaceSubrange(at..<end, with: header + value)
    }

    /// Offsets of the top-level TLV fields of `body` (as far as it parses).
    private func fieldOffsets(_ body: [UInt8]) -> [Int] {
        var out: [Int] = []
        var i = 0
        while i + 6 <= body.count, out.count < 64 {
            out.append(i)
            guard let end = fieldEnd(body, i) else { break }
            i = end
        }
        return out
    }

    private func fieldEnd(_ body: [UInt8], _ at: Int) -> Int? {
        guard at + 6 <= body.count else { return nil }
        let len = Int(UInt32(body[at + 2]) << 24 | UInt32(body[at + 3]) << 16 | UInt32(body[at + 4]) << 8 | UInt32(body[at + 5]))
        let end = at + 6 + len
        return end <= body.count ? end : nil
    }
}

/// SplitMix64: a tiny seeded generator, so a failing run can be replayed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
