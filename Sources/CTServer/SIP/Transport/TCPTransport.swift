import CPosix
import Logging
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// SIP over TCP (and TLS): a listener and its connections. Messages are framed by
/// Content-Length (RFC 3261 §18.3); a stream that cannot be framed is answered (when
/// possible) and closed. Each connection has a bounded outgoing buffer and an idle timeout.
///
/// Slots (docs/operations.md, "Limits"): at most `maximumPerSource` connections from one
/// address (trusted sources exempt), and at most `maximumConnections` in all, where a newcomer
/// evicts the oldest connection that never carried an authenticated request — an address
/// holding connections without a password cannot keep registered phones out. Until a
/// connection authenticates its idle timeout is the shorter `preAuthIdleTimeoutMs`.
/// Refusals are logged at most once per interval.
final class TCPTransport: EventLoopHandler {
    let fd: Int32
    let localAddress: SocketAddress
    let kind: SIPPeer.Transport
    weak var delegate: SIPTransportDelegate?
    private let loop: EventLoop
    private let tls: TLSContext?
    private let logger: Logger
    private let parser: SIPParser
    private(set) var connections: [UInt64: SIPStreamConnection] = [:]
    private var nextID: UInt64 = 1
    private(set) var admission: ConnectionAdmission
    private(set) var refusals = RefusalLog()
    let idleTimeoutMs: Int
    let preAuthIdleTimeoutMs: Int

    struct Limits: Sendable {
        var maximumConnections = 4096
        var maximumPerSource = 64
        var idleTimeoutMs = 300_000
        var preAuthIdleTimeoutMs = 30_000
        var trustedSources: Set<String> = []
    }

    init(loop: EventLoop, address: SocketAddress, tls: TLSContext?, parser: SIPParser, limits: Limits = Limits(), logger: Logger) throws {
        self.loop = loop
        self.tls = tls
        self.logger = logger
        self.parser = parser
        admission = ConnectionAdmission(maximum: limits.maximumConnections, maximumPerSource: limits.maximumPerSource,
                                        exempt: limits.trustedSources)
        idleTimeoutMs = limits.idleTimeoutMs
        preAuthIdleTimeoutMs = min(limits.preAuthIdleTimeoutMs, limits.idleTimeoutMs)
        kind = tls == nil ? .tcp : .tls
        fd = try Sockets.listen(on: address)
        localAddress = Sockets.localAddress(fd) ?? address
        try loop.register(fd: fd, interest: .read, handler: self)
    }

    func handleEvents(_ events: UInt32) {
        while true {
            guard let (cfd, remote) = (try? Sockets.accept(fd)) ?? nil else { return }
            switch admission.decide(source: remote.host) {
            case .admit: break
            case .admitEvicting(let old):
                let host = connections[old]?.peer.address.host ?? "?"
                connections[old]?.close()
                if let line = refusals.record(source: host, reason: "closed its oldest unauthenticated connection: the limit is reached", now: loop.now) {
                    logger.warning("SIP \(kind.rawValue): \(line)")
                }
            case .refuse(let why):
                Glibc.close(cfd)
                if let line = refusals.record(source: remote.host, reason: why.rawValue, now: loop.now) { logger.warning("SIP \(kind.rawValue): \(line)") }
                continue
            }
            let stream: ByteStream
            if let tls {
                guard let s = try? tls.stream(fd: cfd, host: nil) else { Glibc.close(cfd); continue }
                stream = s
            } else {
                stream = PlainStream(fd: cfd)
            }
            let id = nextID
            nextID += 1
            let c = SIPStreamConnection(id: id, stream: stream, peer: SIPPeer(transport: kind, address: remote, connectionID: id),
                                        loop: loop, parser: parser, transport: self)
            connections[id] = c
            admission.opened(id, source: remote.host, authenticated: admission.exempt.contains(remote.host))
            c.start()
        }
    }

    /// A request on this connection authenticated (or it came from a trusted source): the
    /// connection keeps its slot at the limit and gets the long idle timeout.
    func authenticated(connectionID: UInt64) { admission.authenticated(connectionID) }

    func idleTimeoutMs(for id: UInt64) -> Int { admission.isAuthenticated(id) ? idleTimeoutMs : preAuthIdleTimeoutMs }

    /// A connection to `address` for requests we originate: an open one (ours or the peer's)
    /// is reused, else a new one is started (non-blocking connect; what is sent meanwhile is
    /// queued and flushed when it completes). TCP only: TLS needs a client context.
    func connection(to address: SocketAddress) -> SIPPeer? {
        if let c = connections.values.first(where: { $0.peer.address == address }) { return c.peer }
        guard kind == .tcp, admission.count < admission.maximum, let fd = try? Sockets.startConnect(to: address) else { return nil }
        let id = nextID
        nextID += 1
        let c = SIPStreamConnection(id: id, stream: PlainStream(fd: fd), peer: SIPPeer(transport: kind, address: address, connectionID: id),
                                    loop: loop, parser: parser, transport: self)
        connections[id] = c
        admission.opened(id, source: address.host, authenticated: true)
        c.start()
        logger.info("SIP tcp: connecting to \(address) (connection \(id))")
        return c.peer
    }

    func send(_ bytes: [UInt8], connectionID: UInt64) -> Bool {
        guard let c = connections[connectionID] else { return false }
        return c.send(bytes)
    }

    func closed(_ c: SIPStreamConnection) {
        connections.removeValue(forKey: c.id)
        admission.closed(c.id)
    }

    func messageReceived(_ bytes: [UInt8], from peer: SIPPeer) { delegate?.streamMessageReceived(bytes, from: peer) }

    func framingFailed(_ e: SIPParseError, from peer: SIPPeer) { delegate?.streamFramingFailed(e, from: peer) }

    func close() {
        loop.unregister(fd: fd)
        Glibc.close(fd)
        for c in connections.values { c.close() }
        connections.removeAll()
    }
}

/// One accepted SIP stream connection.
final class SIPStreamConnection: EventLoopHandler {
    let id: UInt64
    let peer: SIPPeer
    private let stream: ByteStream
    private let loop: EventLoop
    private let parser: SIPParser
    private weak var transport: TCPTransport?
    private var inbound: [UInt8] = []
    private var outbound = ByteBuffer()
    private var handshaking: Bool
    private var closed = false
    private var lastActivity: UInt64
    private var idleTimer: TimerID?
    private var interest: Interest = .read
    static let maximumOutgoingBytes = 1 << 20

    init(id: UInt64, stream: ByteStream, peer: SIPPeer, loop: EventLoop, parser: SIPParser, transport: TCPTransport) {
        self.id = id
        self.stream = stream
        self.peer = peer
        self.loop = loop
        self.parser = parser
        self.transport = transport
        handshaking = stream is TLSStream
        lastActivity = loop.now
    }

    func start() {
        do { try loop.register(fd: stream.fd, interest: .read, handler: self) } catch { stream.close(); closed = true; transport?.closed(self); return }
        scheduleIdleCheck()
        if handshaking { driveHandshake() }
    }

    /// Closes the connection once it has been idle for its timeout (shorter until it authenticates).
    private func scheduleIdleCheck() {
        let ms = transport?.idleTimeoutMs(for: id) ?? 30_000
        let idle = loop.now - lastActivity
        let due = UInt64(ms) * 1_000_000
        if idle >= due { close(); return }
        idleTimer = loop.schedule(afterMilliseconds: Int((due - idle) / 1_000_000) + 1) { [weak self] in
            guard let self, !self.closed else { return }
            self.scheduleIdleCheck()
        }
    }

    private func driveHandshake() {
        switch stream.handshake() {
        case .bytes: handshaking = false; setInterest(.read); readAvailable()
        case .wantRead: setInterest(.read)
        case .wantWrite: setInterest([.read, .write])
        case .eof, .failed: close()
        }
    }

    func handleEvents(_ events: UInt32) {
        guard !closed else { return }
        if handshaking { driveHandshake(); return }
        if events & Interest.write.rawValue != 0 { flush() }
        if !closed { readAvailable() }
    }

    private func readAvailable() {
        while !closed {
            let scratch = loop.readScratch
            switch stream.read(into: scratch) {
            case .bytes(let n):
                lastActivity = loop.now
                inbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                drainMessages()
            case .wantRead: return
            case .wantWrite: setInterest([.read, .write]); return
            case .eof, .failed: close(); return
            }
        }
    }

    private func drainMessages() {
        while !closed {
            do {
                guard let item = try parser.nextFromStream(&inbound) else { return }
                switch item {
                case .keepAlive(let ping): if ping { _ = send([13, 10]) }
                case .message(let bytes): transport?.messageReceived(bytes, from: peer)
                }
            } catch let e as SIPParseError {
                // Answer what can be answered, then close: the stream position is lost.
                transport?.framingFailed(e, from: peer)
                inbound.removeAll()
                closeAfterFlush()
                return
            } catch {
                close()
                return
            }
        }
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard !closed else { return false }
        guard outbound.readableBytes + bytes.count <= Self.maximumOutgoingBytes else { close(); return false }
        outbound.writeBytes(bytes)
        flush()
        return !closed
    }

    private func flush() {
        while outbound.readableBytes > 0 {
            switch outbound.withUnsafeReadableBytes({ stream.write($0) }) {
            case .bytes(let n): outbound.moveReaderIndex(forwardBy: n)
            case .wantWrite: setInterest([.read, .write]); return
            case .wantRead: return
            case .eof, .failed: close(); return
            }
        }
        outbound.discardReadBytes()
        setInterest(.read)
        if closeWhenFlushed { close() }
    }

    private var closeWhenFlushed = false
    private func closeAfterFlush() {
        closeWhenFlushed = true
        if outbound.readableBytes == 0 { close() }
    }

    private func setInterest(_ i: Interest) {
        guard i != interest, !closed else { return }
        interest = i
        loop.reregister(fd: stream.fd, interest: i)
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let t = idleTimer { loop.cancel(t) }
        loop.unregister(fd: stream.fd)
        stream.close()
        transport?.closed(self)
    }
}
