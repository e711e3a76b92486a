import CPosix
import Logging
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// SIP over TCP (and TLS): a listener and its connections. Messages are framed by
/// Content-Length (RFC 3261 §18.3); a stream that cannot be framed is answered (when
/// possible) and closed. Each connection has a bounded outgoing buffer and an idle timeout.
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
    let maximumConnections: Int
    let idleTimeoutMs: Int

    init(loop: EventLoop, address: SocketAddress, tls: TLSContext?, parser: SIPParser, maximumConnections: Int = 4096,
         idleTimeoutMs: Int = 300_000, logger: Logger) throws {
        self.loop = loop
        self.tls = tls
        self.logger = logger
        self.parser = parser
        self.maximumConnections = maximumConnections
        self.idleTimeoutMs = idleTimeoutMs
        kind = tls == nil ? .tcp : .tls
        fd = try Sockets.listen(on: address)
        localAddress = Sockets.localAddress(fd) ?? address
        try loop.register(fd: fd, interest: .read, handler: self)
    }

    func handleEvents(_ events: UInt32) {
        while true {
            guard let (cfd, remote) = (try? Sockets.accept(fd)) ?? nil else { return }
            guard connections.count < maximumConnections else {
                logger.warning("SIP \(kind.rawValue): refusing \(remote): \(connections.count) connections")
                Glibc.close(cfd)
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
            c.start(idleTimeoutMs: idleTimeoutMs)
        }
    }

    /// A connection to `address` for requests we originate: an open one (ours or the peer's)
    /// is reused, else a new one is started (non-blocking connect; what is sent meanwhile is
    /// queued and flushed when it completes). TCP only: TLS needs a client context.
    func connection(to address: SocketAddress) -> SIPPeer? {
        if let c = connections.values.first(where: { $0.peer.address == address }) { return c.peer }
        guard kind == .tcp, connections.count < maximumConnections, let fd = try? Sockets.startConnect(to: address) else { return nil }
        let id = nextID
        nextID += 1
        let c = SIPStreamConnection(id: id, stream: PlainStream(fd: fd), peer: SIPPeer(transport: kind, address: address, connectionID: id),
                                    loop: loop, parser: parser, transport: self)
        connections[id] = c
        c.start(idleTimeoutMs: idleTimeoutMs)
        logger.info("SIP tcp: connecting to \(address) (connection \(id))")
        return c.peer
    }

    func send(_ bytes: [UInt8], connectionID: UInt64) -> Bool {
        guard let c = connections[connectionID] else { return false }
        return c.send(bytes)
    }

    func closed(_ c: SIPStreamConnection) { connections.removeValue(forKey: c.id) }

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

    func start(idleTimeoutMs: Int) {
        do { try loop.register(fd: stream.fd, interest: .read, handler: self) } catch { stream.close(); closed = true; return }
        scheduleIdleCheck(idleTimeoutMs)
        if handshaking { driveHandshake() }
    }

    private func scheduleIdleCheck(_ ms: Int) {
        idleTimer = loop.schedule(afterMilliseconds: ms) { [weak self] in
            guard let self, !self.closed else { return }
            if self.loop.now - self.lastActivity >= UInt64(ms) * 1_000_000 { self.close() } else { self.scheduleIdleCheck(ms) }
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
