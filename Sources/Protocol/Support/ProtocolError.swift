/// Error codes carried in `ErrorMessage` and in `ProtocolError` (docs/protocol.md §6).
///
/// A struct over a raw value rather than an enum so that codes added by newer peers decode
/// into something printable instead of failing.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let badFrame = ErrorCode(rawValue: 1)
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    public static let authenticationFailed = ErrorCode(rawValue: 3)
    public static let handshakeRequired = ErrorCode(rawValue: 4)
    public static let unknownMessage = ErrorCode(rawValue: 5)
    public static let unknownMandatoryField = ErrorCode(rawValue: 6)
    public static let frameTooLarge = ErrorCode(rawValue: 7)
    public static let timeout = ErrorCode(rawValue: 8)
    public static let backPressure = ErrorCode(rawValue: 9)
    public static let internalError = ErrorCode(rawValue: 10)
    public static let roleNotAccepted = ErrorCode(rawValue: 11)
    public static let unavailable = ErrorCode(rawValue: 12)
    public static let connectionClosed = ErrorCode(rawValue: 13)
    public static let badMessage = ErrorCode(rawValue: 14)
    public static let heartbeatTimeout = ErrorCode(rawValue: 15)
    public static let decompressionFailed = ErrorCode(rawValue: 16)
    public static let forbidden = ErrorCode(rawValue: 17)

    public var name: String {
        switch rawValue {
        case 1: return "bad-frame"
        case 2: return "unsupported-version"
        case 3: return "authentication-failed"
        case 4: return "handshake-required"
        case 5: return "unknown-message"
        case 6: return "unknown-mandatory-field"
        case 7: return "frame-too-large"
        case 8: return "timeout"
        case 9: return "back-pressure"
        case 10: return "internal-error"
        case 11: return "role-not-accepted"
        case 12: return "unavailable"
        case 13: return "connection-closed"
        case 14: return "bad-message"
        case 15: return "heartbeat-timeout"
        case 16: return "decompression-failed"
        case 17: return "forbidden"
        default: return "code-\(rawValue)"
        }
    }

    public var description: String { name }
}

/// An error of the wire protocol layer: a code and a human-readable reason.
/// The reason never contains secrets; it may be sent to the peer.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let reason: String

    public init(_ code: ErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.name): \(reason)" }
}
