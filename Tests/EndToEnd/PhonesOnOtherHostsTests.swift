import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Phones on other hosts and behind NAT, with real networks: the CT-Server runs in its own
/// network namespace listening on every interface (0.0.0.0); a baresip phone in the root
/// namespace reaches it over a veth pair (a second host), or through a router namespace that
/// masquerades with nftables (a home NAT). Each phone registers with digest auth and calls *43
/// (the echo test): it must hear itself, which needs our Contact, Via and SDP to carry the
/// address it reached us at — never 0.0.0.0 — and, behind NAT, our RTP to follow the packets'
/// source rather than the private address in its SDP.
@Suite(.serialized) struct PhonesOnOtherHostsTests {
    /// A CT-Server inside `ns`, listening on 0.0.0.0:5060, RTP on 20000–20001 only (so a test
    /// knows the port), user 1001.
    static func ctServer(in ns: String, dir: URL, extra: String = "") throws -> ChildProcess {
        let cfg = dir.appendingPathComponent("ct.yaml")
        try """
        name: ct-nat
        sip:
          listen: 0.0.0.0:5060
          rtp_port_min: 20000
          rtp_port_max: 20001
          users:
            - user: "1001"
              password: "pw-1001-secret"
        \(extra)
        flow_link:
          listen: 127.0.0.1:7100
        """.write(to: cfg, atomically: true, encoding: .utf8)
        let ct = try ChildProcess(NetworkLab.ip, ["netns", "exec", ns, TestSupport.binDirectory.appendingPathComponent("ct-server").path, "--config", cfg.path],
                                  environment: CTServerUnderTest.environment)
        #expect(ct.waitForLine(containing: " sip=") != nil, "\(ct.outputText)")
        return ct
    }

    /// A phone at `address` registered as 1001 to `server`; calls *43 for 4 s (it stays registered).
    static func echoCall(address: String, server: String, ct: ChildProcess, dir: URL) throws -> Baresip {
        let wav = dir.appendingPathComponent("phone.wav")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", wav.path, "synth", "30", "sine", "700", "vol", "0.3"])
        let ports = BaresipPorts()
        let phone = try Baresip(account: "<sip:1001@\(server):5060>;auth_pass=pw-1001-secret;regint=120;answermode=manual;audio_codecs=PCMU/8000/1",
                                sipPort: ports.sip, controlPort: ports.control, rtpPorts: ports.rtp, audioSource: wav.path, address: address)
        #expect(phone.connect(), "baresip: \(phone.process.outputText)")
        #expect(ct.waitForLine(containing: "1001 registered 1 contact", seconds: 15) != nil, "\(ct.outputText.suffix(1500))\n\(phone.process.outputText.suffix(800))")
        phone.command("dial", "sip:*43@\(server):5060")
        #expect(phone.wait(for: "CALL_ESTABLISHED", seconds: 15) != nil, "\(phone.events)\n\(ct.outputText.suffix(1500))")
        Thread.sleep(forTimeInterval: 4)
        phone.command("hangup")
        _ = phone.wait(for: "CALL_CLOSED", seconds: 10)
        #expect(ct.waitForLine(containing: "gone (", seconds: 10) != nil, "\(ct.outputText.suffix(1500))")
        return phone
    }

    /// What the phone heard (after it stopped).
    static func heard(_ phone: Baresip) throws -> [Int16] {
        phone.stop()
        let files = (try? FileManager.default.contentsOfDirectory(at: phone.recordings, includingPropertiesForKeys: nil)) ?? []
        let dec = try #require(files.first { $0.lastPathComponent.hasSuffix("-dec.wav") }, "no recording: \(files)")
        return try WAV.samples(dec)
    }

    /// A phone on a second host calls *43 on a server listening on all interfaces and hears itself.
    @Test func phoneOnAnotherHostHearsItselfThroughAServerOnAllInterfaces() throws {
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let srv = try lab.host("srv")
        try lab.link(nil, "10.77.1.2/24", srv, "10.77.1.1/24")
        let dir = TestSupport.temporaryDirectory("other-host")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ct = try Self.ctServer(in: srv, dir: dir)
        defer { ct.stop() }
        let phone = try Self.echoCall(address: "10.77.1.2", server: "10.77.1.1", ct: ct, dir: dir)
        defer { phone.remove() }
        let heard = try Self.heard(phone)
        #expect(ToneAnalysis.maxLevel(heard, frequency: 700) > 2000, "the phone heard itself: \(ct.outputText.suffix(1500))")
        let gone = ct.outputLines.last { $0.contains("gone (") } ?? ""
        #expect(gone.contains("latched=10.77.1.2:"), "\(gone)")
        #expect(!ct.outputText.contains("no ACK"), "the 200 OK's Contact reached the phone (it ACKed)")
    }

    /// A phone behind a masquerading router registers, calls *43 and hears itself (its SDP says
    /// 10.77.2.2, which the server cannot reach; RTP latches to the router's address). RTP from
    /// a third address during the call is dropped, not latched. The server sends OPTIONS to the
    /// NAT'd phone every 2 s (keep-alive) while nothing else happens.
    @Test func phoneBehindNATHearsItselfAndNobodyElseTakesTheCall() throws {
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let rtr = try lab.host("rtr")
        let srv = try lab.host("srv")
        try lab.link(nil, "10.77.2.2/24", rtr, "10.77.2.1/24")
        let (toServer, _) = try lab.link(rtr, "10.77.3.2/24", srv, "10.77.3.1/24")
        try lab.ip(["addr", "add", "10.77.3.3/24", "dev", toServer], in: rtr)   // the third address
        try lab.rootRoute("10.77.3.0/24", via: "10.77.2.1")
        try lab.masquerade(rtr, outside: toServer, inside: "10.77.2.0/24")
        let dir = TestSupport.temporaryDirectory("nat")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ct = try Self.ctServer(in: srv, dir: dir, extra: "  nat_keepalive_seconds: 2")
        defer { ct.stop() }

        // During the call, an attacker at 10.77.3.3 sprays RTP at the server's port.
        let spray = """
        import socket, struct, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.3.3", 0))
        end = time.time() + 12
        seq = 0
        while time.time() < end:
            seq += 1
            s.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xffff, seq * 160, 0x1234) + bytes([0xff]) * 160, ("10.77.3.1", 20000))
            time.sleep(0.02)
        """
        let sprayFile = dir.appendingPathComponent("spray.py")
        try spray.write(to: sprayFile, atomically: true, encoding: .utf8)
        let sprayer = try ChildProcess(NetworkLab.ip, ["netns", "exec", rtr, "python3", sprayFile.path])
        defer { _ = sprayer.stop() }
        let phone = try Self.echoCall(address: "10.77.2.2", server: "10.77.3.1", ct: ct, dir: dir)
        defer { phone.remove() }
        // Keep-alives: with the call over and the phone still registered, the router forwards
        // the server's OPTIONS towards it.
        let before = try Self.forwardedFromServer(lab, rtr)
        Thread.sleep(forTimeInterval: 5)
        let after = try Self.forwardedFromServer(lab, rtr)
        #expect(after - before >= 2, "OPTIONS keep-alives crossed the NAT: \(before) → \(after)\n\(ct.outputText.suffix(1500))")
        let heard = try Self.heard(phone)
        #expect(ToneAnalysis.maxLevel(heard, frequency: 700) > 2000,
                "the NAT'd phone heard itself: \(heard.count) samples, peak \(heard.map { abs(Int($0)) }.max() ?? 0)\n\(ct.outputText.suffix(1500))\n\(phone.process.outputText.suffix(1200))")
        let gone = ct.outputLines.last { $0.contains("gone (") } ?? ""
        #expect(gone.contains("latched=10.77.3.2:"), "RTP latched to the router's address: \(gone)")
        let foreign = gone.range(of: #"foreign=\d+"#, options: .regularExpression).map { Int(gone[$0].dropFirst(8)) ?? 0 } ?? 0
        #expect(foreign > 50, "the third address's packets were dropped: \(gone)")

    }

    /// Packets the router forwarded from the server's SIP port (nft counter in a rule added on first use).
    static func forwardedFromServer(_ lab: NetworkLab, _ rtr: String) throws -> Int {
        let list = try lab.exec(rtr, "/usr/sbin/nft", ["list", "chain", "ip", "hotline_nat", "counted"])
        if !list.contains("udp sport 5060") {
            try lab.exec(rtr, "/usr/sbin/nft", ["add", "rule", "ip", "hotline_nat", "counted", "ip", "saddr", "10.77.3.1", "udp", "sport", "5060", "counter"])
            return 0
        }
        guard let line = list.split(separator: "\n").first(where: { $0.contains("udp sport 5060") }),
              let r = line.range(of: #"packets \d+"#, options: .regularExpression) else { return 0 }
        return Int(line[r].dropFirst(8)) ?? 0
    }
}
