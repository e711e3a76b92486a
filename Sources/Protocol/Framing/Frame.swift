/// One frame of the Hotline wire protocol (docs/protocol.md §2).
///
/// ```
///  0               4       6   7   8               12
///  +---------------+-------+---+---+---------------+------------------
///  | length (u32)  | type  |ver|flg| correlation   | body (TLV) ...
///  +---------------+-------+---+---+---------------+------------------
/// ```
/// `length` counts the bytes after itself (8 header bytes plus the body as sent, i.e.
/// compressed when the compressed flag is set). All integers are big-endian.
public struct Frame: Equatable, Sendable {
    public static let headerSize = 12

    public var type: MessageType
    public var version: UInt8
    public var flags: FrameFlags
    public var correlationID: UInt32
    /// The body, always uncompressed here; compression is a property of the encoding.
    public var body: [UInt8]

    public init(type: MessageType, version: UInt8 = ProtocolVersion.current, flags: FrameFlags = [], correlationID: UInt32 = 0, body: [UInt8] = []) {
        self.type = type
        self.version = version
        self.flags = flags
        self.correlationID = correlationID
        self.body = body
    }

    public var isResponse: Bool { flags.contains(.response) }
    public var isError: Bool { flags.contains(.error) }
}

/// Frame flags (one byte). Bits other than these are reserved and must be zero.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The body on the wire is a zlib stream (RFC 1950).
    public static let compressed = FrameFlags(rawValue: 0x01)
    /// The frame answers the request with the same correlation id.
    public static let response = FrameFlags(rawValue: 0x02)
    /// The body is an `ErrorMessage` instead of the expected response.
    public static let error = FrameFlags(rawValue: 0x04)

    public static let known: FrameFlags = [.compressed, .response, .error]
}

/// Protocol versions: a peer offers a range in the handshake and the highest common one wins.
public enum ProtocolVersion {
    public static let current: UInt8 = 1
    public static let minimumSupported: UInt8 = 1
}

/// A message type code (u16). Requests and their responses share one code.
public struct MessageType: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public var description: String { MessageCatalogue.name(of: self) ?? String(format: "0x%04x", rawValue) }
}
