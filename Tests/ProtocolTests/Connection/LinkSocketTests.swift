import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Links over real loopback sockets: handshake, requests, heartbeats, reconnect,
/// back-pressure and malformed input.
@Suite(.serialized) struct LinkSocketTests {
    static let echo = MessageType(rawValue: 0x7F01)
    static let silence = MessageType(rawValue: 0x7F02)
    static let flood = MessageType(rawValue: 0x7F03)

    let config = LinkConfiguration(secret: Array("test-secret-123".utf8), heartbeatIntervalMs: 200, requestTimeoutMs: 2000, handshakeTimeoutMs: 1000)
    let ct = LinkIdentity(role: .ctServer, name: "ct-test")
    let flow = LinkIdentity(role: .flowServer, name: "flow-test")

    /// A listener whose connections echo requests of type `echo` and ignore `silence`.
    func makeServer(_ lt: LoopThread, config: LinkConfiguration? = nil, port: Int = 0, tls: TLSContext? = nil,
                    closeReasons: Box<[ErrorCode]>? = nil) throws -> Listener {
        try lt.sync {
            let l = try Listener(loop: lt.loop, address: try SocketAddress(host: "127.0.0.1", port: port), configuration: config ?? self.config,
                                 identity: self.ct, acceptedRoles: [.flowServer], tls: tls, logger: TestSupport.logger)
            l.onAccept = { conn in
                conn.onClose = { _, reason in closeReasons?.mutate { $0.append(reason.code) } }
                conn.onRequest = { c, frame in
                    switch frame.type {
                    case Self.echo:
                        c.send(Frame(type: frame.type, flags: [.response], correlationID: frame.correlationID, body: frame.body))
                    case Self.flood:
                        // Send incompressible data until back-pressure closes this connection.
                        var g = SplitMix64(seed: 5)
                        let chunk = (0..<(64 * 1024)).map { _ in UInt8.random(in: 0...255, using: &g) }
                        for _ in 0..<10_000 where !c.isClosed {
                            c.send(Frame(type: Self.flood, body: chunk))
                        }
                    default: break
                    }
                }
            }
            return l
        }
    }

    func makeDialer(_ lt: LoopThread, port: Int, config: LinkConfiguration? = nil, tls: TLSContext? = nil, identity: LinkIdentity? = nil) throws -> Dialer {
        try lt.sync {
            let d = Dialer(loop: lt.loop, host: "127.0.0.1", port: port, configuration: config ?? self.config, identity: identity ?? self.flow,
                           expectedPeerRoles: [.ctServer], tls: tls, backoff: Backoff(initialMs: 20, maximumMs: 200), logger: TestSupport.logger)
            d.start()
            return d
        }
    }

    func echoRequest(_ lt: LoopThread, _ d: Dialer, body: [UInt8], timeoutMs: Int? = nil, type: MessageType = echo) -> Result<Frame, ProtocolError> {
        let result = Box<Result<Frame, ProtocolError>?>(nil)
        lt.loop.execute {
            guard let c = d.established else { result.value = .failure(ProtocolError(.unavailable, "down")); return }
            c.requestFrame(Frame(type: type, body: body), timeoutMs: timeoutMs) { result.value = $0 }
        }
        TestSupport.waitUntil(15) { result.value != nil }
        return result.value ?? .failure(ProtocolError(.timeout, "test wait"))
    }

    @Test func handshakeAndRequestResponse() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try makeServer(lt)
        let d = try makeDialer(lt, port: server.boundAddress.port)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        let peer = try lt.sync { d.established?.peer }
        #expect(peer?.role == .ctServer && peer?.name == "ct-test")
        let body = Array("hello".utf8)
        #expect(try echoRequest(lt, d, body: body).get().body == body)
        // A large body goes compressed and comes back intact.
        let big = [UInt8](repeating: 42, count: 300_000)
        #expect(try echoRequest(lt, d, body: big).get().body == big)
        let accepted = try lt.sync { server.establishedConnections.map { $0.peer?.name } }
        #expect(accepted == ["flow-test"])
    }

    @Test func wrongSecretIsRefused() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try makeServer(lt)
        var bad = config
        bad.secret = Array("not-the-secret".utf8)
        let d = try makeDialer(lt, port: server.boundAddress.port, config: bad)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.lastError?.code == .authenticationFailed }) == true })
        #expect(try lt.sync { d.established == nil && server.establishedConnections.isEmpty })
        try lt.sync { d.stop() }
    }

    @Test func requestTimesOutWhenThePeerNeverAnswers() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try makeServer(lt)
        let d = try makeDialer(lt, port: server.boundAddress.port)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        let r = echoRequest(lt, d, body: [], timeoutMs: 300, type: Self.silence)
        guard case .failure(let e) = r else { Issue.record("expected a timeout"); return }
        #expect(e.code == .timeout)
        // The link is still usable afterwards.
        #expect((try? echoRequest(lt, d, body: [1]).get().body) == [1])
    }

    /// A peer that completes the handshake and then goes silent is declared dead within three
    /// heartbeat intervals (200 ms here) and its connection closed.
    @Test func silentPeerIsDeclaredDead() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try makeServer(lt)
        let raw = try RawClient(port: server.boundAddress.port)
        let challenge = try Challenge.decode(try #require(try raw.readFrame()).body)
        let hello = Hello(role: .flowServer, minVersion: 1, maxVersion: 1, name: "mute", software: "raw",
                          proof: HandshakeStateMachine.proof(secret: config.secret, nonce: challenge.nonce, role: .flowServer, name: "mute"))
        raw.send(try FrameCodec().encode(Frame(type: Hello.messageType, correlationID: 1, body: hello.encodedBody())))
        let welcome = try #require(try raw.readFrame())
        #expect(welcome.isResponse && !welcome.isError)
        let start = Date()
        let (_, closed) = raw.readUntilClosed(seconds: 10)
        let elapsed = Date().timeIntervalSince(start)
        #expect(closed, "server closed the silent connection")
        #expect(elapsed >= 0.4, "not before two intervals")
        let reason = try lt.sync { server.connections.isEmpty }
        #expect(reason)
    }

    /// A connection that never completes the handshake is closed after handshake_timeout_ms.
    @Test func idleUnauthenticatedConnectionIsClosed() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try makeServer(lt)
        let raw = try RawClient(port: server.boundAddress.port)
        let (_, closed) = raw.readUntilClosed(seconds: 10)
        #expect(closed)
    }

    /// Kill the listener, start it again on the same port: the dialler comes back by itself.
    @Test func reconnectsAfterTheListenerRestarts() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        var server = try makeServer(lt)
        let port = server.boundAddress.port
        let d = try makeDialer(lt, port: port)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        try lt.sync { server.close(reason: "test restart") }
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established == nil }) == true })
        usleep(300_000) // a few failed attempts against the closed port
        server = try makeServer(lt, port: port)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil && d.establishedCount == 2 }) == true })
        #expect((try? echoRequest(lt, d, body: [9]).get().body) == [9])
        try lt.sync { d.stop() }
    }

    /// A reader that stops reading: the server's bounded outgoing buffer fills and that one
    /// connection is dropped; the server keeps serving others.
    @Test func backPressureDropsOnlyTheStalledConnection() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        var small = config
        small.maximumOutgoingBytes = 1 << 20
        small.heartbeatIntervalMs = 5000
        let closeReasons = Box<[ErrorCode]>([])
        let server = try makeServer(lt, config: small, closeReasons: closeReasons)
        // Raw client: handshake, ask for a flood, then never read.
        let raw = try RawClient(port: server.boundAddress.port)
        let challenge = try Challenge.decode(try #require(try raw.readFrame()).body)
        let hello = Hello(role: .flowServer, minVersion: 1, maxVersion: 1, name: "stalled", software: "raw",
                          proof: HandshakeStateMachine.proof(secret: config.secret, nonce: challenge.nonce, role: .flowServer, name: "stalled"))
        raw.send(try FrameCodec().encode(Frame(type: Hello.messageType, correlationID: 1, body: hello.encodedBody())))
        _ = try raw.readFrame()
        raw.send(try FrameCodec().encode(Frame(type: Self.flood, correlationID: 2)))
        #expect(TestSupport.waitUntil { (try? lt.sync { server.connections.isEmpty }) == true }, "stalled connection dropped")
        #expect(closeReasons.value.contains(.backPressure))
        let d = try makeDialer(lt, port: server.boundAddress.port, config: small)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        #expect((try? echoRequest(lt, d, body: [5]).get().body) == [5])
        try lt.sync { d.stop() }
    }

    /// Truncated, oversized, garbage and randomly mutated frames from many raw sockets close
    /// only those connections; a well-behaved client connected throughout keeps working.
    @Test func malformedInputClosesOnlyThatConnection() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        var cfg = config
        cfg.heartbeatIntervalMs = 5000
        let server = try makeServer(lt, config: cfg)
        let port = server.boundAddress.port
        let good = try makeDialer(lt, port: port, config: cfg)
        #expect(TestSupport.waitUntil { (try? lt.sync { good.established != nil }) == true })
        let codec = FrameCodec()
        let valid = try codec.encode(Frame(type: Hello.messageType, correlationID: 1,
                                           body: Hello(role: .flowServer, minVersion: 1, maxVersion: 1, name: "x", software: "y", proof: [UInt8](repeating: 0, count: 32)).encodedBody()))
        var cases: [[UInt8]] = [
            [0x7f, 0xff, 0xff, 0xff, 0, 1, 2],               // declares 2 GiB
            [0, 0, 0, 2, 0, 0],                               // shorter than a header
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),  // garbage
            Array(valid.prefix(valid.count / 2)),             // truncated (then idle)
            [0, 0, 0, 8, 0, 2, 1, 0x80, 0, 0, 0, 1],          // reserved flag
        ]
        var g = SplitMix64(seed: 99)
        for _ in 0..<40 {
            var m = valid
            for _ in 0..<Int.random(in: 1...4, using: &g) { m[Int.random(in: 0..<m.count, using: &g)] = UInt8.random(in: 0...255, using: &g) }
            cases.append(m)
        }
        for bytes in cases {
            let raw = try RawClient(port: port)
            raw.send(bytes)
            let (_, closed) = raw.readUntilClosed(seconds: 5)
            #expect(closed, "server closed a connection that sent \(bytes.prefix(12))")
        }
        #expect((try? echoRequest(lt, good, body: [7]).get().body) == [7], "good client unaffected")
        #expect(try lt.sync { server.establishedConnections.count } == 1)
        try lt.sync { good.stop() }
    }
}

/// Server and client on two loops (two threads) in one process, many frames of random sizes
/// in flight: every body comes back intact and in its own response. (Guards against state
/// shared between loops, such as a read buffer.)
@Suite struct TwoLoopTests {
    @Test func pipelinedEchoAcrossTwoLoops() throws {
        let t = LinkSocketTests()
        let serverLoop = try LoopThread("server")
        let clientLoop = try LoopThread("client")
        defer { serverLoop.stop(); clientLoop.stop() }
        let server = try t.makeServer(serverLoop)
        let d = try t.makeDialer(clientLoop, port: server.boundAddress.port)
        #expect(TestSupport.waitUntil { (try? clientLoop.sync { d.established != nil }) == true })
        let total = 3000
        let mismatches = Box(0)
        let received = Box(0)
        clientLoop.loop.execute {
            var g = SplitMix64(seed: 42)
            let c = d.established!
            for i in 0..<total {
                let size = Int.random(in: 0...20_000, using: &g)
                let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
                c.requestFrame(Frame(type: LinkSocketTests.echo, body: body)) { r in
                    if (try? r.get().body) != body { mismatches.mutate { $0 += 1 } }
                    received.mutate { $0 += 1 }
                }
            }
        }
        #expect(TestSupport.waitUntil(60) { received.value == total })
        #expect(mismatches.value == 0)
        try clientLoop.sync { d.stop() }
    }
}
