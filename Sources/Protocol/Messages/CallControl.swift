/// Call control between the CT-Server and its Flow-Servers (docs/protocol.md §12).
/// Vocabulary after ECMA-269 (CSTA): Delivered, Established, Held, Retrieved, ConnectionCleared.
extension MessageCatalogue {
    public static let channelEvent = MessageType(rawValue: 0x1001)
    public static let answerChannel = MessageType(rawValue: 0x1010)
    public static let rejectChannel = MessageType(rawValue: 0x1011)
    public static let hangupChannel = MessageType(rawValue: 0x1012)
    public static let originate = MessageType(rawValue: 0x1013)
    public static let redirectChannel = MessageType(rawValue: 0x1014)
    public static let transferChannel = MessageType(rawValue: 0x1015)
    public static let handOverChannel = MessageType(rawValue: 0x1016)
    public static let channelData = MessageType(rawValue: 0x1017)
    public static let ringChannel = MessageType(rawValue: 0x1018)
}

/// What happened to a channel (CT → Flow, event).
public struct ChannelEvent: WireMessage {
    public static let messageType = MessageCatalogue.channelEvent

    public enum Kind: UInt8, Sendable, CustomStringConvertible {
        /// A new inbound call waits for the Flow-Server's answer or rejection (CSTA Offered).
        case offered = 1
        /// The far end of an outbound call is alerting (CSTA Delivered).
        case delivered = 2
        /// Answered / connected (CSTA Established).
        case established = 3
        case held = 4
        case retrieved = 5
        /// The channel is gone (CSTA ConnectionCleared); `cause` says why.
        case cleared = 6
        /// An outbound call did not connect (busy, no answer, rejected, unreachable).
        case failed = 7
        /// DTMF digits arrived in signalling (SIP INFO dtmf-relay); `digits` holds them.
        case digits = 8
        /// A blind transfer we asked for completed (CSTA Transferred): the far end took the
        /// call elsewhere and this leg is released.
        case transferred = 9
        /// A blind transfer was refused or failed; the channel stays connected.
        case transferFailed = 10
        /// This Flow-Server now owns a channel that was another's: its Flow-Server's link was
        /// lost, or it handed the call over (HandOverChannel). `bridgedWith` names the channel it
        /// is bridged to, `createdMs` when it began, `data` what the previous owner passed on.
        case adopted = 11

        public var description: String {
            switch self {
            case .offered: return "Offered"
            case .delivered: return "Delivered"
            case .established: return "Established"
            case .held: return "Held"
            case .retrieved: return "Retrieved"
            case .cleared: return "ConnectionCleared"
            case .failed: return "Failed"
            case .digits: return "DigitsReceived"
            case .transferred: return "Transferred"
            case .transferFailed: return "TransferFailed"
            case .adopted: return "Adopted"
            }
        }
    }

    public enum Direction: UInt8, Sendable { case inbound = 1, outbound = 2 }
    /// Who ended the channel (field 15): the far end (BYE, CANCEL, the callee's refusal) or
    /// Hotline (a command, a timer). Unknown values read as `.unknown`.
    public enum ClearedBy: UInt8, Sendable { case unknown = 0, farEnd = 1, hotline = 2 }

    public var channelID: String
    public var kind: Kind
    public var direction: Direction
    public var caller: String
    public var called: String
    /// SIP status behind a failure or rejection (0 if none).
    public var sipCode: UInt16
    public var cause: String
    public var timestampMs: UInt64
    /// DigitsReceived: the digits (0-9, *, #, A-D).
    public var digits: String
    /// The line the call came in on or went out through: a trunk's name, or "sip" (phones).
    public var line: String
    /// Adopted: the channel this one is bridged to ("" if none), when it began, and the data
    /// the previous owner handed over.
    public var bridgedWith: String = ""
    public var createdMs: UInt64 = 0
    public var data: [String: String] = [:]
    /// Why a channel was cleared or failed, as a code (ITU-T Q.850 cause values). `cause` is
    /// the text for people; programs look at this.
    public var causeCode: Cause = .unspecified
    public var clearedBy: ClearedBy = .unknown

    public init(channelID: String, kind: Kind, direction: Direction, caller: String, called: String, sipCode: UInt16 = 0,
                cause: String = "", timestampMs: UInt64, digits: String = "", line: String = "", causeCode: Cause? = nil) {
        self.causeCode = causeCode ?? Cause(kind: kind, sipCode: sipCode)
        self.digits = digits
        self.line = line
        self.channelID = channelID
        self.kind = kind
        self.direction = direction
        self.caller = caller
        self.called = called
        self.sipCode = sipCode
        self.cause = cause
        self.timestampMs = timestampMs
    }

    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        guard let k = Kind(rawValue: try TLVFields.required(f.uint8(FieldTag(2, mandatory: true)), "kind")) else {
            throw ProtocolError(.badMessage, "unknown channel event kind")
        }
        kind = k
        direction = Direction(rawValue: try f.uint8(3) ?? 1) ?? .inbound
        caller = try f.string(4) ?? ""
        called = try f.string(5) ?? ""
        sipCode = try f.uint16(6) ?? 0
        cause = try f.string(7) ?? ""
        timestampMs = try f.uint64(8) ?? 0
        digits = try f.string(9) ?? ""
        line = try f.string(10) ?? ""
        bridgedWith = try f.string(11) ?? ""
        createdMs = try f.uint64(12) ?? 0
        data = try f.map(13)
        causeCode = Cause(rawValue: try f.uint16(14) ?? 0)
        clearedBy = ClearedBy(rawValue: try f.uint8(15) ?? 0) ?? .unknown
    }

    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(FieldTag(2, mandatory: true), kind.rawValue)
        w.write(3, direction.rawValue)
        w.write(4, caller)
        w.write(5, called)
        w.write(6, sipCode)
        w.write(7, cause)
        w.write(8, timestampMs)
        if !digits.isEmpty { w.write(9, digits) }
        if !line.isEmpty { w.write(10, line) }
        if !bridgedWith.isEmpty { w.write(11, bridgedWith) }
        if createdMs != 0 { w.write(12, createdMs) }
        if !data.isEmpty { w.writeMap(13, data) }
        if causeCode != .unspecified { w.write(14, causeCode.rawValue) }
        if clearedBy != .unknown { w.write(15, clearedBy.rawValue) }
    }
}

/// Answer an offered inbound channel (Flow → CT, request; response `ChannelCommandResult`).
public struct AnswerChannel: WireMessage {
    public static let messageType = MessageCatalogue.answerChannel
    public var channelID: String
    public init(channelID: String) { self.channelID = channelID }
    public init(fields f: inout TLVFields) throws { channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id") }
    public func encode(into w: inout TLVWriter) { w.write(FieldTag(1, mandatory: true), channelID) }
}

/// Let an offered inbound channel's caller hear ringing (Flow → CT, request): 180 Ringing, no
/// early media — while the Flow-Server rings someone for it (an extension call).
public struct RingChannel: WireMessage {
    public static let messageType = MessageCatalogue.ringChannel
    public var channelID: String
    public init(channelID: String) { self.channelID = channelID }
    public init(fields f: inout TLVFields) throws { channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id") }
    public func encode(into w: inout TLVWriter) { w.write(FieldTag(1, mandatory: true), channelID) }
}

/// Reject an offered inbound channel with a SIP status (Flow → CT, request).
public struct RejectChannel: WireMessage {
    public static let messageType = MessageCatalogue.rejectChannel
    public var channelID: String
    public var sipCode: UInt16
    public var reason: String
    public init(channelID: String, sipCode: UInt16, reason: String) {
        self.channelID = channelID
        self.sipCode = sipCode
        self.reason = reason
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        sipCode = try f.uint16(2) ?? 480
        reason = try f.string(3) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(2, sipCode)
        w.write(3, reason)
    }
}

/// Hang a channel up (Flow → CT, request): BYE if connected, CANCEL/reject before.
public struct HangupChannel: WireMessage {
    public static let messageType = MessageCatalogue.hangupChannel
    public var channelID: String
    public var cause: String
    public init(channelID: String, cause: String) {
        self.channelID = channelID
        self.cause = cause
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        cause = try f.string(2) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(2, cause)
    }
}

/// Dial out (Flow → CT, request): to a registered user ("1001") or a SIP URI
/// ("sip:agent@127.0.0.1:5070"). The response carries the new channel's id; progress
/// follows as ChannelEvents (Delivered, Established, or Failed).
public struct Originate: WireMessage {
    public static let messageType = MessageCatalogue.originate
    public var destination: String
    public var callerID: String
    public var timeoutMs: UInt32
    /// Dial `destination` (a number) through this configured outbound trunk.
    public var trunk: String
    /// Ask the phone to answer by itself (Call-Info answer-after=0, Alert-Info auto-answer):
    /// an agent who answered in App-Operate.
    public var autoAnswer: Bool
    public init(destination: String, callerID: String, timeoutMs: UInt32 = 30_000, trunk: String = "", autoAnswer: Bool = false) {
        self.destination = destination
        self.autoAnswer = autoAnswer
        self.callerID = callerID
        self.timeoutMs = timeoutMs
        self.trunk = trunk
    }
    public init(fields f: inout TLVFields) throws {
        destination = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "destination")
        callerID = try f.string(2) ?? ""
        timeoutMs = try f.uint32(3) ?? 30_000
        trunk = try f.string(4) ?? ""
        autoAnswer = try f.bool(5) ?? false
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), destination)
        w.write(2, callerID)
        w.write(3, timeoutMs)
        if !trunk.isEmpty { w.write(4, trunk) }
        if autoAnswer { w.write(5, true) }
    }
}

/// Redirect an offered inbound channel (Flow → CT, request): a 3xx with Contact = target.
public struct RedirectChannel: WireMessage {
    public static let messageType = MessageCatalogue.redirectChannel
    public var channelID: String
    public var target: String
    public var sipCode: UInt16
    public init(channelID: String, target: String, sipCode: UInt16 = 302) {
        self.channelID = channelID
        self.target = target
        self.sipCode = sipCode
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        target = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "target")
        sipCode = try f.uint16(3) ?? 302
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(FieldTag(2, mandatory: true), target)
        w.write(3, sipCode)
    }
}

/// Blind-transfer a connected channel (Flow → CT, request): REFER to the far end with
/// Refer-To = target; Transferred or TransferFailed follows.
public struct TransferChannel: WireMessage {
    public static let messageType = MessageCatalogue.transferChannel
    public var channelID: String
    public var target: String
    public init(channelID: String, target: String) {
        self.channelID = channelID
        self.target = target
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        target = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "target")
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(FieldTag(2, mandatory: true), target)
    }
}

/// Hand a channel (and the channel bridged to it) over to another attached Flow-Server
/// (Flow → CT, request): it becomes the owner and gets an Adopted event carrying `data` —
/// e.g. a call that waits for a queue whose agents are logged in on that Flow-Server.
public struct HandOverChannel: WireMessage {
    public static let messageType = MessageCatalogue.handOverChannel
    public var channelID: String
    public var flowServer: String
    public var data: [String: String]
    public init(channelID: String, flowServer: String, data: [String: String]) {
        self.channelID = channelID
        self.flowServer = flowServer
        self.data = data
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        flowServer = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "flow-server")
        data = try f.map(3)
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.write(FieldTag(2, mandatory: true), flowServer)
        w.writeMap(3, data)
    }
}

/// Data the owner keeps with a channel at the CT-Server (Flow → CT, request): its last safe
/// point (e.g. the queue it waits in, the flow node to resume at, the call's variables). When
/// the owner's link is lost, the Flow-Server that adopts the channel gets it in the Adopted
/// event. An empty map clears it.
public struct ChannelData: WireMessage, Sendable {
    public static let messageType = MessageCatalogue.channelData
    public var channelID: String
    public var data: [String: String]
    public init(channelID: String, data: [String: String]) {
        self.channelID = channelID
        self.data = data
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "channel-id")
        data = try f.map(2)
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), channelID)
        w.writeMap(2, data)
    }
}

/// The response to a channel command: the channel it concerns.
public struct ChannelCommandResult: WireMessage {
    public static let messageType = MessageCatalogue.answerChannel  // responses carry their request's type
    public var channelID: String
    public init(channelID: String) { self.channelID = channelID }
    public init(fields f: inout TLVFields) throws { channelID = try f.string(1) ?? "" }
    public func encode(into w: inout TLVWriter) { w.write(1, channelID) }
}

extension ChannelEvent {
    /// This event with who cleared the channel (field 15).
    public func cleared(by who: ClearedBy) -> ChannelEvent {
        var e = self
        e.clearedBy = who
        return e
    }
}
