import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The CT-Server's SIP edge over real sockets against SIPp (Debian sip-tester).
@Suite(.serialized) struct SIPEdgeTests {
    static let fixtures = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEnd/Fixtures")
    let env = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret"]

    /// A ct-server (TestSupport's CTServerUnderTest) as (process, SIP port, folder).
    func startCT(extraSIP: String = "", digestOrder: String = "[MD5]") throws -> (ChildProcess, sipPort: Int, dir: URL) {
        let ct = try CTServerUnderTest(extraSIP: extraSIP, digestOrder: digestOrder)
        return (ct.process, ct.sip, ct.dir)
    }

    /// Runs one SIPp scenario (bounded) and returns its exit status and error log.
    func sipp(_ scenario: String, port: Int, _ args: [String] = [], calls: Int = 1) throws -> (Int32, String) {
        #expect(FileManager.default.isExecutableFile(atPath: SIPp.path), "SIPp (Debian sip-tester) must be installed: deploy/test installs it")
        let errors = TestSupport.temporaryDirectory("sipp").appendingPathComponent("err.log")
        let r = try SIPp.run("127.0.0.1:\(port)", scenario: Self.fixtures.appendingPathComponent("sipp/\(scenario)"),
                             ["-m", "\(calls)", "-timeout", "20", "-timeout_error", "-trace_err", "-error_file", errors.path] + args, seconds: 30)
        let err = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return (r.status, err + r.output.suffix(2000))
    }

    @Test func optionsOverUDPAndTCP() throws {
        let (ct, port, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let udp = try sipp("options.xml", port: port, ["-r", "50"], calls: 20)
        #expect(udp.0 == 0, "\(udp.1)")
        let tcp = try sipp("options.xml", port: port, ["-t", "t1"], calls: 5)
        #expect(tcp.0 == 0, "\(tcp.1)")
    }

    @Test func registerWithDigestAuthentication() throws {
        let (ct, port, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let ok = try sipp("register_auth.xml", port: port, ["-s", "1001", "-au", "1001", "-ap", "pw-1001-secret"], calls: 3)
        #expect(ok.0 == 0, "\(ok.1)")
        #expect(ct.waitForLine(containing: "1001 registered 1 contact") != nil)
        let bad = try sipp("register_auth.xml", port: port, ["-s", "1001", "-au", "1001", "-ap", "wrong-password"])
        #expect(bad.0 != 0)
        #expect(bad.1.contains("401"), "a wrong password is challenged again")
        let tcp = try sipp("register_auth.xml", port: port, ["-s", "1001", "-au", "1001", "-ap", "pw-1001-secret", "-t", "t1"])
        #expect(tcp.0 == 0, "\(tcp.1)")
    }

    @Test func inviteWithoutFlowServerGets480() throws {
        let (ct, port, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let r = try sipp("invite_480.xml", port: port, ["-s", "2000", "-r", "20"], calls: 10)
        #expect(r.0 == 0, "\(r.1)")
    }

    /// Known and unknown users get the same challenge; five wrong answers lock that user and
    /// source out (403) while another user from elsewhere still registers.
    @Test func identicalChallengesAndLockout() throws {
        let (ct, port, dir) = try startCT(extraSIP: "  auth_max_failures: 5\n  auth_lockout_seconds: 60")
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let sock = try UDPTestSocket()
        func register(_ user: String, auth: String? = nil, cseq: Int) throws -> String {
            var msg = "REGISTER sip:127.0.0.1:\(port) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(sock.port);branch=z9hG4bK\(UUID().uuidString.prefix(8));rport\r\n"
            msg += "Max-Forwards: 70\r\nFrom: <sip:\(user)@127.0.0.1>;tag=t\(cseq)\r\nTo: <sip:\(user)@127.0.0.1>\r\nCall-ID: lock-\(user)\r\n"
            msg += "CSeq: \(cseq) REGISTER\r\nContact: <sip:\(user)@127.0.0.1:\(sock.port)>\r\n"
            if let auth { msg += "Authorization: \(auth)\r\n" }
            msg += "Content-Length: 0\r\n\r\n"
            return try sock.request(msg, port: port)
        }
        func shape(_ response: String) -> String {
            // Everything but the nonce and tags.
            response.split(separator: "\r\n").filter { !$0.hasPrefix("To:") && !$0.hasPrefix("Via:") && !$0.hasPrefix("From:") && !$0.hasPrefix("Call-ID:") }
                .map { $0.replacingOccurrences(of: #"nonce="[^"]*""#, with: "nonce=N", options: .regularExpression) }.joined(separator: "\n")
        }
        let known = try register("1001", cseq: 1)
        let unknown = try register("9999", cseq: 1)
        #expect(known.hasPrefix("SIP/2.0 401"))
        #expect(shape(known) == shape(unknown), "challenges differ:\n\(known)\n---\n\(unknown)")
        let nonce = try #require(known.range(of: #"nonce="[^"]*""#, options: .regularExpression).map { String(known[$0]) })
        let forged = "Digest username=\"1001\", realm=\"hotline\", \(nonce), uri=\"sip:127.0.0.1\", response=\"00000000000000000000000000000000\", algorithm=MD5"
        var last = ""
        for i in 0..<6 { last = try register("1001", auth: forged, cseq: 2 + i) }
        #expect(last.hasPrefix("SIP/2.0 403"), "\(last)")
        // Another user, another source: unaffected (SIPp from its own port registers 1001? No: the
        // lock is per user *and* source, so 1001 from SIPp's address would also be locked since both
        // are 127.0.0.1). Check that the server still serves OPTIONS and challenges others.
        #expect(try register("1002", cseq: 1).hasPrefix("SIP/2.0 401"))
        #expect(ct.isRunning)
    }

    /// RFC 4475's 49 messages as UDP datagrams to a ct-server inside a network namespace with
    /// only loopback, so that nothing can leave the machine whatever the messages say.
    @Test func rfc4475ReplayInsideANetworkNamespace() throws {
        let ns = "hotline-sip-\(getpid())"
        let ip = "/usr/sbin/ip"
        #expect(FileManager.default.isExecutableFile(atPath: ip), "iproute2 must be installed")
        let add = try ChildProcess.run(ip, ["netns", "add", ns])
        #expect(add.status == 0, "ip netns add: \(add.output) (tests run as root)")
        defer { _ = try? ChildProcess.run(ip, ["netns", "delete", ns]) }
        _ = try ChildProcess.run(ip, ["-n", ns, "link", "set", "lo", "up"])
        let dir = TestSupport.temporaryDirectory("hotline-ns")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("ct.yaml")
        try "sip:\n  listen: 127.0.0.1:5070\n  rate_limit_per_source: 10000\n  rate_limit_burst: 10000\nflow_link:\n  listen: 127.0.0.1:7100\n"
            .write(to: cfg, atomically: true, encoding: .utf8)
        let ct = try ChildProcess(ip, ["netns", "exec", ns, TestSupport.binDirectory.appendingPathComponent("ct-server").path, "--config", cfg.path],
                                  environment: env)
        defer { ct.stop() }
        #expect(ct.waitForLine(containing: " sip=") != nil, "\(ct.outputText)")
        let replay = try ChildProcess.run(ip, ["netns", "exec", ns, "python3", Self.fixtures.appendingPathComponent("rfc4475_replay.py").path,
                                                TestSupport.rfc4475Directory.path, "5070"], seconds: 120)
        #expect(replay.status == 0, "\(replay.output)")
        let json = try #require(replay.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(result["_alive"] as? Bool == true, "ct-server stopped answering: \(ct.outputText.suffix(2000))")
        #expect(ct.isRunning)
        // Spot checks of answers that route back to port 5060 (the rest is covered in process).
        let expected: [String: Int] = ["badvers": 505, "mismatch01": 400, "bext01": 420, "unkscm": 416, "baddn": 400, "zeromf": 200]
        for (file, code) in expected {
            #expect((result[file] as? [Int])?.contains(code) == true, "\(file): got \(String(describing: result[file]))")
        }
        // Responses are never answered.
        for file in ["unreason", "noreason", "bigcode", "scalarlg", "bcast"] {
            #expect((result[file] as? [Int]) == [], "\(file) (a response) was answered: \(String(describing: result[file]))")
        }
    }
}

/// A UDP socket on 127.0.0.1 for hand-written SIP exchanges.
extension SIPEdgeTests {
    /// Guesses spread over 40 source addresses (5 each, under the per-address limit): 200 wrong
    /// answers lock the user out — the right password from a 41st address gets 403 — while the
    /// phone that registered before the attack re-registers, and the lock-out is logged with
    /// the user.
    @Test func guessesFromManyAddressesLockTheUser() throws {
        let ct = try CTServerUnderTest(extraSIP: "  auth_max_failures: 5\n  auth_max_failures_per_user: 20\n  auth_lockout_seconds: 60\n  rate_limit_per_source: 1000")
        defer { ct.stop() }
        func register(_ sock: UDPTestSocket, password: String?, nonce: String?, cseq: Int) throws -> String {
            var msg = "REGISTER sip:127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP \(sock.host):\(sock.port);branch=z9hG4bK\(UUID().uuidString.prefix(8));rport\r\n"
            msg += "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=t\(cseq)\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: spread-\(sock.host)-\(sock.port)\r\n"
            msg += "CSeq: \(cseq) REGISTER\r\nContact: <sip:1001@\(sock.host):\(sock.port)>\r\n"
            if let nonce, let password {
                let ha1 = Crypto.hexDigest(.md5, "1001:hotline:\(password)"), ha2 = Crypto.hexDigest(.md5, "REGISTER:sip:127.0.0.1")
                let response = Crypto.hexDigest(.md5, "\(ha1):\(nonce):\(ha2)")
                msg += "Authorization: Digest username=\"1001\", realm=\"hotline\", nonce=\"\(nonce)\", uri=\"sip:127.0.0.1\", response=\"\(response)\", algorithm=MD5\r\n"
            }
            msg += "Content-Length: 0\r\n\r\n"
            return try sock.request(msg, port: ct.sip)
        }
        func nonce(_ challenge: String) -> String? {
            challenge.range(of: #"nonce="[^"]*""#, options: .regularExpression).map { String(challenge[$0].dropFirst(7).dropLast()) }
        }
        func login(_ sock: UDPTestSocket, _ password: String, cseq: Int) throws -> String {
            let challenge = try register(sock, password: nil, nonce: nil, cseq: cseq)
            guard challenge.hasPrefix("SIP/2.0 401"), let n = nonce(challenge) else { return challenge }
            return try register(sock, password: password, nonce: n, cseq: cseq + 1)
        }
        // The phone registers before the attack.
        let phone = try UDPTestSocket(host: "127.0.0.200")
        #expect(try login(phone, "pw-1001-secret", cseq: 1).hasPrefix("SIP/2.0 200"))
        var refused = 0
        for a in 1...40 {
            let sock = try UDPTestSocket(host: "127.0.1.\(a)")
            for g in 0..<5 { if try login(sock, "guess-\(g)", cseq: 10 + 2 * g).hasPrefix("SIP/2.0 403") { refused += 1 } }
        }
        #expect(refused > 100, "guesses refused once the user was locked: \(refused) of 200")
        let fortyFirst = try UDPTestSocket(host: "127.0.1.41")
        let r = try login(fortyFirst, "pw-1001-secret", cseq: 1)
        #expect(r.hasPrefix("SIP/2.0 403"), "the right password from a 41st address: \(r.prefix(60))")
        #expect(try login(phone, "pw-1001-secret", cseq: 3).hasPrefix("SIP/2.0 200"), "the phone that authenticated before still registers")
        #expect(ct.process.outputText.contains("REGISTER for 1001 from 127.0.1.41 refused: locked out (user from any new address)"), "\(ct.process.outputText.suffix(1000))")
    }
}

final class UDPTestSocket {
    let fd: Int32
    let port: Int

    let host: String

    /// A UDP socket on `host` (any 127.x.y.z: loopback answers them all, so one machine can be
    /// many sources).
    init(host: String = "127.0.0.1") throws {
        self.host = host
        fd = try Sockets.udpBind(try SocketAddress(host: host, port: 0))
        port = Sockets.localAddress(fd)?.port ?? 0
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `text` and returns the first final (non-100) response.
    func request(_ text: String, port: Int) throws -> String {
        Sockets.sendTo(fd, Array(text.utf8), try SocketAddress(host: "127.0.0.1", port: port))
        var buf = [UInt8](repeating: 0, count: 65535)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return "" }
            let s = String(decoding: buf[0..<n], as: UTF8.self)
            if !s.hasPrefix("SIP/2.0 100") { return s }
        }
    }

    deinit { close(fd) }
}

extension SIPEdgeTests {
    /// SIP over IPv6 (UDP): SIPp on ::1 pings and calls the echo test.
    @Test func ipv6OptionsAndCall() throws {
        let dir = TestSupport.temporaryDirectory("hotline-v6")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("ct.yaml")
        try "sip:\n  listen: \"[::1]:0\"\n  rtp_port_min: 45000\n  rtp_port_max: 45999\nflow_link:\n  listen: 127.0.0.1:0\n"
            .write(to: cfg, atomically: true, encoding: .utf8)
        let ct = try ChildProcess("ct-server", ["--config", cfg.path], environment: env)
        defer { ct.stop() }
        let line = try #require(ct.waitForLine(containing: " sip="), "\(ct.outputText)")
        let port = try #require(Int(line.split(separator: ":").last ?? ""))
        let r = try SIPp.run("[::1]:\(port)", builtin: "uac", ipv6: true, ["-s", "9196", "-m", "3", "-timeout", "20", "-timeout_error"], seconds: 30)
        #expect(r.status == 0, "\(r.output.suffix(1500))")
    }

    /// SIP over TLS: an OPTIONS sent through `openssl s_client` (verifying the CT-Server's
    /// certificate against a throwaway CA) gets its 200 back on the same connection.
    @Test func optionsOverTLS() throws {
        let pki = try TestPKI(names: ["sip"])
        defer { pki.remove() }
        let tlsPort = TestPorts.block(1)
        let (ct, _, dir) = try startCT(extraSIP: "  tls_listen: 127.0.0.1:\(tlsPort)\n  tls: { certificate: \(pki.cert("sip")), private_key: \(pki.key("sip")) }")
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let request = "OPTIONS sip:ping@127.0.0.1:\(tlsPort);transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t1\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        let req = dir.appendingPathComponent("req.txt")
        try request.write(to: req, atomically: true, encoding: .utf8)
        let r = try ChildProcess.run("/bin/sh", ["-c", "(cat \(req.path); sleep 2) | timeout 8 openssl s_client -connect 127.0.0.1:\(tlsPort) -CAfile \(pki.caCert) -verify_return_error -quiet -no_ign_eof 2>&1"],
                                     seconds: 10)
        #expect(r.output.contains("SIP/2.0 200 OK") && r.output.contains("tls-1"), "\(r.output.suffix(1500))")
    }
}
