import Logging
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// One protocol link over a socket, driven by an `EventLoop` (docs/protocol.md).
///
/// Phases: connecting (dialler only) → TLS handshake (when configured) → link handshake →
/// established → closed. The pure parts live in `HandshakeStateMachine` and
/// `HeartbeatMonitor`; this class does the I/O and the timers. All methods must be called
/// on the loop thread; callbacks run there too.
public final class Connection: EventLoopHandler, CustomStringConvertible {
    public enum Side: Sendable { case acceptor, dialler }

    private enum Phase {
        case connecting
        case tlsHandshake
        case linkHandshake
        case established
        case closed
    }

    public let loop: EventLoop
    public let id: UInt64
    public let side: Side
    public let remoteAddress: String
    public let configuration: LinkConfiguration
    public private(set) var peer: PeerInfo?
    public let createdAt: UInt64
    public private(set) var establishedAt: UInt64?
    public private(set) var closeReason: ProtocolError?

    /// Counters for health snapshots.
    public private(set) var framesIn = 0
    public private(set) var framesOut = 0
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0

    public var onEstablished: ((Connection) -> Void)?
    /// A request (neither response nor heartbeat) arrived; answer with `respond`.
    public var onRequest: ((Connection, Frame) -> Void)?
    /// An event (correlation id 0, not a response) arrived.
    public var onEvent: ((Connection, Frame) -> Void)?
    public var onClose: ((Connection, ProtocolError) -> Void)?

    private var phase: Phase
    private let stream: ByteStream
    private var handshake: HandshakeStateMachine
    private var heartbeat: HeartbeatMonitor?
    private var heartbeatTimer: TimerID?
    private var handshakeTimer: TimerID?
    private let codec: FrameCodec
    private var inbound = ByteBuffer(capacity: 64 * 1024)
    private var outbound = ByteBuffer(capacity: 64 * 1024)
    private var interest: Interest = .read
    private var tlsWantsReadForWrite = false
    private var nextCorrelation: UInt32 = 1
    private var pending: [UInt32: (timer: TimerID, completion: (Result<Frame, ProtocolError>) -> Void)] = [:]
    private var logger: Logger
    nonisolated(unsafe) private static var nextID: UInt64 = 1

    init(loop: EventLoop, stream: ByteStream, side: Side, remoteAddress: String, configuration: LinkConfiguration,
         handshake: HandshakeStateMachine, connecting: Bool, logger: Logger) {
        self.loop = loop
        self.stream = stream
        self.side = side
        self.remoteAddress = remoteAddress
        self.configuration = configuration
        self.handshake = handshake
        self.codec = configuration.codec
        self.createdAt = loop.now
        self.id = Connection.nextID
        Connection.nextID += 1
        self.phase = connecting ? .connecting : (stream is TLSStream ? .tlsHandshake : .linkHandshake)
        var l = logger
        l[metadataKey: "conn"] = "\(id)"
        l[metadataKey: "remote"] = "\(remoteAddress)"
        self.logger = l
    }

    public var description: String {
        "conn#\(id) \(remoteAddress) \(peer.map { "\($0.role)/\($0.name)" } ?? "unauthenticated")"
    }

    public var isEstablished: Bool { if case .established = phase { return true } else { return false } }
    public var isClosed: Bool { if case .closed = phase { return true } else { return false } }
    public var security: String { stream.securityDescription }
    public var pendingRequestCount: Int { pending.count }
    public var outboundBytes: Int { outbound.readableBytes }

    // MARK: lifecycle

    /// Registers the socket and begins the first phase.
    func start() {
        do {
            try loop.register(fd: stream.fd, interest: phase == .connecting ? .write : .read, handler: self)
            interest = phase == .connecting ? .write : .read
        } catch {
            stream.close()
            phase = .closed
            return
        }
        handshakeTimer = loop.schedule(afterMilliseconds: configuration.handshakeTimeoutMs) { [weak self] in
            guard let self, !self.isEstablished else { return }
            self.close(ProtocolError(.timeout, "handshake not completed within \(self.configuration.handshakeTimeoutMs) ms"))
        }
        switch phase {
        case .connecting: break
        case .tlsHandshake: driveTLS()
        case .linkHandshake: beginLinkHandshake()
        case .established, .closed: preconditionFailure("Invalid state: start() twice")
        }
    }

    public func handleEvents(_ events: UInt32) {
        switch phase {
        case .closed:
            return
        case .connecting:
            let err = Sockets.pendingError(stream.fd)
            if err != 0 {
                close(ProtocolError(.unavailable, "connect to \(remoteAddress): \(SystemError(errno: err, function: "connect"))"))
                return
            }
            if events & Interest.write.rawValue == 0 && events & (CPosix_EPOLLERR | CPosix_EPOLLHUP) != 0 {
                close(ProtocolError(.unavailable, "connect to \(remoteAddress) failed"))
                return
            }
            setInterest(.read)
            if stream is TLSStream {
                phase = .tlsHandshake
                driveTLS()
            } else {
                phase = .linkHandshake
                beginLinkHandshake()
            }
        case .tlsHandshake:
            driveTLS()
        case .linkHandshake, .established:
            if events & Interest.write.rawValue != 0 || (tlsWantsReadForWrite && events & Interest.read.rawValue != 0) {
                flush()
            }
            if isClosed { return }
            if events & (Interest.read.rawValue | CPosix_EPOLLERR | CPosix_EPOLLHUP) != 0 {
                readAvailable()
            }
        }
    }

    private func driveTLS() {
        switch stream.handshake() {
        case .bytes:
            logger.debug("TLS established: \(stream.securityDescription)")
            phase = .linkHandshake
            setInterest(.read)
            beginLinkHandshake()
            // OpenSSL may already hold application data read along with the handshake.
            if !isClosed { readAvailable() }
        case .wantRead: setInterest(.read)
        case .wantWrite: setInterest([.read, .write])
        case .eof: close(ProtocolError(.connectionClosed, "peer closed during the TLS handshake"))
        case .failed(let why): close(ProtocolError(.authenticationFailed, why))
        }
    }

    private func beginLinkHandshake() {
        if let action = handshake.start() { run(action, for: nil) }
    }

    /// Closes the connection: fails pending requests, cancels timers, tells `onClose`.
    /// With `notifyPeer`, first sends an Error event with the reason (best effort).
    public func close(_ reason: ProtocolError, notifyPeer: Bool = false) {
        guard !isClosed else { return }
        if notifyPeer, phase == .linkHandshake || phase == .established {
            _ = try? enqueue(Frame(type: ErrorMessage.messageType, body: ErrorMessage(reason).encodedBody()), force: true)
            flush()
        }
        phase = .closed
        closeReason = reason
        if reason.code == .connectionClosed {
            logger.info("link closed: \(reason.reason)")
        } else if establishedAt == nil && reason.code == .unavailable {
            logger.debug("link closed: \(reason)")
        } else {
            logger.warning("link closed: \(reason)")
        }
        if let t = heartbeatTimer { loop.cancel(t) }
        if let t = handshakeTimer { loop.cancel(t) }
        loop.unregister(fd: stream.fd)
        stream.close()
        let failed = pending
        pending.removeAll()
        for (_, p) in failed {
            loop.cancel(p.timer)
            p.completion(.failure(ProtocolError(.connectionClosed, "connection closed before the response: \(reason.reason)")))
        }
        onClose?(self, reason)
        onClose = nil
        onRequest = nil
        onEvent = nil
        onEstablished = nil
    }

    /// An orderly close: says Goodbye, flushes what it can, closes.
    public func shutdown(reason: String) {
        guard isEstablished else { close(ProtocolError(.connectionClosed, reason)); return }
        _ = try? enqueue(Frame(type: Goodbye.messageType, body: Goodbye(reason: reason).encodedBody()), force: true)
        flush()
        close(ProtocolError(.connectionClosed, reason))
    }

    // MARK: sending

    /// Sends an event (correlation id 0). Returns false if the connection is not established
    /// or was closed by back-pressure.
    @discardableResult
    public func sendEvent<M: WireMessage>(_ message: M) -> Bool {
        guard isEstablished else { return false }
        return send(Frame(type: M.messageType, version: peer?.version ?? ProtocolVersion.current, body: message.encodedBody()))
    }

    /// Sends a request and calls `completion` on the loop with the decoded response, an error
    /// response, a timeout, or the connection's failure — exactly once.
    public func request<Req: WireMessage, Resp: WireMessage>(_ message: Req, expecting: Resp.Type, timeoutMs: Int? = nil,
                                                            completion: @escaping (Result<Resp, ProtocolError>) -> Void) {
        requestFrame(Frame(type: Req.messageType, version: peer?.version ?? ProtocolVersion.current, body: message.encodedBody()),
                     timeoutMs: timeoutMs) { result in
            completion(result.flatMap { frame in
                do { return .success(try Resp.decode(frame.body)) } catch let e as ProtocolError { return .failure(e) } catch {
                    return .failure(ProtocolError(.badMessage, "\(error)"))
                }
            })
        }
    }

    public func requestFrame(_ frame: Frame, timeoutMs: Int? = nil, completion: @escaping (Result<Frame, ProtocolError>) -> Void) {
        guard isEstablished else {
            completion(.failure(ProtocolError(.unavailable, "link to \(remoteAddress) is not established")))
            return
        }
        var frame = frame
        let corr = nextCorrelation
        nextCorrelation = nextCorrelation == UInt32.max ? 1 : nextCorrelation + 1
        frame.correlationID = corr
        let timeout = timeoutMs ?? configuration.requestTimeoutMs
        let timer = loop.schedule(afterMilliseconds: timeout) { [weak self] in
            guard let self, let p = self.pending.removeValue(forKey: corr) else { return }
            p.completion(.failure(ProtocolError(.timeout, "no response to \(frame.type) within \(timeout) ms")))
        }
        pending[corr] = (timer, completion)
        if !send(frame) {
            // send() closed the connection, which already failed every pending request.
            return
        }
    }

    /// Answers `request` with `message`.
    @discardableResult
    public func respond<M: WireMessage>(to request: Frame, with message: M) -> Bool {
        send(Frame(type: request.type, version: request.version, flags: [.response], correlationID: request.correlationID,
                   body: message.encodedBody()))
    }

    /// Answers `request` with an error.
    @discardableResult
    public func respond(to request: Frame, error: ProtocolError) -> Bool {
        send(Frame(type: request.type, version: request.version, flags: [.response, .error], correlationID: request.correlationID,
                   body: ErrorMessage(error).encodedBody()))
    }

    /// Queues a frame and tries to write it now. False if the connection is (now) closed.
    @discardableResult
    public func send(_ frame: Frame) -> Bool {
        guard !isClosed else { return false }
        do {
            try enqueue(frame, force: false)
        } catch let e as ProtocolError {
            close(e)
            return false
        } catch {
            close(ProtocolError(.internalError, "\(error)"))
            return false
        }
        flush()
        return !isClosed
    }

    private func enqueue(_ frame: Frame, force: Bool) throws {
        let before = outbound.readableBytes
        try codec.encode(frame, into: &outbound)
        if !force, outbound.readableBytes > configuration.maximumOutgoingBytes {
            let size = outbound.readableBytes - before
            throw ProtocolError(.backPressure, "outgoing buffer full (\(before) bytes queued, frame of \(size)): peer is not reading")
        }
        framesOut += 1
        heartbeat?.frameSent(at: loop.now)
    }

    private func flush() {
        tlsWantsReadForWrite = false
        while outbound.readableBytes > 0 {
            let step = outbound.withUnsafeReadableBytes { stream.write($0) }
            switch step {
            case .bytes(let n):
                outbound.moveReaderIndex(forwardBy: n)
                bytesOut += n
            case .wantWrite:
                setInterest([.read, .write])
                return
            case .wantRead:
                tlsWantsReadForWrite = true
                setInterest(.read)
                return
            case .eof:
                close(ProtocolError(.connectionClosed, "peer closed"))
                return
            case .failed(let why):
                close(ProtocolError(.connectionClosed, "write failed: \(why)"))
                return
            }
        }
        outbound.discardReadBytes()
        if !isClosed { setInterest(.read) }
    }

    private func setInterest(_ i: Interest) {
        guard i != interest, !isClosed else { return }
        interest = i
        loop.reregister(fd: stream.fd, interest: i)
    }

    // MARK: receiving

    private func readAvailable() {
        while !isClosed {
            let scratch = loop.readScratch
            switch stream.read(into: scratch) {
            case .bytes(let n):
                bytesIn += n
                inbound.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                decodeFrames()
            case .wantRead:
                return
            case .wantWrite:
                setInterest([.read, .write])
                return
            case .eof:
                close(ProtocolError(.connectionClosed, "peer closed the connection"))
                return
            case .failed(let why):
                close(ProtocolError(.connectionClosed, "read failed: \(why)"))
                return
            }
        }
    }

    private func decodeFrames() {
        while !isClosed {
            let frame: Frame
            do {
                guard let f = try codec.decode(&inbound) else { break }
                frame = f
            } catch let e as ProtocolError {
                close(e, notifyPeer: true)
                return
            } catch {
                close(ProtocolError(.badFrame, "\(error)"), notifyPeer: true)
                return
            }
            framesIn += 1
            heartbeat?.frameReceived(at: loop.now)
            dispatch(frame)
        }
        inbound.discardReadBytes()
    }

    private func dispatch(_ frame: Frame) {
        switch phase {
        case .linkHandshake:
            dispatchHandshake(frame)
        case .established:
            dispatchEstablished(frame)
        case .connecting, .tlsHandshake, .closed:
            preconditionFailure("Invalid state: frame dispatched before the link handshake")
        }
    }

    private func dispatchHandshake(_ frame: Frame) {
        do {
            let action: HandshakeStateMachine.Action
            switch (frame.type, frame.isResponse, frame.isError) {
            case (Challenge.messageType, false, false):
                action = handshake.challengeReceived(try Challenge.decode(frame.body))
            case (Hello.messageType, false, false):
                action = handshake.helloReceived(try Hello.decode(frame.body), sessionID: id)
            case (Hello.messageType, true, false):
                action = handshake.welcomeReceived(try Welcome.decode(frame.body))
            case (_, _, true), (ErrorMessage.messageType, false, false):
                action = handshake.errorReceived(try ErrorMessage.decode(frame.body))
            default:
                action = handshake.unexpectedFrame(frame.type)
            }
            run(action, for: frame)
        } catch let e as ProtocolError {
            run(side == .acceptor ? .rejectAndClose(e) : .close(e), for: frame)
        } catch {
            close(ProtocolError(.badMessage, "\(error)"))
        }
    }

    private func run(_ action: HandshakeStateMachine.Action, for frame: Frame?) {
        logger.trace("handshake action \(action)")
        switch action {
        case .sendChallenge(let c):
            _ = send(Frame(type: Challenge.messageType, body: c.encodedBody()))
        case .sendHello(let h):
            _ = send(Frame(type: Hello.messageType, body: h.encodedBody()))
        case .acceptAndSendWelcome(let w, let p):
            peer = p
            respond(to: frame!, with: w)
            becomeEstablished(heartbeatMs: Int(w.heartbeatIntervalMs))
        case .established(let p, let heartbeatMs):
            peer = p
            // The acceptor's interval governs both ends.
            becomeEstablished(heartbeatMs: Int(heartbeatMs))
        case .rejectAndClose(let e):
            if let frame, !frame.isResponse, frame.correlationID != 0 {
                respond(to: frame, error: e)
            } else {
                _ = send(Frame(type: ErrorMessage.messageType, body: ErrorMessage(e).encodedBody()))
            }
            close(e)
        case .close(let e):
            close(e)
        }
    }

    private func becomeEstablished(heartbeatMs: Int) {
        guard !isClosed else { return }
        phase = .established
        establishedAt = loop.now
        if let t = handshakeTimer { loop.cancel(t) }
        handshakeTimer = nil
        let monitor = HeartbeatMonitor(intervalMs: heartbeatMs, now: loop.now)
        heartbeat = monitor
        logger.info("link established with \(peer.map { "\($0.role) \($0.name) (\($0.software), v\($0.version))" } ?? "?") over \(stream.securityDescription)")
        scheduleHeartbeatTick(monitor.tickNs)
        onEstablished?(self)
    }

    private func scheduleHeartbeatTick(_ ns: UInt64) {
        heartbeatTimer = loop.schedule(afterNanoseconds: ns) { [weak self] in
            guard let self, !self.isClosed, var hb = self.heartbeat else { return }
            let action = hb.tick(now: self.loop.now)
            self.heartbeat = hb
            switch action {
            case .none: break
            case .sendHeartbeat:
                self.sendEvent(Heartbeat(sentAtMs: self.loop.now / 1_000_000))
            case .declareDead(let ms):
                self.close(ProtocolError(.heartbeatTimeout, "peer silent for \(ms) ms (heartbeat every \(hb.intervalNs / 1_000_000) ms)"))
                return
            }
            if !self.isClosed { self.scheduleHeartbeatTick(hb.tickNs) }
        }
    }

    private func dispatchEstablished(_ frame: Frame) {
        if frame.isResponse {
            guard let p = pending.removeValue(forKey: frame.correlationID) else {
                logger.debug("response \(frame.type) #\(frame.correlationID) matches no pending request (late after a timeout?)")
                return
            }
            loop.cancel(p.timer)
            if frame.isError {
                let err = (try? ErrorMessage.decode(frame.body))?.asError ?? ProtocolError(.badMessage, "undecodable error response")
                p.completion(.failure(err))
            } else {
                p.completion(.success(frame))
            }
            return
        }
        switch frame.type {
        case Heartbeat.messageType:
            return
        case Goodbye.messageType:
            let reason = (try? Goodbye.decode(frame.body).reason) ?? ""
            close(ProtocolError(.connectionClosed, "peer said goodbye: \(reason)"))
        case ErrorMessage.messageType where frame.correlationID == 0:
            let err = (try? ErrorMessage.decode(frame.body))?.asError ?? ProtocolError(.badMessage, "undecodable error")
            close(ProtocolError(err.code, "peer reported: \(err.reason)"))
        case Challenge.messageType, Hello.messageType:
            close(ProtocolError(.badMessage, "handshake message after the handshake"), notifyPeer: true)
        default:
            if frame.correlationID == 0 {
                if let onEvent { onEvent(self, frame) } else { logger.debug("event \(frame.type) ignored") }
            } else if let onRequest {
                onRequest(self, frame)
            } else {
                respond(to: frame, error: ProtocolError(.unknownMessage, "no handler for \(frame.type)"))
            }
        }
    }
}
