import Testing
@testable import Protocol

@Suite struct HandshakeStateMachineTests {
    let secret = Array("a-shared-secret".utf8)
    let nonce = Array(repeating: UInt8(7), count: 32)
    var ct: LinkIdentity { LinkIdentity(role: .ctServer, name: "ct-1", software: "hotline/test") }
    var flow: LinkIdentity { LinkIdentity(role: .flowServer, name: "flow-1", software: "hotline/test") }

    func acceptor(secret: [UInt8]? = nil, roles: Set<PeerRole> = [.flowServer], min: UInt8 = 1, max: UInt8 = 1) -> HandshakeStateMachine {
        HandshakeStateMachine(acceptor: ct, secret: secret ?? self.secret, acceptedRoles: roles, heartbeatIntervalMs: 1500,
                              nonce: nonce, minVersion: min, maxVersion: max)
    }

    func dialler(secret: [UInt8]? = nil, identity: LinkIdentity? = nil, min: UInt8 = 1, max: UInt8 = 1) -> HandshakeStateMachine {
        HandshakeStateMachine(dialler: identity ?? flow, secret: secret ?? self.secret, expectedPeerRoles: [.ctServer],
                              minVersion: min, maxVersion: max)
    }

    @Test func fullExchange() throws {
        var a = acceptor()
        var d = dialler()
        guard case .sendChallenge(let challenge) = a.start() else { Issue.record("acceptor must challenge"); return }
        #expect(d.start() == nil)
        guard case .sendHello(let hello) = d.challengeReceived(challenge) else { Issue.record("dialler must hello"); return }
        #expect(hello.proof == HandshakeStateMachine.proof(secret: secret, nonce: nonce, role: .flowServer, name: "flow-1"))
        guard case .acceptAndSendWelcome(let welcome, let peer) = a.helloReceived(hello, sessionID: 9) else { Issue.record("accept"); return }
        #expect(peer == PeerInfo(role: .flowServer, name: "flow-1", software: "hotline/test", version: 1, sessionID: 9))
        #expect(welcome.heartbeatIntervalMs == 1500)
        #expect(d.welcomeReceived(welcome) == .established(PeerInfo(role: .ctServer, name: "ct-1", software: "hotline/test", version: 1, sessionID: 9),
                                                           heartbeatIntervalMs: 1500))
        #expect(a.isEstablished && d.isEstablished)
    }

    @Test func wrongSecretIsRejectedBeforeRoleOrVersionIsRevealed() {
        var a = acceptor(roles: [.appOperate], max: 1)
        var d = dialler(secret: Array("wrong-secret!".utf8), max: 9)
        guard case .sendChallenge(let c) = a.start(), case .sendHello(let h) = d.challengeReceived(c) else { Issue.record(); return }
        #expect(a.helloReceived(h, sessionID: 1) == .rejectAndClose(ProtocolError(.authenticationFailed, "bad credentials")))
    }

    @Test func roleNotAcceptedOnThisPort() {
        var a = acceptor(roles: [.appOperate])
        var d = dialler()
        guard case .sendChallenge(let c) = a.start(), case .sendHello(let h) = d.challengeReceived(c) else { Issue.record(); return }
        guard case .rejectAndClose(let e) = a.helloReceived(h, sessionID: 1) else { Issue.record(); return }
        #expect(e.code == .roleNotAccepted)
    }

    @Test func versionsNegotiateToTheHighestCommon() {
        #expect(HandshakeStateMachine.negotiate(1, 3, 2, 5) == 3)
        #expect(HandshakeStateMachine.negotiate(1, 1, 2, 5) == nil)
        var a = acceptor(min: 1, max: 3)
        var d = dialler(min: 2, max: 5)
        guard case .sendChallenge(let c) = a.start(), case .sendHello(let h) = d.challengeReceived(c),
              case .acceptAndSendWelcome(let w, _) = a.helloReceived(h, sessionID: 1) else { Issue.record(); return }
        #expect(w.version == 3)
    }

    @Test func diallerRefusesAnUnexpectedPeerRole() {
        var d = dialler()
        let c = Challenge(nonce: nonce, role: .appOperate, minVersion: 1, maxVersion: 1, name: "x")
        guard case .close(let e) = d.challengeReceived(c) else { Issue.record(); return }
        #expect(e.code == .roleNotAccepted)
    }

    @Test func framesBeforeTheHandshakeAreRefused() {
        var a = acceptor()
        _ = a.start()
        guard case .rejectAndClose(let e) = a.unexpectedFrame(MessageCatalogue.topology) else { Issue.record(); return }
        #expect(e.code == .handshakeRequired)
    }

    @Test func aSecondHelloIsRefused() {
        var a = acceptor()
        var d = dialler()
        guard case .sendChallenge(let c) = a.start(), case .sendHello(let h) = d.challengeReceived(c) else { Issue.record(); return }
        _ = a.helloReceived(h, sessionID: 1)
        guard case .rejectAndClose = a.helloReceived(h, sessionID: 1) else { Issue.record(); return }
    }
}

@Suite struct HeartbeatMonitorTests {
    let ms: UInt64 = 1_000_000

    @Test func sendsOncePerIntervalAndDeclaresDeathWithinThreeIntervals() {
        var m = HeartbeatMonitor(intervalMs: 1000, now: 0)
        var sent = 0
        var deadAt: UInt64?
        var t: UInt64 = 0
        while deadAt == nil && t < 10_000 * ms {
            t += m.tickNs
            switch m.tick(now: t) {
            case .sendHeartbeat: sent += 1
            case .declareDead: deadAt = t
            case .none: break
            }
        }
        #expect(deadAt != nil)
        #expect(deadAt! <= 3000 * ms, "dead within three intervals of the last frame")
        #expect(deadAt! >= 2000 * ms, "not before two intervals are missed")
        #expect(sent == 2 || sent == 3)
    }

    @Test func framesKeepThePeerAlive() {
        var m = HeartbeatMonitor(intervalMs: 1000, now: 0)
        var t: UInt64 = 0
        for _ in 0..<100 {
            t += m.tickNs
            m.frameReceived(at: t)
            if case .declareDead = m.tick(now: t) { Issue.record("declared dead while frames arrive") }
        }
    }
}

@Suite struct BackoffTests {
    @Test func growsExponentiallyWithJitterAndCaps() {
        var b = Backoff(initialMs: 100, maximumMs: 2000)
        var g = SplitMix64(seed: 3)
        var delays: [Int] = []
        for _ in 0..<10 { delays.append(b.nextDelayMs(using: &g)) }
        let ceilings = [100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000, 2000]
        for (d, c) in zip(delays, ceilings) { #expect(d >= c / 2 && d <= c, "\(d) within [\(c / 2), \(c)]") }
        b.reset()
        #expect(b.nextDelayMs(using: &g) <= 100)
    }

    @Test func jitterSpreadsDelays() {
        var g = SplitMix64(seed: 11)
        let samples = (0..<50).map { _ -> Int in var b = Backoff(initialMs: 1000, maximumMs: 10000); return b.nextDelayMs(using: &g) }
        #expect(Set(samples).count > 10)
    }
}
