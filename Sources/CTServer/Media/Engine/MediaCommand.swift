import Foundation
import Protocol

/// How a party takes part in a mix (bridge, conference, monitor tap).
public struct MixRole: Equatable, Sendable {
    /// Heard by every other member who hears.
    public var speaks: Bool
    /// Hears the others.
    public var hears: Bool
    /// Heard only by this member (a supervisor's whisper to the agent).
    public var whisperTo: String?

    public init(speaks: Bool = true, hears: Bool = true, whisperTo: String? = nil) {
        self.speaks = speaks
        self.hears = hears
        self.whisperTo = whisperTo
    }

    public static let member = MixRole()
    /// Monitor taps (seed 4.2.2: 监听, 强插): listen hears both sides and is heard by nobody;
    /// whisper is heard by the agent only; barge is heard by both.
    public static let listen = MixRole(speaks: false, hears: true)
    public static func whisper(to agent: String) -> MixRole { MixRole(speaks: false, hears: true, whisperTo: agent) }
    public static let barge = MixRole()
}

/// Commands from the signalling side to the channel loop (through MediaEngine.submit).
public enum MediaCommand: Sendable {
    public struct Endpoint: Sendable {
        public var remote: SocketAddress?
        public var payloadType: UInt8
        public var law: G711.Law
        public var telephoneEvent: UInt8?
        /// False while the far end holds us (sendonly/inactive): nothing is sent.
        public var sending: Bool
        /// Whether the SDP may be believed before any RTP arrives: the signalling came from a
        /// trusted or authenticated source, or we placed the call. Otherwise nothing is sent
        /// until RTP latches (docs/operations.md, "No reflection").
        public var verified: Bool
        /// Where the signalling came from: RTP from this host may latch too (a phone behind
        /// NAT whose SDP names its private address).
        public var signallingHost: SocketAddress?
        public init(remote: SocketAddress?, payloadType: UInt8, law: G711.Law, telephoneEvent: UInt8?, sending: Bool = true,
                    verified: Bool, signallingHost: SocketAddress? = nil) {
            self.remote = remote
            self.payloadType = payloadType
            self.law = law
            self.telephoneEvent = telephoneEvent
            self.sending = sending
            self.verified = verified
            self.signallingHost = signallingHost
        }
    }

    public struct RecordRequest: Sendable {
        public var path: String
        public var stereo: Bool
        public var maxMs: Int
        public var silenceMs: Int
        public var terminators: Set<Character>
        public var beep: Bool
        public var tag: UInt32
        /// Passed through to the result (the call's recording: who started it, which call).
        public var startedBy: String
        public var callID: String
        /// Where the file is created and written (nil: at once, on the channel loop — tests).
        public var io: DispatchQueue?
        public init(path: String, stereo: Bool = false, maxMs: Int = 3_600_000, silenceMs: Int = 0, terminators: Set<Character> = [],
                    beep: Bool = false, tag: UInt32 = 0, startedBy: String = "", callID: String = "", io: DispatchQueue? = nil) {
            self.io = io
            self.path = path
            self.stereo = stereo
            self.maxMs = maxMs
            self.silenceMs = silenceMs
            self.terminators = terminators
            self.beep = beep
            self.tag = tag
            self.startedBy = startedBy
            self.callID = callID
        }
    }

    /// A channel's RTP socket (owned by the loop from now on) and its far end.
    case add(id: String, fd: Int32, rtcp: Int32, port: Int, endpoint: Endpoint, echo: Bool)
    case update(id: String, endpoint: Endpoint)
    case remove(id: String)
    case play(id: String, player: Player)
    case stopPlay(id: String)
    case collect(id: String, collector: DigitCollector, afterPlay: Bool)
    case stopCollect(id: String)
    case record(id: String, RecordRequest)
    case stopRecord(id: String)
    /// Paused: the recording goes on with silence (card numbers are never written) and the span is listed.
    case pauseRecord(id: String, paused: Bool)
    case join(mix: String, id: String, role: MixRole, bridge: Bool)
    case leave(id: String)
    case setRole(id: String, role: MixRole)
    case sendDTMF(id: String, digits: String)
    /// Keys that arrived in signalling (SIP INFO): they feed collection, barge-in, type-ahead
    /// and recording terminators exactly as RFC 4733 keys do.
    case receivedDTMF(id: String, digits: String, source: DTMFSource)
    case inbandDTMF(id: String, enabled: Bool)
    case setEcho(id: String, enabled: Bool)
}

public enum DTMFSource: String, Sendable { case rfc4733, inband, info }

/// A closed recording, as the channel loop reports it: its file, length, why it ended, the
/// paused spans (milliseconds from its start, written as silence) and what it was started with.
public struct RecordingResult: Sendable, Equatable {
    public struct Pause: Sendable, Equatable {
        public var startMs: Int
        public var endMs: Int
    }
    public var tag: UInt32
    public var path: String
    public var durationMs: Int
    public var reason: String
    public var channels: Int
    public var startedAtMs: UInt64
    public var pauses: [Pause]
    public var startedBy: String
    public var callID: String
}

/// What the channel loop reports back (on the signalling loop).
public enum MediaEvent: Sendable, Equatable {
    case dtmf(id: String, digit: Character, source: DTMFSource)
    case playDone(id: String, tag: UInt32, outcome: Player.Outcome)
    case digitsCollected(id: String, tag: UInt32, digits: String, reason: DigitCollector.Reason)
    case recordDone(id: String, RecordingResult)
    /// The channel's bridge came apart (the other party left); it is alone now.
    case bridgeEnded(id: String, mix: String)
    case failed(id: String, what: String)
    /// A conference member started or stopped talking (voice activity).
    case talking(id: String, on: Bool)
}

/// Per-channel counters, readable from any thread through MediaEngine.stats(id:).
public struct MediaChannelStats: Sendable, Equatable {
    public var packetsIn = 0, packetsOut = 0, bytesIn = 0, foreignDropped = 0, malformed = 0, dtmfDigits = 0
    public var jitterMs = 0.0
    public var jitter = JitterBuffer.Stats()
    public var latched: String?
    /// RFC 3550 reception figures: packets the far end sent that never came (by sequence).
    public var cumulativeLost = 0
    /// What the far end reports about our stream in its RTCP (loss %, jitter) and the round trip.
    public var remoteLossPercent = 0.0
    public var remoteJitterMs = 0.0
    public var rttMs = -1.0
    public var rtcpSent = 0, rtcpReceived = 0
}
