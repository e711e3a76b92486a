import Testing
@testable import CTServerKit

/// Transaction machines driven by scripted events (RFC 3261 §17), read like the exchange.
@Suite struct TransactionTests {
    let invite = try! SIPParser().parse(Array("""
    INVITE sip:2000@127.0.0.1 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r
    Max-Forwards: 70\r
    From: <sip:a@127.0.0.1>;tag=a\r
    To: <sip:2000@127.0.0.1>\r
    Call-ID: c1\r
    CSeq: 1 INVITE\r
    Content-Length: 0\r
    \r

    """.utf8)).get()

    var options: SIPMessage {
        var m = invite
        m.startLine = .request(method: "OPTIONS", uri: "sip:2000@127.0.0.1", version: "SIP/2.0")
        m.set(.cseq, "1 OPTIONS")
        return m
    }

    func sends(_ a: [TransactionAction]) -> [Int] { a.compactMap { if case .send(let m) = $0 { return m.statusCode ?? -1 } else { return nil } } }

    @Test func serverInviteNon2xxOverUDP() {
        var t = ServerTransaction(request: invite, reliable: false)
        #expect(sends(t.respond(invite.makeResponse(100, "Trying"))) == [100])
        #expect(sends(t.requestRetransmitted()) == [100], "a retransmitted INVITE gets the last provisional")
        let final = t.respond(invite.makeResponse(486, "Busy Here", toTag: "x"))
        #expect(sends(final) == [486])
        #expect(final.contains(.startTimer(.G, ms: 500)) && final.contains(.startTimer(.H, ms: 32_000)))
        #expect(sends(t.timerFired(.G)) == [486])
        #expect(t.timerFired(.G).contains(.startTimer(.G, ms: 2000)), "G doubles")
        #expect(t.ackReceived() == [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, ms: 5000)])
        #expect(t.state == .confirmed)
        #expect(t.timerFired(.I) == [.terminate])
    }

    @Test func serverInviteTimesOutWithoutACK() {
        var t = ServerTransaction(request: invite, reliable: false)
        _ = t.respond(invite.makeResponse(480, "Temporarily Unavailable", toTag: "x"))
        #expect(t.timerFired(.H) == [.cancelTimer(.G), .timeout(.H), .terminate])
    }

    @Test func serverInvite2xxIsAcceptedState() {
        var t = ServerTransaction(request: invite, reliable: true)
        #expect(t.respond(invite.makeResponse(200, "OK", toTag: "x")).contains(.startTimer(.L, ms: 32_000)))
        #expect(t.state == .accepted)
        #expect(t.ackReceived() == [], "the ACK of a 2xx belongs to the dialog")
        #expect(t.requestRetransmitted() == [], "retransmitted INVITEs are absorbed")
        #expect(t.timerFired(.L) == [.terminate])
    }

    @Test func serverNonInviteOverUDPAndTCP() {
        var u = ServerTransaction(request: options, reliable: false)
        #expect(u.respond(options.makeResponse(200, "OK")).contains(.startTimer(.J, ms: 32_000)))
        #expect(sends(u.requestRetransmitted()) == [200])
        #expect(u.timerFired(.J) == [.terminate])
        var t = ServerTransaction(request: options, reliable: true)
        #expect(t.respond(options.makeResponse(200, "OK")).last == .terminate)
    }

    @Test func clientInviteRetransmitsThenACKsAFailure() {
        var c = ClientTransaction(request: invite, reliable: false)
        #expect(c.start().contains(.startTimer(.A, ms: 500)))
        let a = c.timerFired(.A)
        #expect(a.contains(.startTimer(.A, ms: 1000)) && a.contains(.send(invite)))
        #expect(c.responseReceived(invite.makeResponse(180, "Ringing", toTag: "r")) == [.cancelTimer(.A), .passToTU(invite.makeResponse(180, "Ringing", toTag: "r"))])
        let busy = invite.makeResponse(486, "Busy Here", toTag: "r")
        let actions = c.responseReceived(busy)
        let ack = actions.compactMap { if case .send(let m) = $0 { return m } else { return nil } }.first
        #expect(ack?.method == "ACK" && ack?.to?.tag == "r" && ack?.cseq == SIPCSeq(number: 1, method: "ACK"))
        #expect(ack?.topVia?.branch == "z9hG4bK-1", "the ACK of a non-2xx reuses the INVITE's branch")
        #expect(actions.contains(.startTimer(.D, ms: 32_000)))
        #expect(c.responseReceived(busy).count == 1, "a retransmitted final is ACKed again, not passed up")
    }

    @Test func clientNonInviteTimesOut() {
        var c = ClientTransaction(request: options, reliable: false)
        _ = c.start()
        #expect(c.timerFired(.E).contains(.startTimer(.E, ms: 1000)))
        #expect(c.timerFired(.F) == [.cancelTimer(.E), .timeout(.F), .terminate])
    }

    @Test func keysMatchRetransmissionsAndACK() {
        var ack = invite
        ack.startLine = .request(method: "ACK", uri: "sip:2000@127.0.0.1", version: "SIP/2.0")
        #expect(ServerTransactionKey(ack) == ServerTransactionKey(invite))
        #expect(ServerTransactionKey(options) != ServerTransactionKey(invite))
    }
}

@Suite struct OverloadMonitorTests {
    @Test func shedsOnAStallAndRecoversWithHysteresis() {
        var m = OverloadMonitor(highWaterMs: 200, lowWaterMs: 20)
        for _ in 0..<50 { #expect(m.observe(lagMs: 1) == nil) }
        #expect(!m.shedding)
        #expect(m.observe(lagMs: 150) == nil, "below the high water")
        #expect(m.observe(lagMs: 1500) == true, "a stall turns shedding on at once")
        var probes = 0
        while m.shedding && probes < 100 { _ = m.observe(lagMs: 0); probes += 1 }
        #expect(!m.shedding && probes > 5 && probes < 30, "recovery is smoothed: \(probes) probes")
    }
}
