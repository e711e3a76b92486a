/// The settings of one protocol link, shared by both ends (each service's YAML `link:` keys).
public struct LinkConfiguration: Sendable, Equatable {
    /// Shared secret of this link. Both ends must hold the same one; it is never sent.
    public var secret: [UInt8]
    /// Heartbeat interval announced by the accepting side; a peer silent for three intervals is dead.
    public var heartbeatIntervalMs: Int
    /// How long a request waits for its response before failing with `timeout`.
    public var requestTimeoutMs: Int
    /// A connection that has not completed TLS and the handshake by then is closed.
    public var handshakeTimeoutMs: Int
    /// Largest frame accepted or sent (docs/protocol.md §2).
    public var maximumFrameSize: Int
    /// Bodies at least this large are deflated; 0 disables compression on send.
    public var compressionThreshold: Int
    /// Bound of the outgoing buffer. A peer that stops reading until it fills is disconnected
    /// (the connection, never the process), and its pending requests fail.
    public var maximumOutgoingBytes: Int

    public init(secret: [UInt8], heartbeatIntervalMs: Int = 2000, requestTimeoutMs: Int = 5000,
                handshakeTimeoutMs: Int = 10000, maximumFrameSize: Int = FrameCodec.defaultMaximumFrameSize,
                compressionThreshold: Int = 4096, maximumOutgoingBytes: Int = 8 << 20) {
        self.secret = secret
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.requestTimeoutMs = requestTimeoutMs
        self.handshakeTimeoutMs = handshakeTimeoutMs
        self.maximumFrameSize = maximumFrameSize
        self.compressionThreshold = compressionThreshold
        self.maximumOutgoingBytes = maximumOutgoingBytes
    }

    public init(secret: String) { self.init(secret: Array(secret.utf8)) }

    var codec: FrameCodec { FrameCodec(maximumFrameSize: maximumFrameSize, compressionThreshold: compressionThreshold) }
}

/// Who this end is, as told to the peer in the handshake.
public struct LinkIdentity: Sendable, Equatable {
    public var role: PeerRole
    public var name: String
    public var software: String

    public init(role: PeerRole, name: String, software: String = HotlineVersion.software) {
        self.role = role
        self.name = name
        self.software = software
    }
}

/// What the handshake learned about the other end.
public struct PeerInfo: Sendable, Equatable {
    public var role: PeerRole
    public var name: String
    public var software: String
    public var version: UInt8
    public var sessionID: UInt64
}

public enum HotlineVersion {
    public static let number = "0.1.0"
    public static let software = "hotline/\(number)"
}
