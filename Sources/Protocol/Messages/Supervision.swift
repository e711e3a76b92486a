/// Supervisors acting on agents of any Flow-Server behind the CT-Server (docs/protocol.md §17):
/// the Flow-Server a supervisor is logged in to checks the role, then carries out the action
/// itself when the agent is its own, or relays it through the CT-Server to the agent's
/// Flow-Server (PeerRelay), which carries it out and answers.
extension MessageCatalogue {
    public static let peerRelay = MessageType(rawValue: 0x1030)
    public static let supervisorCommand = MessageType(rawValue: 0x4004)
}

/// A request for another Flow-Server, carried by the CT-Server.
///
/// Flow → CT (request): `peer` names the Flow-Server to deliver to; the CT-Server sends the
/// same message to it as a request, with `peer` replaced by the sender's authenticated name,
/// and returns its response (a `PeerRelayReply`, or its error) as the response to the sender's
/// request. The inner message is `type` and its TLV `body`; a Flow-Server accepts only the
/// inner types it lists (today SupervisorCommand) and refuses others with an error.
public struct PeerRelay: WireMessage {
    public static let messageType = MessageCatalogue.peerRelay
    public var peer: String
    public var innerType: MessageType
    public var body: [UInt8]
    public init(peer: String, innerType: MessageType, body: [UInt8]) {
        self.peer = peer
        self.innerType = innerType
        self.body = body
    }
    public init<M: WireMessage>(peer: String, _ message: M) {
        self.init(peer: peer, innerType: M.messageType, body: message.encodedBody())
    }
    public init(fields f: inout TLVFields) throws {
        peer = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "peer")
        innerType = MessageType(rawValue: try TLVFields.required(f.uint16(FieldTag(2, mandatory: true)), "type"))
        body = f.bytes(3) ?? []
        guard body.count <= 1 << 20 else { throw ProtocolError(.badMessage, "relayed body above 1 MiB") }
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), peer)
        w.write(FieldTag(2, mandatory: true), innerType.rawValue)
        w.write(3, bytes: body)
    }
}

/// The response to PeerRelay: the inner message's response body (for SupervisorCommand an AgentReply).
public struct PeerRelayReply: WireMessage {
    public static let messageType = MessageCatalogue.peerRelay
    public var body: [UInt8]
    public init(body: [UInt8]) { self.body = body }
    public init<M: WireMessage>(_ message: M) { body = message.encodedBody() }
    public init(fields f: inout TLVFields) throws { body = f.bytes(1) ?? [] }
    public func encode(into w: inout TLVWriter) { w.write(1, bytes: body) }
}

/// A supervisor's action on an agent (App → Flow, request; and Flow → Flow inside PeerRelay;
/// response `AgentReply`). Needs the supervisor or admin role.
///
/// - listen / whisper / barge: the supervisor's phone (`extension`, else the operator's own)
///   is rung with auto-answer and tapped into the agent's call; asked again with another mode
///   while connected, the same leg changes mode.
/// - stopMonitor: the supervisor's monitoring leg is hung up.
/// - intercept: the supervisor takes the caller: the monitoring leg when the supervisor is
///   listening to that agent, else the supervisor's phone rung with auto-answer; once it is
///   connected the caller is bridged to it and the agent's leg is released. The record names both.
/// - forceRelease: the agent's call is cleared (caller and agent), with `reason`.
/// - forceReady: the agent becomes ready (from not ready, even locked, or wrap-up).
/// - forceNotReady: not ready with `reason`; on a call, it takes effect when the call ends.
/// - forceLogout: logged out; on a call, it takes effect when the call ends.
/// - recordStart, recordPause, recordResume, recordStop: the agent's call's recording
///   (`maxMinutes` for start, default 60).
/// Monitoring ends by itself on intercept, force-release and the end of the call.
public struct SupervisorCommand: WireMessage {
    public static let messageType = MessageCatalogue.supervisorCommand
    public enum Action: UInt8, Sendable, CaseIterable {
        case listen = 1, whisper = 2, barge = 3, stopMonitor = 4, intercept = 5, forceRelease = 6
        case forceReady = 7, forceNotReady = 8, forceLogout = 9
        case recordStart = 10, recordPause = 11, recordResume = 12, recordStop = 13

        /// The command-line word for the action.
        public var word: String {
            switch self {
            case .listen: return "listen"
            case .whisper: return "whisper"
            case .barge: return "barge"
            case .stopMonitor: return "stop-monitor"
            case .intercept: return "intercept"
            case .forceRelease: return "force-release"
            case .forceReady: return "force-ready"
            case .forceNotReady: return "force-not-ready"
            case .forceLogout: return "force-logout"
            case .recordStart: return "record-start"
            case .recordPause: return "record-pause"
            case .recordResume: return "record-resume"
            case .recordStop: return "record-stop"
            }
        }
        public init?(word: String) {
            guard let a = Self.allCases.first(where: { $0.word == word }) else { return nil }
            self = a
        }
        /// The monitor mode of listen, whisper and barge.
        public var monitorMode: MonitorChannel.Mode? {
            switch self {
            case .listen: return .listen
            case .whisper: return .whisper
            case .barge: return .barge
            default: return nil
            }
        }
    }
    public var action: Action
    /// The agent acted on (empty for stopMonitor).
    public var agent: String
    /// The supervisor's work code (filled in by the Flow-Server the supervisor is logged in to).
    public var supervisor: String
    /// The supervisor's phone for monitoring and intercept.
    public var sipExtension: String
    public var reason: String
    /// recordStart: the recording's limit in minutes (0: 60).
    public var maxMinutes: UInt32

    public init(action: Action, agent: String, supervisor: String = "", sipExtension: String = "", reason: String = "", maxMinutes: UInt32 = 0) {
        self.maxMinutes = maxMinutes
        self.action = action
        self.agent = agent
        self.supervisor = supervisor
        self.sipExtension = sipExtension
        self.reason = reason
    }
    public init(fields f: inout TLVFields) throws {
        let raw = try TLVFields.required(f.uint8(FieldTag(1, mandatory: true)), "action")
        guard let a = Action(rawValue: raw) else { throw ProtocolError(.badMessage, "unknown supervisor action \(raw)") }
        action = a
        agent = try f.string(2) ?? ""
        supervisor = try f.string(3) ?? ""
        sipExtension = try f.string(4) ?? ""
        reason = try f.string(5) ?? ""
        maxMinutes = try f.uint32(6) ?? 0
        guard agent.utf8.count <= 64, supervisor.utf8.count <= 64, sipExtension.utf8.count <= 128, reason.utf8.count <= 256 else {
            throw ProtocolError(.badMessage, "supervisor command field too long")
        }
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action.rawValue)
        if !agent.isEmpty { w.write(2, agent) }
        if !supervisor.isEmpty { w.write(3, supervisor) }
        if !sipExtension.isEmpty { w.write(4, sipExtension) }
        if !reason.isEmpty { w.write(5, reason) }
        if maxMinutes > 0 { w.write(6, maxMinutes) }
    }
}
