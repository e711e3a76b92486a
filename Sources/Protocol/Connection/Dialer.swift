import Logging

/// Keeps one outgoing link up: dials, re-dials after any failure with exponential backoff and
/// jitter, and resets the backoff once a handshake succeeds (docs/protocol.md §7.3).
public final class Dialer {
    public enum State: Equatable, CustomStringConvertible {
        case idle
        case connecting(attempt: Int)
        case established
        case waiting(retryInMs: Int)
        case stopped

        public var description: String {
            switch self {
            case .idle: return "idle"
            case .connecting(let a): return "connecting (attempt \(a))"
            case .established: return "up"
            case .waiting(let ms): return "down, retry in \(ms) ms"
            case .stopped: return "stopped"
            }
        }
    }

    public let loop: EventLoop
    public let host: String
    public let port: Int
    public private(set) var state: State = .idle
    public private(set) var connection: Connection?
    public private(set) var lastError: ProtocolError?
    /// Times a link came up (1 after the first successful handshake).
    public private(set) var establishedCount = 0

    /// Called for each new connection before it starts: set request/event handlers here.
    public var onConnection: ((Connection) -> Void)?
    public var onEstablished: ((Connection) -> Void)?
    public var onDisconnected: ((ProtocolError) -> Void)?
    /// With `maximumAttempts`, called once when the last attempt failed (the dialer stops).
    public var onGiveUp: ((ProtocolError) -> Void)?
    /// Consecutive failed attempts after which the dialer gives up; nil = never (services).
    public var maximumAttempts: Int?

    private let configuration: LinkConfiguration
    private let identity: LinkIdentity
    private let expectedPeerRoles: Set<PeerRole>
    private let tls: TLSContext?
    private var backoff: Backoff
    private var retryTimer: TimerID?
    private let logger: Logger

    public init(loop: EventLoop, host: String, port: Int, configuration: LinkConfiguration, identity: LinkIdentity,
                expectedPeerRoles: Set<PeerRole>, tls: TLSContext? = nil, backoff: Backoff = Backoff(), logger: Logger) {
        self.loop = loop
        self.host = host
        self.port = port
        self.configuration = configuration
        self.identity = identity
        self.expectedPeerRoles = expectedPeerRoles
        self.tls = tls
        self.backoff = backoff
        self.logger = logger
    }

    public var target: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The established connection, if the link is up.
    public var established: Connection? { (connection?.isEstablished ?? false) ? connection : nil }

    public func start() {
        guard state == .idle || state == .stopped else { return }
        state = .idle
        dial()
    }

    public func stop(reason: String = "shutting down") {
        state = .stopped
        if let t = retryTimer { loop.cancel(t) }
        retryTimer = nil
        let c = connection
        connection = nil
        c?.shutdown(reason: reason)
    }

    private func dial() {
        guard state != .stopped else { return }
        state = .connecting(attempt: backoff.attempt + 1)
        do {
            let address = try SocketAddress(host: host, port: port)
            let fd = try Sockets.startConnect(to: address)
            let stream: ByteStream
            if let tls {
                do { stream = try tls.stream(fd: fd, host: host) } catch {
                    PlainStream(fd: fd).close()
                    throw error
                }
            } else {
                stream = PlainStream(fd: fd)
            }
            let hs = HandshakeStateMachine(dialler: identity, secret: configuration.secret, expectedPeerRoles: expectedPeerRoles)
            let conn = Connection(loop: loop, stream: stream, side: .dialler, remoteAddress: address.description,
                                  configuration: configuration, handshake: hs, connecting: true, logger: logger)
            connection = conn
            onConnection?(conn)
            let ownerEstablished = conn.onEstablished
            conn.onEstablished = { [weak self] c in
                guard let self else { return }
                self.backoff.reset()
                self.state = .established
                self.lastError = nil
                self.establishedCount += 1
                ownerEstablished?(c)
                self.onEstablished?(c)
            }
            let ownerClose = conn.onClose
            conn.onClose = { [weak self] c, reason in
                ownerClose?(c, reason)
                self?.connectionClosed(c, reason)
            }
            conn.start()
        } catch let e as ProtocolError {
            failed(e)
        } catch {
            failed(ProtocolError(.unavailable, "\(error)"))
        }
    }

    private func connectionClosed(_ c: Connection, _ reason: ProtocolError) {
        guard connection === c else { return }
        connection = nil
        let wasUp = state == .established
        failed(reason)
        if wasUp { onDisconnected?(reason) }
    }

    private func failed(_ error: ProtocolError) {
        lastError = error
        guard state != .stopped else { return }
        // A one-shot client (maximumAttempts set) does not retry what retrying cannot fix.
        let permanent: Set<ErrorCode> = [.authenticationFailed, .roleNotAccepted, .unsupportedVersion]
        if let max = maximumAttempts, backoff.attempt + 1 >= max || permanent.contains(error.code) {
            state = .stopped
            onGiveUp?(error)
            return
        }
        let delay = backoff.nextDelayMs()
        state = .waiting(retryInMs: delay)
        logger.info("link to \(target) down (\(error)); retrying in \(delay) ms")
        retryTimer = loop.schedule(afterMilliseconds: delay) { [weak self] in
            self?.retryTimer = nil
            self?.dial()
        }
    }
}
