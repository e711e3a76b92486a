import Logging

/// Accepts protocol links on one address (docs/protocol.md §7). Each accepted socket becomes
/// a `Connection` in the acceptor role, admitting only `acceptedRoles`.
///
/// Slots: `maximumConnections` in all; at most `maximumUnauthenticatedPerSource` connections
/// from one address that have not completed the handshake; at the limit a newcomer closes the
/// oldest unauthenticated connection, never an established link — so strangers re-opening
/// connections cannot keep a Flow-Server from re-attaching. Refusals are logged once per interval.
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
    private var admission: ConnectionAdmission
    public private(set) var refusals = RefusalLog()
    private let logger: Logger
    private var closed = false

    public init(loop: EventLoop, address: SocketAddress, configuration: LinkConfiguration, identity: LinkIdentity,
                acceptedRoles: Set<PeerRole>, tls: TLSContext? = nil, maximumConnections: Int = 4096,
                maximumUnauthenticatedPerSource: Int = 8, logger: Logger) throws {
        self.loop = loop
        self.configuration = configuration
        self.identity = identity
        self.acceptedRoles = acceptedRoles
        self.tls = tls
        admission = ConnectionAdmission(maximum: maximumConnections, maximumPerSource: maximumUnauthenticatedPerSource,
                                        perSourceCountsUnauthenticatedOnly: true)
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
            switch admission.decide(source: remote.host) {
            case .admit: break
            case .admitEvicting(let old):
                let host = connections[old].map { String($0.remoteAddress) } ?? "?"
                connections[old]?.close(ProtocolError(.connectionClosed, "closed for a newcomer: the connection limit is reached and it had not authenticated"))
                refused(host, "closed its oldest unauthenticated connection: the limit is reached")
            case .refuse(let why):
                PlainStream(fd: cfd).close()
                refused(remote.host, why.rawValue)
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
            admission.opened(conn.id, source: remote.host)
            onAccept?(conn)
            // Keep the owner's handlers and drop our reference afterwards.
            let ownerClose = conn.onClose
            conn.onClose = { [weak self] c, reason in
                self?.connections.removeValue(forKey: c.id)
                self?.admission.closed(c.id)
                ownerClose?(c, reason)
            }
            let ownerEstablished = conn.onEstablished
            conn.onEstablished = { [weak self] c in
                self?.admission.authenticated(c.id)
                ownerEstablished?(c)
            }
            conn.start()
        }
    }

    private func refused(_ source: String, _ reason: String) {
        if let line = refusals.record(source: source, reason: reason, now: loop.now) { logger.warning("link: \(line)") }
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
