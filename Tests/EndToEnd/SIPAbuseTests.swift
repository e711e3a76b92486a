import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Issue 21, items 3 and 5, over real sockets: one address cannot take every connection slot
/// from phones or Flow-Servers, and the CT-Server cannot be aimed at a third party (no media to
/// an unverified SDP address, no amplified responses). docs/operations.md, "Limits" and
/// "No reflection".
@Suite(.serialized) struct SIPAbuseTests {
    // MARK: SIP over TCP

    /// Sends a SIP request on a TCP connection and reads the first final response.
    static func exchange(_ c: RawClient, _ text: String) -> String {
        guard c.send(Array(text.utf8)) else { return "" }
        var got = ""
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            got += String(decoding: buf[0..<n], as: UTF8.self)
            for r in got.components(separatedBy: "\r\n\r\n") where r.hasPrefix("SIP/2.0 ") && !r.hasPrefix("SIP/2.0 100") { return r }
        }
        return got
    }

    static func register(_ c: RawClient, sipPort: Int, cseq: Int, authorization: String? = nil) -> String {
        var m = "REGISTER sip:127.0.0.1:\(sipPort) SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKtcp\(cseq)x\(UUID().uuidString.prefix(6))\r\n"
        m += "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=tcp\(cseq)\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: tcp-phone-1001\r\n"
        m += "CSeq: \(cseq) REGISTER\r\nContact: <sip:1001@127.0.0.1:5099;transport=tcp>\r\n"
        if let authorization { m += "Authorization: \(authorization)\r\n" }
        return exchange(c, m + "Content-Length: 0\r\n\r\n")
    }

    static func options(_ c: RawClient, sipPort: Int, tag: String) -> String {
        exchange(c, "OPTIONS sip:127.0.0.1:\(sipPort) SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bKopt\(tag)\r\nMax-Forwards: 70\r\n"
                 + "From: <sip:probe@127.0.0.1>;tag=\(tag)\r\nTo: <sip:127.0.0.1>\r\nCall-ID: opt-\(tag)\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    }

    /// A phone that registers with its password over TCP holds its connection however many
    /// strangers arrive; one address gets its share and no more; strangers' idle connections
    /// close after the short pre-authentication timeout; refusals are logged a few times, not
    /// once each.
    @Test func oneAddressCannotTakeThePhonesTCPSlots() throws {
        let ct = try CTServerUnderTest(extraSIP: "  max_tcp_connections: 20\n  max_tcp_connections_per_source: 8\n  tcp_preauth_idle_seconds: 4")
        defer { ct.stop() }
        // One address tries 30: it gets 8.
        var hostile = try (0..<30).map { _ in try RawClient(port: ct.sip, source: "127.0.0.2") }
        Thread.sleep(forTimeInterval: 0.5)
        let refused = hostile.filter { $0.isClosed(within: 0.05) }.count
        #expect(refused == 22, "one address held \(30 - refused) connections (cap 8)")
        // Another address still gets in, and the phone authenticates over TCP.
        let phone = try RawClient(port: ct.sip, source: "127.0.0.1")
        let challenge = Self.register(phone, sipPort: ct.sip, cseq: 1)
        let nonce = try #require(challenge.range(of: #"nonce="[^"]*""#, options: .regularExpression).map { String(challenge[$0].dropFirst(7).dropLast()) },
                                 "\(challenge)")
        let ha1 = Crypto.hexDigest(.md5, "1001:hotline:pw-1001-secret"), ha2 = Crypto.hexDigest(.md5, "REGISTER:sip:127.0.0.1")
        let auth = "Digest username=\"1001\", realm=\"hotline\", nonce=\"\(nonce)\", uri=\"sip:127.0.0.1\", response=\"\(Crypto.hexDigest(.md5, "\(ha1):\(nonce):\(ha2)"))\", algorithm=MD5"
        #expect(Self.register(phone, sipPort: ct.sip, cseq: 2, authorization: auth).hasPrefix("SIP/2.0 200"))
        // Strangers from many addresses fill the global limit (20) and beyond: each newcomer
        // closes the oldest unauthenticated connection, never the phone's.
        for a in 3...6 { hostile += try (0..<8).map { _ in try RawClient(port: ct.sip, source: "127.0.0.\(a)") } }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(Self.options(phone, sipPort: ct.sip, tag: "after-flood").hasPrefix("SIP/2.0 200"), "the registered phone kept its connection")
        let open = hostile.filter { !$0.isClosed(within: 0.05) }.count
        #expect(open <= 19, "strangers hold \(open) of the 20 slots (the phone holds one)")
        // A newcomer still gets a slot (evicting a stranger) and is answered.
        let late = try RawClient(port: ct.sip, source: "127.0.0.9")
        #expect(Self.options(late, sipPort: ct.sip, tag: "late").hasPrefix("SIP/2.0 200"))
        // Unauthenticated connections close after 4 s idle; the phone's stays.
        #expect(TestSupport.waitUntil(8) { hostile.allSatisfy { $0.isClosed(within: 0.01) } }, "idle strangers were closed")
        #expect(Self.options(phone, sipPort: ct.sip, tag: "after-idle").hasPrefix("SIP/2.0 200"))
        let lines = ct.process.outputLines.filter { $0.contains("SIP TCP: refused") }
        #expect(lines.count >= 1 && lines.count <= 3, "refusal lines: \(lines)")
    }

    /// Strangers re-opening link connections cannot keep a Flow-Server from attaching: each
    /// address holds at most 3 connections in the handshake, and at the limit the oldest
    /// unauthenticated one makes room for the newcomer.
    @Test func strangersCannotKeepAFlowServerOut() throws {
        let ct = try CTServerUnderTest(top: "  max_connections: 6\n  max_unauthenticated_per_source: 3", name: "ct-slots")
        defer { ct.stop() }
        var strangers = try (0..<10).map { _ in try RawClient(port: ct.link, source: "127.0.0.2") }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(strangers.filter { !$0.isClosed(within: 0.05) }.count == 3, "one address holds 3 connections in the handshake")
        // Three more addresses fill the 6 slots and keep re-opening.
        for a in 3...5 { strangers += try (0..<3).map { _ in try RawClient(port: ct.link, source: "127.0.0.\(a)") } }
        let flow = try FlowServerUnderTest(name: "flow-slots", ct: ct.link)
        defer { flow.stop() }
        #expect(ct.process.waitForLine(containing: "flow-server flow-slots attached", seconds: 10) != nil, "\(ct.process.outputText.suffix(1500))")
        let lines = ct.process.outputLines.filter { $0.contains("link: refused") }
        #expect(lines.count >= 1 && lines.count <= 3, "refusal lines: \(lines)")
    }

    // MARK: no reflection

    /// A caller whose SDP names a third party (127.0.0.3) gets our audio only after its own RTP
    /// latches — and then at the address the RTP came from; the third party receives nothing.
    @Test func callerSDPCannotAimMediaAtAThirdParty() throws {
        let ct = try CTServerUnderTest(name: "ct-reflect")
        defer { ct.stop() }
        let victim = try UDPTestSocket(host: "127.0.0.3")
        let caller = try UDPTestSocket(host: "127.0.0.1")
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio \(victim.port) RTP/AVP 0 101\r\n"
            + "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        var invite = "INVITE sip:*44@127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bKrefl1;rport\r\n"
        invite += "Max-Forwards: 70\r\nFrom: <sip:attacker@127.0.0.1>;tag=a1\r\nTo: <sip:*44@127.0.0.1>\r\nCall-ID: reflect-1\r\nCSeq: 1 INVITE\r\n"
        invite += "Contact: <sip:attacker@127.0.0.1:\(caller.port)>\r\nContent-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        var ok = try caller.request(invite, port: ct.sip)
        while ok.hasPrefix("SIP/2.0 18") { ok = caller.receive() }
        #expect(ok.hasPrefix("SIP/2.0 200"), "\(ok)")
        let toTag = ok.range(of: #"To: [^\r]*tag=[A-Za-z0-9]+"#, options: .regularExpression).map { String(ok[$0]).components(separatedBy: "tag=").last ?? "" } ?? ""
        var ack = "ACK sip:*44@127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bKrefl2;rport\r\nMax-Forwards: 70\r\n"
        ack += "From: <sip:attacker@127.0.0.1>;tag=a1\r\nTo: <sip:*44@127.0.0.1>;tag=\(toTag)\r\nCall-ID: reflect-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        Sockets.sendTo(caller.fd, Array(ack.utf8), try SocketAddress(host: "127.0.0.1", port: ct.sip))
        // The prompt plays for over a second: the third party hears none of it.
        #expect(victim.countDatagrams(seconds: 1.0) == 0, "the SDP's third party received our RTP")
        // The caller's own RTP (from the signalling host) latches; audio then flows to it.
        let mediaPort = try #require(ok.range(of: #"m=audio [0-9]+"#, options: .regularExpression).map { Int(ok[$0].dropFirst(8)) ?? 0 })
        var rtp: [UInt8] = [0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78]
        rtp += [UInt8](repeating: 0xFF, count: 160)
        Sockets.sendTo(caller.fd, rtp, try SocketAddress(host: "127.0.0.1", port: mediaPort))
        #expect(caller.countDatagrams(seconds: 0.5, minimumSize: 100) > 5, "after latching the caller hears the prompt")
        #expect(victim.countDatagrams(seconds: 0.3) == 0)
    }

    /// A spoofed INVITE padded with Vias cannot make us send much more than it: absurd Via
    /// counts get nothing; otherwise an unverified source gets at most three times its request
    /// plus one final answer, however long it fails to ACK.
    @Test func unverifiedSourcesGetNoAmplification() throws {
        let ct = try CTServerUnderTest(name: "ct-amplify")
        defer { ct.stop() }
        func invite(_ sock: UDPTestSocket, vias: Int, id: String) -> [UInt8] {
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            var m = "INVITE sip:*43@127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP \(sock.host):\(sock.port);branch=z9hG4bK\(id);rport\r\n"
            for i in 1..<vias { m += "Via: SIP/2.0/UDP 192.0.2.\(i % 250 + 1):5060;branch=z9hG4bKpad\(id)\(i)\r\n" }
            m += "Max-Forwards: 70\r\nFrom: <sip:victim@127.0.0.1>;tag=\(id)\r\nTo: <sip:*43@127.0.0.1>\r\nCall-ID: amp-\(id)\r\nCSeq: 1 INVITE\r\n"
            m += "Content-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
            return Array(m.utf8)
        }
        let absurd = try UDPTestSocket(host: "127.0.0.5")
        let big = invite(absurd, vias: 1000, id: "absurd")
        Sockets.sendTo(absurd.fd, big, try SocketAddress(host: "127.0.0.1", port: ct.sip))
        #expect(absurd.countBytes(seconds: 1.5) == 0, "1,000 Vias are dropped unanswered")
        let padded = try UDPTestSocket(host: "127.0.0.6")
        let request = invite(padded, vias: 60, id: "padded")
        Sockets.sendTo(padded.fd, request, try SocketAddress(host: "127.0.0.1", port: ct.sip))
        // Without the budget: 100, 200 and its retransmissions at 0.5, 1.5 and 3.5 s (5 copies).
        let back = padded.countBytes(seconds: 5)
        #expect(back > 0)
        #expect(Double(back) <= 4.2 * Double(request.count), "\(request.count) bytes in, \(back) out")
    }
}

extension UDPTestSocket {
    /// The next datagram as text ("" after the socket's 3-s timeout).
    func receive() -> String {
        var buf = [UInt8](repeating: 0, count: 65535)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
    }

    /// Datagrams (at least `minimumSize` bytes) received within `seconds`.
    func countDatagrams(seconds: Double, minimumSize: Int = 1) -> Int {
        var n = 0
        receiveFor(seconds) { if $0 >= minimumSize { n += 1 } }
        return n
    }

    func countBytes(seconds: Double) -> Int {
        var total = 0
        receiveFor(seconds) { total += $0 }
        return total
    }

    private func receiveFor(_ seconds: Double, _ each: (Int) -> Void) {
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(seconds)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while Date() < deadline {
            guard poll(&pfd, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { each(n) }
        }
    }
}
