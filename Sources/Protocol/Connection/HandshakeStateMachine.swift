/// The link handshake as a value type: events in, actions out, no I/O (docs/protocol.md §7).
public struct HandshakeStateMachine {
    public enum Action: Equatable {
        /// Acceptor: send this challenge event.
        case sendChallenge(Challenge)
        /// Dialler: send this hello request.
        case sendHello(Hello)
        /// Acceptor: send this welcome as the hello's response; the link is up.
        case acceptAndSendWelcome(Welcome, PeerInfo)
        /// Dialler: the welcome arrived; the link is up, with the acceptor's heartbeat interval.
        case established(PeerInfo, heartbeatIntervalMs: UInt32)
        /// Acceptor: answer the hello with this error, then close.
        case rejectAndClose(ProtocolError)
        /// The handshake failed; close.
        case close(ProtocolError)
    }

    private enum State {
        case acceptorAwaitingHello(nonce: [UInt8])
        case diallerAwaitingChallenge
        case diallerAwaitingWelcome
        case established
        case failed
    }

    private var state: State
    private let identity: LinkIdentity
    private let secret: [UInt8]
    private let acceptedRoles: Set<PeerRole>
    private let heartbeatIntervalMs: UInt32
    private let minVersion: UInt8
    private let maxVersion: UInt8

    public static func proof(secret: [UInt8], nonce: [UInt8], role: PeerRole, name: String) -> [UInt8] {
        Crypto.hmacSHA256(key: secret, data: Array("hotline-link-v1".utf8) + nonce + [role.rawValue] + Array(name.utf8))
    }

    /// The accepting side; `nonce` must be fresh random bytes (32 recommended).
    public init(acceptor identity: LinkIdentity, secret: [UInt8], acceptedRoles: Set<PeerRole>, heartbeatIntervalMs: UInt32,
                nonce: [UInt8], minVersion: UInt8 = ProtocolVersion.minimumSupported, maxVersion: UInt8 = ProtocolVersion.current) {
        self.identity = identity
        self.secret = secret
        self.acceptedRoles = acceptedRoles
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        state = .acceptorAwaitingHello(nonce: nonce)
    }

    public init(dialler identity: LinkIdentity, secret: [UInt8], expectedPeerRoles: Set<PeerRole>,
                minVersion: UInt8 = ProtocolVersion.minimumSupported, maxVersion: UInt8 = ProtocolVersion.current) {
        self.identity = identity
        self.secret = secret
        self.acceptedRoles = expectedPeerRoles
        self.heartbeatIntervalMs = 0
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        state = .diallerAwaitingChallenge
    }

    public var isEstablished: Bool { if case .established = state { return true } else { return false } }

    /// The first action once the transport (and TLS) is up.
    public func start() -> Action? {
        if case .acceptorAwaitingHello(let nonce) = state {
            return .sendChallenge(Challenge(nonce: nonce, role: identity.role, minVersion: minVersion, maxVersion: maxVersion, name: identity.name))
        }
        return nil
    }

    static func negotiate(_ aMin: UInt8, _ aMax: UInt8, _ bMin: UInt8, _ bMax: UInt8) -> UInt8? {
        let v = min(aMax, bMax)
        return v >= max(aMin, bMin) ? v : nil
    }

    public mutating func challengeReceived(_ c: Challenge) -> Action {
        guard case .diallerAwaitingChallenge = state else { return fail(.badMessage, "unexpected Challenge") }
        guard acceptedRoles.contains(c.role) else {
            return fail(.roleNotAccepted, "expected a \(acceptedRoles.map(\.description).sorted().joined(separator: "/")) peer, got \(c.role)")
        }
        guard Self.negotiate(minVersion, maxVersion, c.minVersion, c.maxVersion) != nil else {
            return fail(.unsupportedVersion, "peer speaks \(c.minVersion)...\(c.maxVersion), we speak \(minVersion)...\(maxVersion)")
        }
        state = .diallerAwaitingWelcome
        return .sendHello(Hello(role: identity.role, minVersion: minVersion, maxVersion: maxVersion, name: identity.name,
                                software: identity.software,
                                proof: Self.proof(secret: secret, nonce: c.nonce, role: identity.role, name: identity.name)))
    }

    public mutating func helloReceived(_ h: Hello, sessionID: UInt64) -> Action {
        guard case .acceptorAwaitingHello(let nonce) = state else { return reject(.badMessage, "unexpected Hello") }
        // Check the proof first and answer every failure before it identically, so a prober
        // learns nothing about roles or versions without the secret.
        let expected = Self.proof(secret: secret, nonce: nonce, role: h.role, name: h.name)
        guard Crypto.constantTimeEqual(expected, h.proof) else { return reject(.authenticationFailed, "bad credentials") }
        guard acceptedRoles.contains(h.role) else {
            return reject(.roleNotAccepted, "role \(h.role) is not accepted on this port")
        }
        guard let v = Self.negotiate(minVersion, maxVersion, h.minVersion, h.maxVersion) else {
            return reject(.unsupportedVersion, "peer speaks \(h.minVersion)...\(h.maxVersion), we speak \(minVersion)...\(maxVersion)")
        }
        state = .established
        let peer = PeerInfo(role: h.role, name: h.name, software: h.software, version: v, sessionID: sessionID)
        return .acceptAndSendWelcome(Welcome(version: v, role: identity.role, name: identity.name, software: identity.software,
                                             heartbeatIntervalMs: heartbeatIntervalMs, sessionID: sessionID), peer)
    }

    public mutating func welcomeReceived(_ w: Welcome) -> Action {
        guard case .diallerAwaitingWelcome = state else { return fail(.badMessage, "unexpected Welcome") }
        guard w.version >= minVersion, w.version <= maxVersion else {
            return fail(.unsupportedVersion, "peer chose version \(w.version)")
        }
        guard acceptedRoles.contains(w.role) else { return fail(.roleNotAccepted, "peer is a \(w.role)") }
        state = .established
        return .established(PeerInfo(role: w.role, name: w.name, software: w.software, version: w.version, sessionID: w.sessionID),
                            heartbeatIntervalMs: max(100, w.heartbeatIntervalMs))
    }

    public mutating func errorReceived(_ e: ErrorMessage) -> Action {
        state = .failed
        return .close(e.asError)
    }

    /// Any other frame before the handshake completes.
    public mutating func unexpectedFrame(_ type: MessageType) -> Action {
        switch state {
        case .acceptorAwaitingHello: return reject(.handshakeRequired, "\(type) before the handshake")
        case .diallerAwaitingChallenge, .diallerAwaitingWelcome, .established, .failed:
            return fail(.handshakeRequired, "\(type) before the handshake")
        }
    }

    private mutating func fail(_ code: ErrorCode, _ reason: String) -> Action {
        state = .failed
        return .close(ProtocolError(code, reason))
    }

    private mutating func reject(_ code: ErrorCode, _ reason: String) -> Action {
        state = .failed
        return .rejectAndClose(ProtocolError(code, reason))
    }
}
