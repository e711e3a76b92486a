import Foundation
import Testing
import TestSupport
@testable import Protocol

/// What the registrar sends, parsed back by an independent RFC 3261 grammar (PyPI's sipmessage,
/// installed by deploy/test into .build/pydeps): each Contact echoed with its parameters intact —
/// `+sip.instance` quoted — and exactly one `expires`, the one granted (issue 14).
@Suite(.serialized) struct RegistrarGrammarTests {
    static let instance = "<urn:uuid:00000000-0000-1000-8000-00A0C91E6BF6>"

    @Test func everyRegistrarResponseParsesStrictly() throws {
        let ct = try CTServerUnderTest(name: "ct-grammar")
        defer { ct.stop() }
        let sock = try UDPTestSocket()
        let dir = TestSupport.temporaryDirectory("sip-grammar")
        defer { try? FileManager.default.removeItem(at: dir) }
        func register(cseq: Int, expiresParam: Int, authorization: String? = nil) throws -> String {
            var m = "REGISTER sip:127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(sock.port);branch=z9hG4bKgr\(cseq)\(UUID().uuidString.prefix(6));rport\r\n"
            m += "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=gr\(cseq)\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: grammar-1001\r\nCSeq: \(cseq) REGISTER\r\n"
            m += "Contact: <sip:1001@127.0.0.1:\(sock.port);transport=udp>;+sip.instance=\"\(Self.instance)\";reg-id=1;expires=\(expiresParam)\r\n"
            m += "Expires: 300\r\n"
            if let authorization { m += "Authorization: \(authorization)\r\n" }
            return try sock.request(m + "Content-Length: 0\r\n\r\n", port: ct.sip)
        }
        var responses: [String] = []
        let challenge = try register(cseq: 1, expiresParam: 600)
        responses.append(challenge)
        let nonce = try #require(challenge.range(of: #"nonce="[^"]*""#, options: .regularExpression).map { String(challenge[$0].dropFirst(7).dropLast()) })
        func auth(_ n: String) -> String {
            let ha1 = Crypto.hexDigest(.md5, "1001:hotline:pw-1001-secret"), ha2 = Crypto.hexDigest(.md5, "REGISTER:sip:127.0.0.1")
            return "Digest username=\"1001\", realm=\"hotline\", nonce=\"\(n)\", uri=\"sip:127.0.0.1\", response=\"\(Crypto.hexDigest(.md5, "\(ha1):\(n):\(ha2)"))\", algorithm=MD5"
        }
        let ok = try register(cseq: 2, expiresParam: 600, authorization: auth(nonce))
        #expect(ok.hasPrefix("SIP/2.0 200"), "\(ok)")
        responses.append(ok)
        responses.append(try register(cseq: 3, expiresParam: 5, authorization: auth(nonce)))   // 423 Interval Too Brief
        responses.append(try sock.request("OPTIONS sip:127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(sock.port);branch=z9hG4bKgropt;rport\r\n"
                                          + "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=o\r\nTo: <sip:127.0.0.1>\r\nCall-ID: grammar-opt\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port: ct.sip))
        #expect(responses[2].hasPrefix("SIP/2.0 423"), "\(responses[2])")
        var files: [String] = []
        for (i, r) in responses.enumerated() {
            let f = dir.appendingPathComponent("r\(i).sip")
            try Data(r.utf8).write(to: f)
            files.append(f.path)
        }
        let pydeps = ProcessInfo.processInfo.environment["HOTLINE_PYDEPS"] ?? TestSupport.packageRoot.appendingPathComponent(".build/pydeps").path
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEnd/Fixtures/python/sip_strict.py").path
        let r = try ChildProcess.run("/usr/bin/env", ["PYTHONPATH=\(pydeps)", "python3", script] + files, seconds: 30)
        #expect(r.status == 0, "the independent parser refused a response: \(r.output)")
        let lines = r.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let parsedOK = try #require(lines.first { ($0["code"] as? Int) == 200 && !(($0["contacts"] as? [Any]) ?? []).isEmpty }, "\(r.output)")
        let contact = try #require((parsedOK["contacts"] as? [[String: Any]])?.first)
        let params = contact["parameters"] as? [String: Any] ?? [:]
        let instance = (params["+sip.instance"] as? String).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        #expect(instance == Self.instance, "\(params)")
        #expect(params["expires"] as? String == "600" && params["reg-id"] as? String == "1", "\(params)")
        let raw = (parsedOK["raw"] as? [String])?.joined() ?? ""
        #expect(raw.components(separatedBy: "expires=").count == 2, "exactly one expires: \(raw)")
    }
}

extension RegistrarGrammarTests {
    /// A restarted CT-Server still reaches a phone that registered before (issue 14): the
    /// binding is kept in `sip.registrations_file`; an Originate to the user after the restart
    /// sends the INVITE to the phone without it registering again.
    @Test func registrationsSurviveARestart() throws {
        let dir = TestSupport.temporaryDirectory("sip-regs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("state/registrations.json").path
        let phone = try UDPTestSocket()
        func register(_ ct: CTServerUnderTest, cseq: Int, authorization: String? = nil) throws -> String {
            var m = "REGISTER sip:127.0.0.1:\(ct.sip) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(phone.port);branch=z9hG4bKrs\(cseq)\(UUID().uuidString.prefix(6));rport\r\n"
            m += "Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=rs\(cseq)\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: restart-1001\r\nCSeq: \(cseq) REGISTER\r\n"
            m += "Contact: <sip:1001@127.0.0.1:\(phone.port)>\r\nExpires: 600\r\n"
            if let authorization { m += "Authorization: \(authorization)\r\n" }
            return try phone.request(m + "Content-Length: 0\r\n\r\n", port: ct.sip)
        }
        do {
            let ct = try CTServerUnderTest(extraSIP: "  registrations_file: \"\(file)\"", name: "ct-before")
            defer { ct.stop() }
            let challenge = try register(ct, cseq: 1)
            let nonce = try #require(challenge.range(of: #"nonce="[^"]*""#, options: .regularExpression).map { String(challenge[$0].dropFirst(7).dropLast()) })
            let ha1 = Crypto.hexDigest(.md5, "1001:hotline:pw-1001-secret"), ha2 = Crypto.hexDigest(.md5, "REGISTER:sip:127.0.0.1")
            let auth = "Digest username=\"1001\", realm=\"hotline\", nonce=\"\(nonce)\", uri=\"sip:127.0.0.1\", response=\"\(Crypto.hexDigest(.md5, "\(ha1):\(nonce):\(ha2)"))\", algorithm=MD5"
            #expect(try register(ct, cseq: 2, authorization: auth).hasPrefix("SIP/2.0 200"))
            #expect(TestSupport.waitUntil(5) { FileManager.default.fileExists(atPath: file) }, "the binding was written")
            #expect(ct.process.stop() == 0)
        }
        let ct = try CTServerUnderTest(extraSIP: "  registrations_file: \"\(file)\"", name: "ct-after")
        defer { ct.stop() }
        #expect(ct.process.waitForLine(containing: "restored 1 registration(s)") != nil, "\(ct.process.outputText.suffix(1000))")
        let flow = try LinkTestClient(port: ct.link, secret: Array("e2e-flow-link-secret".utf8), role: .flowServer, name: "flow-r", expectedPeer: [.ctServer])
        let r = try flow.request(Originate(destination: "1001", callerID: "4000", timeoutMs: 3000))
        #expect(r.map { !$0.isError } == true, "originate to the restored binding")
        let invite = phone.receive()
        #expect(invite.hasPrefix("INVITE sip:1001@127.0.0.1:\(phone.port)"), "the phone was called without registering again: \(invite.prefix(200))")
    }
}
