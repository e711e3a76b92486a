/// Handshake messages (docs/protocol.md §7).
///
/// 1. The accepting side sends `Challenge` (an event) as soon as the link is up.
/// 2. The dialling side answers with a `Hello` request carrying an HMAC-SHA256 proof of the
///    link's shared secret over the challenge, so the secret itself never crosses the wire.
/// 3. The acceptor checks role, versions and proof (constant-time compare) and answers with
///    a `Welcome` response, or an error response followed by closing the connection.
public struct Challenge: WireMessage {
    public static let messageType = MessageCatalogue.challenge

    public var nonce: [UInt8]
    public var role: PeerRole
    public var minVersion: UInt8
    public var maxVersion: UInt8
    public var name: String

    public init(nonce: [UInt8], role: PeerRole, minVersion: UInt8, maxVersion: UInt8, name: String) {
        self.nonce = nonce
        self.role = role
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.name = name
    }

    enum Tag {
        static let nonce = FieldTag(1, mandatory: true)
        static let role = FieldTag(2, mandatory: true)
        static let minVersion = FieldTag(3, mandatory: true)
        static let maxVersion = FieldTag(4, mandatory: true)
        static let name = FieldTag(5)
    }

    public init(fields f: inout TLVFields) throws {
        nonce = try TLVFields.required(f.bytes(Tag.nonce), "nonce")
        guard nonce.count >= 16, nonce.count <= 64 else { throw ProtocolError(.badMessage, "nonce of \(nonce.count) bytes") }
        role = try PeerRole(wire: f.uint8(Tag.role))
        minVersion = try TLVFields.required(f.uint8(Tag.minVersion), "min-version")
        maxVersion = try TLVFields.required(f.uint8(Tag.maxVersion), "max-version")
        name = try f.string(Tag.name) ?? ""
    }

    public func encode(into w: inout TLVWriter) {
        w.write(Tag.nonce, bytes: nonce)
        w.write(Tag.role, role.rawValue)
        w.write(Tag.minVersion, minVersion)
        w.write(Tag.maxVersion, maxVersion)
        w.write(Tag.name, name)
    }
}

public struct Hello: WireMessage {
    public static let messageType = MessageCatalogue.hello

    public var role: PeerRole
    public var minVersion: UInt8
    public var maxVersion: UInt8
    public var name: String
    public var software: String
    /// HMAC-SHA256(secret, "hotline-link-v1" ‖ nonce ‖ role ‖ name), 32 bytes.
    public var proof: [UInt8]

    public init(role: PeerRole, minVersion: UInt8, maxVersion: UInt8, name: String, software: String, proof: [UInt8]) {
        self.role = role
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.name = name
        self.software = software
        self.proof = proof
    }

    enum Tag {
        static let role = FieldTag(1, mandatory: true)
        static let minVersion = FieldTag(2, mandatory: true)
        static let maxVersion = FieldTag(3, mandatory: true)
        static let name = FieldTag(4, mandatory: true)
        static let software = FieldTag(5)
        static let proof = FieldTag(6, mandatory: true)
    }

    public init(fields f: inout TLVFields) throws {
        role = try PeerRole(wire: f.uint8(Tag.role))
        minVersion = try TLVFields.required(f.uint8(Tag.minVersion), "min-version")
        maxVersion = try TLVFields.required(f.uint8(Tag.maxVersion), "max-version")
        name = try TLVFields.required(f.string(Tag.name), "name")
        software = try f.string(Tag.software) ?? ""
        proof = try TLVFields.required(f.bytes(Tag.proof), "proof")
    }

    public func encode(into w: inout TLVWriter) {
        w.write(Tag.role, role.rawValue)
        w.write(Tag.minVersion, minVersion)
        w.write(Tag.maxVersion, maxVersion)
        w.write(Tag.name, name)
        w.write(Tag.software, software)
        w.write(Tag.proof, bytes: proof)
    }
}

/// The response to `Hello`.
public struct Welcome: WireMessage {
    public static let messageType = MessageCatalogue.hello

    public var version: UInt8
    public var role: PeerRole
    public var name: String
    public var software: String
    public var heartbeatIntervalMs: UInt32
    public var sessionID: UInt64

    public init(version: UInt8, role: PeerRole, name: String, software: String, heartbeatIntervalMs: UInt32, sessionID: UInt64) {
        self.version = version
        self.role = role
        self.name = name
        self.software = software
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.sessionID = sessionID
    }

    enum Tag {
        static let version = FieldTag(1, mandatory: true)
        static let role = FieldTag(2, mandatory: true)
        static let name = FieldTag(3)
        static let software = FieldTag(4)
        static let heartbeat = FieldTag(5, mandatory: true)
        static let session = FieldTag(6)
    }

    public init(fields f: inout TLVFields) throws {
        version = try TLVFields.required(f.uint8(Tag.version), "version")
        role = try PeerRole(wire: f.uint8(Tag.role))
        name = try f.string(Tag.name) ?? ""
        software = try f.string(Tag.software) ?? ""
        heartbeatIntervalMs = try TLVFields.required(f.uint32(Tag.heartbeat), "heartbeat-interval")
        sessionID = try f.uint64(Tag.session) ?? 0
    }

    public func encode(into w: inout TLVWriter) {
        w.write(Tag.version, version)
        w.write(Tag.role, role.rawValue)
        w.write(Tag.name, name)
        w.write(Tag.software, software)
        w.write(Tag.heartbeat, heartbeatIntervalMs)
        w.write(Tag.session, sessionID)
    }
}
