/// Messages that keep a link alive and report its failures (docs/protocol.md §8–§9).

/// Sent by each side once per heartbeat interval. A peer from which nothing at all has been
/// received for three intervals is declared dead and its connection closed.
public struct Heartbeat: WireMessage {
    public static let messageType = MessageCatalogue.heartbeat

    /// Sender's monotonic clock in milliseconds; informative (round-trip estimates).
    public var sentAtMs: UInt64

    public init(sentAtMs: UInt64) { self.sentAtMs = sentAtMs }

    public init(fields f: inout TLVFields) throws { sentAtMs = try f.uint64(1) ?? 0 }

    public func encode(into w: inout TLVWriter) { w.write(1, sentAtMs) }
}

/// The body of every frame with the error flag, and an event sent just before a side closes
/// a connection for a protocol violation.
public struct ErrorMessage: WireMessage {
    public static let messageType = MessageCatalogue.error

    public var code: ErrorCode
    public var reason: String

    public init(code: ErrorCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    public init(_ error: ProtocolError) { self.init(code: error.code, reason: error.reason) }

    public init(fields f: inout TLVFields) throws {
        code = ErrorCode(rawValue: try TLVFields.required(f.uint16(FieldTag(1, mandatory: true)), "code"))
        reason = try f.string(2) ?? ""
    }

    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), code.rawValue)
        w.write(2, reason)
    }

    public var asError: ProtocolError { ProtocolError(code, reason) }
}

/// Announces an orderly close (shutdown, configuration reload) so the peer logs a departure
/// rather than a failure and does not raise alarms.
public struct Goodbye: WireMessage {
    public static let messageType = MessageCatalogue.goodbye

    public var reason: String

    public init(reason: String) { self.reason = reason }

    public init(fields f: inout TLVFields) throws { reason = try f.string(1) ?? "" }

    public func encode(into w: inout TLVWriter) { w.write(1, reason) }
}
