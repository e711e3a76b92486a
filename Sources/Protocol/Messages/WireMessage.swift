/// A message of the catalogue: a type code and a TLV body (docs/protocol.md §5).
public protocol WireMessage: Equatable, Sendable {
    static var messageType: MessageType { get }
    /// Decodes from parsed fields. Unknown optional fields are ignored; unknown mandatory
    /// fields are rejected by `decode(_:)` after this returns.
    init(fields: inout TLVFields) throws
    func encode(into w: inout TLVWriter)
}

extension WireMessage {
    public static func decode(_ body: [UInt8]) throws -> Self {
        var fields = try TLVFields(body)
        let message = try Self(fields: &fields)
        try fields.finish()
        return message
    }

    public func encodedBody() -> [UInt8] {
        var w = TLVWriter()
        encode(into: &w)
        return w.bytes
    }
}

/// The role a peer plays on a link. The handshake names it; listeners accept only the roles
/// that belong on their port.
public enum PeerRole: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ctServer = 1
    case flowServer = 2
    case appOperate = 3

    public var description: String {
        switch self {
        case .ctServer: return "ct"
        case .flowServer: return "flow"
        case .appOperate: return "app"
        }
    }

    init(wire: UInt8?) throws {
        guard let wire, let r = PeerRole(rawValue: wire) else {
            throw ProtocolError(.badMessage, "unknown peer role \(wire.map(String.init) ?? "absent")")
        }
        self = r
    }
}

/// Names of the catalogue's type codes, for logs and `description`.
public enum MessageCatalogue {
    public static let challenge = MessageType(rawValue: 0x0001)
    public static let hello = MessageType(rawValue: 0x0002)
    public static let heartbeat = MessageType(rawValue: 0x0003)
    public static let error = MessageType(rawValue: 0x0004)
    public static let goodbye = MessageType(rawValue: 0x0005)
    public static let topology = MessageType(rawValue: 0x0100)

    static let names: [UInt16: String] = [
        0x0001: "Challenge", 0x0002: "Hello", 0x0003: "Heartbeat", 0x0004: "Error",
        0x0005: "Goodbye", 0x0100: "Topology", 0x1001: "ChannelEvent", 0x1010: "AnswerChannel", 0x1011: "RejectChannel",
        0x1012: "HangupChannel", 0x1013: "Originate", 0x1014: "RedirectChannel", 0x1015: "TransferChannel",
        0x1016: "HandOverChannel", 0x1017: "ChannelData", 0x1018: "RingChannel",
        0x102A: "RecordingControl", 0x1030: "PeerRelay", 0x1031: "PeerBroadcast", 0x4004: "SupervisorCommand", 0x4005: "BoardRequest", 0x4006: "BoardPush", 0x4007: "BoardUpdate", 0x2002: "ChargingRequest", 0x2003: "RecordingRequest", 0x2004: "CampaignRequest", 0x3002: "AdminRequest",
    ]

    public static func name(of type: MessageType) -> String? { names[type.rawValue] }
}
