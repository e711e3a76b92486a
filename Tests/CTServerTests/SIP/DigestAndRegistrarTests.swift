import Testing
@testable import CTServerKit
@testable import Protocol

@Suite struct DigestAndRegistrarTests {
    func register(_ auth: String? = nil, user: String = "1001", contact: String = "<sip:1001@127.0.0.1:5062>", expires: String? = nil,
                  cseq: Int = 1, callID: String = "reg-1") -> SIPMessage {
        var m = SIPMessage(startLine: .request(method: "REGISTER", uri: "sip:127.0.0.1", version: "SIP/2.0"))
        m.add(.via, "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-r\(cseq)")
        m.add(.from, "<sip:\(user)@127.0.0.1>;tag=f")
        m.add(.to, "<sip:\(user)@127.0.0.1>")
        m.add(.callID, callID)
        m.add(.cseq, "\(cseq) REGISTER")
        m.add(.contact, contact)
        if let expires { m.add(.expires, expires) }
        if let auth { m.add(.authorization, auth) }
        return m
    }

    /// What a phone computes (RFC 7616 §3.4.1, qop=auth).
    func answer(_ a: Crypto.DigestAlgorithm, user: String, password: String, nonce: String, uri: String = "sip:127.0.0.1") -> String {
        let ha1 = Crypto.hexDigest(a, "\(user):hotline:\(password)")
        let ha2 = Crypto.hexDigest(a, "REGISTER:\(uri)")
        let resp = Crypto.hexDigest(a, "\(ha1):\(nonce):00000001:abc:auth:\(ha2)")
        return "Digest username=\"\(user)\", realm=\"hotline\", nonce=\"\(nonce)\", uri=\"\(uri)\", response=\"\(resp)\", algorithm=\(a.rawValue), qop=auth, nc=00000001, cnonce=\"abc\""
    }

    let now: UInt64 = 1_000 * 1_000_000_000

    @Test func md5AndSHA256BothAuthenticate() {
        var d = DigestAuthenticator(realm: "hotline", users: ["1001": .fromPassword(user: "1001", realm: "hotline", password: "pw")])
        let nonce = d.makeNonce(now: now)
        for a in Crypto.DigestAlgorithm.allCases {
            #expect(d.verify(register(answer(a, user: "1001", password: "pw", nonce: nonce)), source: "127.0.0.1", now: now) == .authenticated(user: "1001"))
        }
        #expect(d.verify(register(answer(.md5, user: "1001", password: "nope", nonce: nonce)), source: "127.0.0.1", now: now) == .challenge(stale: false))
    }

    @Test func expiredNonceIsStaleAndForgedNonceFails() {
        var d = DigestAuthenticator(realm: "hotline", users: ["1001": .fromPassword(user: "1001", realm: "hotline", password: "pw")])
        let old = d.makeNonce(now: now)
        let later = now + 301 * 1_000_000_000
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: old)), source: "h", now: later) == .challenge(stale: true))
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: "abc.def.0123")), source: "h", now: now) == .challenge(stale: false))
    }

    @Test func lockoutAfterRepeatedFailuresIsPerUserAndSource() {
        var d = DigestAuthenticator(realm: "hotline", users: ["1001": .fromPassword(user: "1001", realm: "hotline", password: "pw")])
        let nonce = d.makeNonce(now: now)
        for _ in 0..<4 { #expect(d.verify(register(answer(.md5, user: "1001", password: "x", nonce: nonce)), source: "10.9.9.9", now: now) == .challenge(stale: false)) }
        #expect(d.verify(register(answer(.md5, user: "1001", password: "x", nonce: nonce)), source: "10.9.9.9", now: now) == .lockedOut(.userAtSource, user: "1001"))
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: nonce)), source: "10.9.9.9", now: now) == .lockedOut(.userAtSource, user: "1001"),
                "even the right password")
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: nonce)), source: "10.1.1.1", now: now) == .authenticated(user: "1001"))
    }

    /// 200 guesses spread over 40 addresses (5 each, under the per-address limit) lock the user:
    /// the right password from a 41st address is refused; a phone that authenticated before the
    /// attack keeps working; one address guessing many users is locked out for all of them.
    @Test func lockoutAcrossSourcesAndAcrossUsers() {
        var d = DigestAuthenticator(realm: "hotline", users: ["1001": .fromPassword(user: "1001", realm: "hotline", password: "pw"),
                                                            "1002": .fromPassword(user: "1002", realm: "hotline", password: "pw2")])
        let nonce = d.makeNonce(now: now)
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: nonce)), source: "10.0.0.1", now: now) == .authenticated(user: "1001"),
                "the phone, before the attack")
        var outcomes: [DigestAuthenticator.Outcome] = []
        for a in 0..<40 {
            for _ in 0..<5 { outcomes.append(d.verify(register(answer(.md5, user: "1001", password: "guess", nonce: nonce)), source: "192.0.2.\(a + 1)", now: now)) }
        }
        #expect(outcomes.contains(.lockedOut(.user, user: "1001")), "the user-wide lock engaged")
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: nonce)), source: "192.0.2.41", now: now) == .lockedOut(.user, user: "1001"),
                "the right password from a 41st address is refused")
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: nonce)), source: "10.0.0.1", now: now) == .authenticated(user: "1001"),
                "the phone that authenticated before still can")
        #expect(d.verify(register(answer(.md5, user: "1002", password: "pw2", nonce: nonce)), source: "192.0.2.41", now: now) == .authenticated(user: "1002"),
                "other users are not affected")
        // One address guessing many users (one guess each) is locked out for all of them.
        var last: DigestAuthenticator.Outcome = .challenge(stale: false)
        for u in 0..<30 { last = d.verify(register(answer(.md5, user: "u\(u)", password: "guess", nonce: nonce)), source: "198.51.100.7", now: now) }
        #expect(last == .lockedOut(.source, user: "u29"))
        #expect(d.verify(register(answer(.md5, user: "1002", password: "pw2", nonce: nonce)), source: "198.51.100.7", now: now) == .lockedOut(.source, user: "1002"))
        // The locks end.
        let later = now + 61 * 1_000_000_000
        #expect(d.verify(register(answer(.md5, user: "1001", password: "pw", nonce: d.makeNonce(now: later))), source: "192.0.2.41", now: later) == .authenticated(user: "1001"))
    }

    /// The 200 OK echoes each Contact as registered — a quoted `+sip.instance` stays quoted —
    /// with one `expires`, the granted one (a phone's own `expires` parameter is replaced).
    @Test func registrarEchoesContactParametersWithOneExpires() throws {
        var r = Registrar()
        let src = SIPPeer(transport: .udp, address: try SocketAddress(host: "127.0.0.1", port: 5062))
        let contact = "<sip:1001@127.0.0.1:5062;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00A0C91E6BF6>\";reg-id=1;expires=7200"
        #expect(r.register(register(contact: contact, expires: "300"), authenticatedUser: "1001", source: src, now: now)
                == .ok([("<sip:1001@127.0.0.1:5062;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00A0C91E6BF6>\";reg-id=1;expires=3600", 3600)]),
                "7200 asked, 3600 (the maximum) granted")
        var p = SIPParameters()
        p.set("received", "[::1]")
        p.set("note", "a \"b\"")
        #expect(p.description == ";received=[::1];note=\"a \\\"b\\\"\"")
    }

    /// Bindings written with wall-clock expiries come back with the time they had left; expired
    /// ones and TLS ones (their connection cannot be re-opened) do not.
    @Test func registrationsPersistAndRestore() throws {
        var r = Registrar()
        let udp = SIPPeer(transport: .udp, address: try SocketAddress(host: "127.0.0.1", port: 5062))
        _ = r.register(register(expires: "300"), authenticatedUser: "1001", source: udp, now: now)
        _ = r.register(register(user: "1002", contact: "<sip:1002@127.0.0.1:5070>", expires: "600"), authenticatedUser: "1002",
                       source: SIPPeer(transport: .tls, address: try SocketAddress(host: "127.0.0.1", port: 5071), connectionID: 3), now: now)
        let saved = r.persisted(now: now, wallNow: 1_000_000)
        #expect(saved.map(\.aor) == ["1001"] && saved[0].expiresAt == 1_000_300)
        var restarted = Registrar()
        let later: UInt64 = 5_000_000_000
        #expect(restarted.restore(saved, now: later, wallNow: 1_000_100) == 1)
        #expect(restarted.contacts(of: "1001", now: later + 199 * 1_000_000_000).count == 1)
        #expect(restarted.contacts(of: "1001", now: later + 201 * 1_000_000_000).isEmpty, "200 s were left")
        var tooLate = Registrar()
        #expect(tooLate.restore(saved, now: later, wallNow: 1_000_301) == 0)
    }

    @Test func registrarBindsRefreshesAndRemoves() throws {
        var r = Registrar()
        let src = SIPPeer(transport: .udp, address: try SocketAddress(host: "127.0.0.1", port: 5062))
        #expect(r.register(register(expires: "300"), authenticatedUser: "1001", source: src, now: now) == .ok([("<sip:1001@127.0.0.1:5062>;expires=300", 300)]))
        #expect(r.contacts(of: "1001", now: now).count == 1)
        #expect(r.register(register(expires: "300", cseq: 1), authenticatedUser: "1001", source: src, now: now) == .reject(code: 500, reason: "", headers: []),
                "same Call-ID, same CSeq: out of order")
        #expect(r.register(register(expires: "30", cseq: 2), authenticatedUser: "1001", source: src, now: now) == .reject(code: 423, reason: "", headers: []))
        #expect(r.register(register(contact: "<sip:1001@127.0.0.1:5064>", expires: "120", cseq: 3), authenticatedUser: "1001", source: src, now: now)
                == .ok([("<sip:1001@127.0.0.1:5062>;expires=300", 300), ("<sip:1001@127.0.0.1:5064>;expires=120", 120)]))
        #expect(r.contacts(of: "1001", now: now + 200 * 1_000_000_000).count == 1, "the 120 s binding expired")
        #expect(r.register(register(contact: "*", expires: "0", cseq: 4), authenticatedUser: "1001", source: src, now: now) == .ok([]))
        #expect(r.bindingCount == 0)
        #expect(r.register(register(user: "1002"), authenticatedUser: "1001", source: src, now: now) == .reject(code: 403, reason: "", headers: []))
    }
}
