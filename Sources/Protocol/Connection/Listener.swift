import Logging

/// Accepts protocol links on one address (docs/protocol.md §7). Each accepted socket becomes
/// a `Connection` in the acceptor role, admitting only `acceptedRoles`.
public final class Listener: EventLoopHandler {
    public let loop: EventLoop
    public let boundAddress: SocketAddress
    public private(set) var connections: [UInt64: Connection] = [:]
    /// Called for each accepted connection before its handshake starts: set its callbacks here.
    public var onAccept: ((Connection) -> Void)?

    private let fd: Int32
    private let configuration: LinkConfiguration
    private let identity: LinkIdentity
    private let acceptedRoles: Set<PeerRole>
    private let tls: TLSContext?
    private let maximumConnections: Int
    private let logger: Logger
    private var closed = false

    public init(loop: EventLoop, address: SocketAddress, configuration: LinkConfiguration, identity: LinkIdentity,
                acceptedRoles: Set<PeerRole>, tls: TLSContext? = nil, maximumConnections: Int = 4096, logger: Logger) throws {
        self.loop = loop
        self.configuration = configuration
        self.identity = identity
        self.acceptedRoles = acceptedRoles
        self.tls = tls
        self.maximumConnections = maximumConnections
        self.logger = logger
        fd = try Sockets.listen(on: address)
        boundAddress = Sockets.localAddress(fd) ?? address
        try loop.register(fd: fd, interest: .read, handler: self)
        logger.info("listening on \(boundAddress) for \(acceptedRoles.map(\.description).sorted().joined(separator: ",")) links\(tls == nil ? "" : " (TLS)")")
    }

    public func handleEvents(_ events: UInt32) {
        while !closed {
            let accepted: (Int32, SocketAddress)?
            do {
                accepted = try Sockets.accept(fd)
            } catch {
                // EMFILE and friends: log and retry on the next readiness event.
                logger.error("accept failed: \(error)")
                return
            }
            guard let (cfd, remote) = accepted else { return }
            if connections.count >= maximumConnections {
                logger.warning("refusing \(remote): \(connections.count) connections is the maximum")
                PlainStream(fd: cfd).close()
                continue
            }
            let stream: ByteStream
            if let tls {
                do { stream = try tls.stream(fd: cfd, host: nil) } catch {
                    logger.error("TLS setup for \(remote) failed: \(error)")
                    PlainStream(fd: cfd).close()
                    continue
                }
            } else {
                stream = PlainStream(fd: cfd)
            }
            let hs = HandshakeStateMachine(acceptor: identity, secret: configuration.secret, acceptedRoles: acceptedRoles,
                                           heartbeatIntervalMs: UInt32(configuration.heartbeatIntervalMs), nonce: Crypto.randomBytes(32))
            let conn = Connection(loop: loop, stream: stream, side: .acceptor, remoteAddress: remote.description,
                                  configuration: configuration, handshake: hs, connecting: false, logger: logger)
            connections[conn.id] = conn
            onAccept?(conn)
            // Keep the owner's close handler and drop our reference afterwards.
            let ownerClose = conn.onClose
            conn.onClose = { [weak self] c, reason in
                self?.connections.removeValue(forKey: c.id)
                ownerClose?(c, reason)
            }
            conn.start()
        }
    }

    /// Established connections, oldest first.
    public var establishedConnections: [Connection] {
        connections.values.filter(\.isEstablished).sorted { $0.id < $1.id }
    }

    /// Stops accepting and closes every connection with a Goodbye.
    public func close(reason: String = "shutting down") {
        guard !closed else { return }
        closed = true
        loop.unregister(fd: fd)
        PlainStream(fd: fd).close()
        for c in connections.values { c.shutdown(reason: reason) }
        connections.removeAll()
    }
}
