/// Media primitives between the CT-Server and its Flow-Servers (docs/protocol.md §13):
/// play, collect digits, record, bridge, conference, monitor, send DTMF, and the events that
/// report their completion. Every command is a request answered with ChannelCommandResult
/// (or an Error) once the CT-Server has accepted it; completion comes later as a MediaEvent.
extension MessageCatalogue {
    public static let mediaEvent = MessageType(rawValue: 0x1002)
    public static let playMedia = MessageType(rawValue: 0x1020)
    public static let stopMedia = MessageType(rawValue: 0x1021)
    public static let collectDigits = MessageType(rawValue: 0x1022)
    public static let recordChannel = MessageType(rawValue: 0x1023)
    public static let bridgeChannels = MessageType(rawValue: 0x1024)
    public static let unbridgeChannel = MessageType(rawValue: 0x1025)
    public static let conferenceJoin = MessageType(rawValue: 0x1026)
    public static let conferenceLeave = MessageType(rawValue: 0x1027)
    public static let monitorChannel = MessageType(rawValue: 0x1028)
    public static let sendDTMF = MessageType(rawValue: 0x1029)
    public static let recordingControl = MessageType(rawValue: 0x102A)
}

private let channelTag = FieldTag(1, mandatory: true)

/// Play a list of items on a channel: `file:NAME` (a WAV under the prompt folder),
/// `tts:VOICE:TEXT` (espeak-ng voice such as en or cmn), `tone:NAME[:MS]` (ringback, busy,
/// beep, dial, dtmf:5), `silence:MS`. Completion: MediaEvent PlayDone with the tag.
public struct PlayMedia: WireMessage {
    public static let messageType = MessageCatalogue.playMedia
    public var channelID: String
    public var items: [String]
    public var loop: Bool
    public var bargeIn: Bool
    public var tag: UInt32
    public init(channelID: String, items: [String], loop: Bool = false, bargeIn: Bool = false, tag: UInt32 = 0) {
        self.channelID = channelID
        self.items = items
        self.loop = loop
        self.bargeIn = bargeIn
        self.tag = tag
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        items = try f.strings(FieldTag(2, mandatory: true))
        loop = try f.bool(3) ?? false
        bargeIn = try f.bool(4) ?? false
        tag = try f.uint32(5) ?? 0
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        for i in items { w.write(FieldTag(2, mandatory: true), i) }
        w.write(3, loop)
        w.write(4, bargeIn)
        w.write(5, tag)
    }
}

/// Stop what a channel is doing: 1 play, 2 collect, 3 record, 0 all three, 4 play and collect
/// (a call's recording goes on: what flows and the ACD send when a caller moves on).
public struct StopMedia: WireMessage {
    public static let messageType = MessageCatalogue.stopMedia
    public enum What: UInt8, Sendable { case all = 0, play = 1, collect = 2, record = 3, playAndCollect = 4 }
    public var channelID: String
    public var what: What
    public init(channelID: String, what: What) {
        self.channelID = channelID
        self.what = what
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        what = What(rawValue: try f.uint8(2) ?? 0) ?? .all
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(2, what.rawValue)
    }
}

/// Collect DTMF digits (RFC 4733, SIP INFO or in-band). Completion: MediaEvent
/// DigitsCollected with the digits and a reason (max-digits, terminator, timeout, too-short, stopped).
public struct CollectDigits: WireMessage {
    public static let messageType = MessageCatalogue.collectDigits
    public var channelID: String
    public var minDigits: UInt8
    public var maxDigits: UInt8
    public var firstDigitTimeoutMs: UInt32
    public var interDigitTimeoutMs: UInt32
    public var terminators: String
    public var tag: UInt32
    /// Start the first-digit timer only when the current prompt ends.
    public var afterPlay: Bool
    /// Also listen for in-band tones (spandsp) on this channel.
    public var inband: Bool
    public init(channelID: String, minDigits: UInt8 = 1, maxDigits: UInt8 = 1, firstDigitTimeoutMs: UInt32 = 5000,
                interDigitTimeoutMs: UInt32 = 3000, terminators: String = "#", tag: UInt32 = 0, afterPlay: Bool = false, inband: Bool = false) {
        self.channelID = channelID
        self.minDigits = minDigits
        self.maxDigits = maxDigits
        self.firstDigitTimeoutMs = firstDigitTimeoutMs
        self.interDigitTimeoutMs = interDigitTimeoutMs
        self.terminators = terminators
        self.tag = tag
        self.afterPlay = afterPlay
        self.inband = inband
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        minDigits = try f.uint8(2) ?? 1
        maxDigits = try f.uint8(3) ?? 1
        firstDigitTimeoutMs = try f.uint32(4) ?? 5000
        interDigitTimeoutMs = try f.uint32(5) ?? 3000
        terminators = try f.string(6) ?? "#"
        tag = try f.uint32(7) ?? 0
        afterPlay = try f.bool(8) ?? false
        inband = try f.bool(9) ?? false
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(2, minDigits)
        w.write(3, maxDigits)
        w.write(4, firstDigitTimeoutMs)
        w.write(5, interDigitTimeoutMs)
        w.write(6, terminators)
        w.write(7, tag)
        w.write(8, afterPlay)
        w.write(9, inband)
    }
}

/// Record a channel to WAV under the CT-Server's recording folder. Mono mixes what the
/// channel says and hears; stereo puts the channel (the caller) left and what it hears (the
/// agent, in a bridge) right. Completion: MediaEvent RecordDone with path and duration.
public struct RecordChannel: WireMessage {
    public static let messageType = MessageCatalogue.recordChannel
    public var channelID: String
    /// A file name (letters, digits, `-`, `_`, `.`; one optional sub-folder); `.wav` is added.
    public var name: String
    public var stereo: Bool
    public var maxMs: UInt32
    public var silenceMs: UInt32
    public var terminators: String
    public var beep: Bool
    public var tag: UInt32
    /// A call's recording: who started it (an operator's work code, or `policy`) and the call
    /// id it belongs to; both come back in RecordDone, and in the file's catalogue sidecar.
    public var startedBy: String
    public var callID: String
    public init(channelID: String, name: String, stereo: Bool = false, maxMs: UInt32 = 3_600_000, silenceMs: UInt32 = 0,
                terminators: String = "", beep: Bool = false, tag: UInt32 = 0, startedBy: String = "", callID: String = "") {
        self.channelID = channelID
        self.name = name
        self.stereo = stereo
        self.maxMs = maxMs
        self.silenceMs = silenceMs
        self.terminators = terminators
        self.beep = beep
        self.tag = tag
        self.startedBy = startedBy
        self.callID = callID
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        name = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "name")
        stereo = try f.bool(3) ?? false
        maxMs = try f.uint32(4) ?? 3_600_000
        silenceMs = try f.uint32(5) ?? 0
        terminators = try f.string(6) ?? ""
        beep = try f.bool(7) ?? false
        tag = try f.uint32(8) ?? 0
        startedBy = try f.string(9) ?? ""
        callID = try f.string(10) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), name)
        w.write(3, stereo)
        w.write(4, maxMs)
        w.write(5, silenceMs)
        w.write(6, terminators)
        w.write(7, beep)
        w.write(8, tag)
        if !startedBy.isEmpty { w.write(9, startedBy) }
        if !callID.isEmpty { w.write(10, callID) }
    }
}

/// Pause, resume or stop a channel's recording (0x102A). Paused, the file goes on with
/// silence (what is said then — a card number — is never written) and RecordDone lists the
/// span. Stop is StopMedia `record`'s equivalent.
public struct RecordingControl: WireMessage {
    public static let messageType = MessageCatalogue.recordingControl
    public enum Action: UInt8, Sendable { case pause = 1, resume = 2, stop = 3 }
    public var channelID: String
    public var action: Action
    public init(channelID: String, action: Action) {
        self.channelID = channelID
        self.action = action
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        guard let a = Action(rawValue: try TLVFields.required(f.uint8(FieldTag(2, mandatory: true)), "action")) else {
            throw ProtocolError(.badMessage, "recording action is 1 pause, 2 resume or 3 stop")
        }
        action = a
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), action.rawValue)
    }
}

/// Bridge two answered channels: each hears the other. When either leaves (hangs up or is
/// unbridged) the other gets MediaEvent BridgeEnded.
public struct BridgeChannels: WireMessage {
    public static let messageType = MessageCatalogue.bridgeChannels
    public var channelID: String
    public var otherChannelID: String
    public init(channelID: String, otherChannelID: String) {
        self.channelID = channelID
        self.otherChannelID = otherChannelID
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        otherChannelID = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "other-channel-id")
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), otherChannelID)
    }
}

/// Take a channel out of its bridge or conference (0x1025); leaving a conference (0x1027) uses the same body.
public struct UnbridgeChannel: WireMessage {
    public static let messageType = MessageCatalogue.unbridgeChannel
    public var channelID: String
    public init(channelID: String) { self.channelID = channelID }
    public init(fields f: inout TLVFields) throws { channelID = try TLVFields.required(f.string(channelTag), "channel-id") }
    public func encode(into w: inout TLVWriter) { w.write(channelTag, channelID) }
}

public struct ConferenceLeave: WireMessage {
    public static let messageType = MessageCatalogue.conferenceLeave
    public var channelID: String
    public init(channelID: String) { self.channelID = channelID }
    public init(fields f: inout TLVFields) throws { channelID = try TLVFields.required(f.string(channelTag), "channel-id") }
    public func encode(into w: inout TLVWriter) { w.write(channelTag, channelID) }
}

/// Join a named conference (created on first join), or change a member's rights: `speaks`
/// false mutes (a listener), `hears` false makes it deaf.
public struct ConferenceJoin: WireMessage {
    public static let messageType = MessageCatalogue.conferenceJoin
    public var channelID: String
    public var conference: String
    public var speaks: Bool
    public var hears: Bool
    public init(channelID: String, conference: String, speaks: Bool = true, hears: Bool = true) {
        self.channelID = channelID
        self.conference = conference
        self.speaks = speaks
        self.hears = hears
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        conference = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "conference")
        speaks = try f.bool(3) ?? true
        hears = try f.bool(4) ?? true
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), conference)
        w.write(3, speaks)
        w.write(4, hears)
    }
}

/// A supervisor's channel taps a bridged channel (the agent's): listen hears both sides and
/// is heard by nobody; whisper is heard by the agent only; barge is heard by both.
public struct MonitorChannel: WireMessage {
    public static let messageType = MessageCatalogue.monitorChannel
    public enum Mode: UInt8, Sendable { case listen = 1, whisper = 2, barge = 3 }
    public var channelID: String
    public var targetChannelID: String
    public var mode: Mode
    public init(channelID: String, targetChannelID: String, mode: Mode) {
        self.channelID = channelID
        self.targetChannelID = targetChannelID
        self.mode = mode
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        targetChannelID = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "target-channel-id")
        guard let m = Mode(rawValue: try f.uint8(3) ?? 1) else { throw ProtocolError(.badMessage, "unknown monitor mode") }
        mode = m
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), targetChannelID)
        w.write(3, mode.rawValue)
    }
}

/// Send DTMF to the far end as RFC 4733 events.
public struct SendDTMF: WireMessage {
    public static let messageType = MessageCatalogue.sendDTMF
    public var channelID: String
    public var digits: String
    public init(channelID: String, digits: String) {
        self.channelID = channelID
        self.digits = digits
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        digits = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "digits")
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), digits)
    }
}

/// Completion of a media primitive (CT → Flow, event).
public struct MediaEventMessage: WireMessage {
    public static let messageType = MessageCatalogue.mediaEvent
    public enum Kind: UInt8, Sendable, CustomStringConvertible {
        case playDone = 1, digitsCollected = 2, recordDone = 3, bridgeEnded = 4, failed = 5
        /// A conference member started / stopped talking (voice activity: 60 ms of speech, 0.5 s of quiet).
        case talkingStarted = 6, talkingStopped = 7
        public var description: String {
            switch self {
            case .playDone: return "PlayDone"
            case .digitsCollected: return "DigitsCollected"
            case .recordDone: return "RecordDone"
            case .bridgeEnded: return "BridgeEnded"
            case .failed: return "MediaFailed"
            case .talkingStarted: return "TalkingStarted"
            case .talkingStopped: return "TalkingStopped"
            }
        }
    }
    public var channelID: String
    public var kind: Kind
    public var tag: UInt32
    /// PlayDone: finished, barge-in, stopped, failed. DigitsCollected: max-digits, terminator,
    /// timeout, too-short, stopped. RecordDone: max-length, silence, terminator, stopped, hangup, failed.
    public var reason: String
    public var digits: String
    public var path: String
    public var durationMs: UInt32
    public var timestampMs: UInt64
    /// RecordDone of a call's recording: the file as closed — size, SHA-256 (hex), channels,
    /// when it started (Unix ms), paused spans (`START-END` in ms from its start, comma
    /// separated), and what RecordChannel said: who started it and the call id.
    public var recording: Recording?
    public struct Recording: Sendable, Equatable {
        public var sizeBytes: UInt64
        public var sha256: String
        public var channels: UInt8
        public var startedAtMs: UInt64
        public var pauses: String
        public var startedBy: String
        public var callID: String
        /// The channel's calling and called numbers (the recording's caller and called).
        public var caller: String = ""
        public var called: String = ""
        public init(sizeBytes: UInt64, sha256: String, channels: UInt8, startedAtMs: UInt64, pauses: String, startedBy: String, callID: String,
                    caller: String = "", called: String = "") {
            self.caller = caller
            self.called = called
            self.sizeBytes = sizeBytes
            self.sha256 = sha256
            self.channels = channels
            self.startedAtMs = startedAtMs
            self.pauses = pauses
            self.startedBy = startedBy
            self.callID = callID
        }
    }
    public init(channelID: String, kind: Kind, tag: UInt32 = 0, reason: String = "", digits: String = "", path: String = "",
                durationMs: UInt32 = 0, timestampMs: UInt64, recording: Recording? = nil) {
        self.channelID = channelID
        self.kind = kind
        self.tag = tag
        self.reason = reason
        self.digits = digits
        self.path = path
        self.durationMs = durationMs
        self.timestampMs = timestampMs
        self.recording = recording
    }
    public init(fields f: inout TLVFields) throws {
        channelID = try TLVFields.required(f.string(channelTag), "channel-id")
        guard let k = Kind(rawValue: try TLVFields.required(f.uint8(FieldTag(2, mandatory: true)), "kind")) else {
            throw ProtocolError(.badMessage, "unknown media event kind")
        }
        kind = k
        tag = try f.uint32(3) ?? 0
        reason = try f.string(4) ?? ""
        digits = try f.string(5) ?? ""
        path = try f.string(6) ?? ""
        durationMs = try f.uint32(7) ?? 0
        timestampMs = try f.uint64(8) ?? 0
        if let size = try f.uint64(9) {
            recording = Recording(sizeBytes: size, sha256: try f.string(10) ?? "", channels: try f.uint8(11) ?? 1, startedAtMs: try f.uint64(12) ?? 0,
                                  pauses: try f.string(13) ?? "", startedBy: try f.string(14) ?? "", callID: try f.string(15) ?? "",
                                  caller: try f.string(16) ?? "", called: try f.string(17) ?? "")
        }
    }
    public func encode(into w: inout TLVWriter) {
        w.write(channelTag, channelID)
        w.write(FieldTag(2, mandatory: true), kind.rawValue)
        w.write(3, tag)
        w.write(4, reason)
        if !digits.isEmpty { w.write(5, digits) }
        if !path.isEmpty { w.write(6, path) }
        w.write(7, durationMs)
        w.write(8, timestampMs)
        if let r = recording {
            w.write(9, r.sizeBytes)
            w.write(10, r.sha256)
            w.write(11, r.channels)
            w.write(12, r.startedAtMs)
            if !r.pauses.isEmpty { w.write(13, r.pauses) }
            if !r.startedBy.isEmpty { w.write(14, r.startedBy) }
            if !r.callID.isEmpty { w.write(15, r.callID) }
            if !r.caller.isEmpty { w.write(16, r.caller) }
            if !r.called.isEmpty { w.write(17, r.called) }
        }
    }
}

/// A request about one channel (its id in field 1): the CT-Server answers each with that id.
public protocol ChannelAddressed {
    var channelID: String { get }
}

extension AnswerChannel: ChannelAddressed {}
extension RejectChannel: ChannelAddressed {}
extension HangupChannel: ChannelAddressed {}
extension RedirectChannel: ChannelAddressed {}
extension RingChannel: ChannelAddressed {}
extension TransferChannel: ChannelAddressed {}
extension PlayMedia: ChannelAddressed {}
extension StopMedia: ChannelAddressed {}
extension CollectDigits: ChannelAddressed {}
extension RecordChannel: ChannelAddressed {}
extension RecordingControl: ChannelAddressed {}
extension BridgeChannels: ChannelAddressed {}
extension UnbridgeChannel: ChannelAddressed {}
extension ConferenceLeave: ChannelAddressed {}
extension ConferenceJoin: ChannelAddressed {}
extension MonitorChannel: ChannelAddressed {}
extension SendDTMF: ChannelAddressed {}
