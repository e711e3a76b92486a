import Foundation

/// The call detail record: one per call, from arrival to the end of its last leg, written
/// when the call ends (through the spool, so it survives a crash or a database outage).
public struct CallRecord: Codable, Sendable, Equatable {
    public struct Leg: Codable, Sendable, Equatable {
        public var leg: Int
        public var channelID: String
        public var party: String
        /// caller, agent, transfer-target, supervisor, conference
        public var role: String
        public var startedAt: Double
        public var answeredAt: Double?
        public var endedAt: Double?
        public var cause: String?
        public init(leg: Int, channelID: String, party: String, role: String, startedAt: Double, answeredAt: Double? = nil,
                    endedAt: Double? = nil, cause: String? = nil) {
            self.leg = leg
            self.channelID = channelID
            self.party = party
            self.role = role
            self.startedAt = startedAt
            self.answeredAt = answeredAt
            self.endedAt = endedAt
            self.cause = cause
        }
    }

    public struct Event: Codable, Sendable, Equatable {
        /// Unix time in seconds (fractional).
        public var at: Double
        public var kind: String
        public var detail: [String: String]
        public init(at: Double, kind: String, detail: [String: String] = [:]) {
            self.at = at
            self.kind = kind
            self.detail = detail
        }
    }

    public var callID: UUID
    public var channelID: String
    public var flowServer: String
    public var direction: String
    public var caller: String
    public var called: String
    public var customerID: Int64?
    /// Times are Unix seconds (fractional).
    public var arrivedAt: Double
    public var answeredAt: Double?
    public var flow: String?
    public var flowVersion: Int?
    public var queue: String?
    public var queuedAt: Double?
    public var offeredAt: Double?
    public var agent: String?
    public var agentAnsweredAt: Double?
    public var endedAt: Double
    /// self-service, answered, abandoned, rejected, failed, transferred, callback
    public var disposition: String
    /// caller, agent, system
    public var endedBy: String?
    public var cause: String?
    public var sipCode: Int?
    public var holdSeconds: Double = 0
    public var wrapupSeconds: Double = 0
    public var transfers: Int = 0
    public var recording: String?
    /// The caller's post-call survey score (1–5), when it gave one.
    public var csat: Int?
    /// The line it came in on or went out through: a trunk's name, or "sip" (phones).
    public var line: String?
    public var legs: [Leg] = []
    public var events: [Event] = []

    public init(callID: UUID = UUID(), channelID: String, flowServer: String, direction: String, caller: String, called: String,
                arrivedAt: Double, endedAt: Double, disposition: String) {
        self.callID = callID
        self.channelID = channelID
        self.flowServer = flowServer
        self.direction = direction
        self.caller = caller
        self.called = called
        self.arrivedAt = arrivedAt
        self.endedAt = endedAt
        self.disposition = disposition
    }
}

/// A recording's file, as the CT-Server reported it, with what the Flow-Server knows of its
/// call: the catalogue row (`recordings`). Fields added after the first release are optional,
/// so a spool written by an older Flow-Server still replays.
public struct RecordingRecord: Codable, Sendable, Equatable {
    public var path: String
    public var callID: UUID?
    public var channelID: String
    public var startedAt: Double?
    public var durationMs: Int
    public var reason: String?
    public var caller: String?
    public var called: String?
    public var queue: String?
    public var agents: [String]?
    public var channels: Int?
    public var sizeBytes: UInt64?
    public var sha256: String?
    /// Paused spans in ms from the start: [[start, end], …].
    public var pauses: [[Int]]?
    public var startedBy: String?
    public init(path: String, callID: UUID?, channelID: String, startedAt: Double?, durationMs: Int, reason: String?) {
        self.path = path
        self.callID = callID
        self.channelID = channelID
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.reason = reason
    }
}

/// One period of an agent's state (logged in, ready, talking, not ready with a reason …).
public struct AgentStateRecord: Codable, Sendable, Equatable {
    /// Unique per period (agent + start), so a replay never doubles it.
    public var key: String
    public var agent: String
    public var state: String
    public var reason: String?
    public var startedAt: Double
    public var endedAt: Double?
    public init(agent: String, state: String, reason: String? = nil, startedAt: Double, endedAt: Double? = nil) {
        key = "\(agent)@\(String(format: "%.6f", startedAt))"
        self.agent = agent
        self.state = state
        self.reason = reason
        self.startedAt = startedAt
        self.endedAt = endedAt
    }
}

/// Something that happened in a queue (entered, offered to an agent, answered, abandoned,
/// overflowed …), for queue reports and the live board's history.
public struct QueueEventRecord: Codable, Sendable, Equatable {
    /// Unique per event, so a replay never doubles it.
    public var key: String
    public var queue: String
    public var callID: UUID?
    public var kind: String
    public var at: Double
    public var detail: [String: String]
    public init(queue: String, callID: UUID?, kind: String, at: Double, detail: [String: String] = [:], sequence: Int = 0) {
        key = "\(queue)/\(callID?.uuidString ?? "-")/\(kind)/\(String(format: "%.6f", at))/\(sequence)"
        self.queue = queue
        self.callID = callID
        self.kind = kind
        self.at = at
        self.detail = detail
    }
}

/// An agent's wrap-up after a call, added to that call's record when it ends (the record was
/// usually written already: the agent's wrap-up outlasts the call).
public struct WrapUpRecord: Codable, Sendable, Equatable {
    public var callID: UUID
    public var agent: String
    public var seconds: Double
    public init(callID: UUID, agent: String, seconds: Double) {
        self.callID = callID
        self.agent = agent
        self.seconds = seconds
    }
}

/// An outbound campaign's attempt to reach a number (outcome `dnc`: refused by a do-not-call
/// list, also written to `dnc_refusals`).
public struct CampaignAttemptRecord: Codable, Sendable, Equatable {
    public var campaign: String
    public var numberID: Int
    public var number: String
    public var attempt: Int
    public var outcome: String
    public var detail: String
    public var agent: String?
    public var at: Double
    public var key: String { "\(campaign)/\(numberID)/\(attempt)/\(outcome)" }
    public init(campaign: String, numberID: Int, number: String, attempt: Int, outcome: String, detail: String, agent: String?, at: Double) {
        self.campaign = campaign
        self.numberID = numberID
        self.number = number
        self.attempt = attempt
        self.outcome = outcome
        self.detail = detail
        self.agent = agent
        self.at = at
    }
}

/// An agent's disposition of a campaign call, added to its attempt.
public struct CampaignDispositionRecord: Codable, Sendable, Equatable {
    public var campaign: String
    public var numberID: Int
    public var attempt: Int
    public var agent: String
    public var code: String
    public var note: String
    public init(campaign: String, numberID: Int, attempt: Int, agent: String, code: String, note: String) {
        self.campaign = campaign
        self.numberID = numberID
        self.attempt = attempt
        self.agent = agent
        self.code = code
        self.note = note
    }
}

/// Anything the record writer stores.
public enum StoredRecord: Codable, Sendable, Equatable {
    case call(CallRecord)
    case wrapUp(WrapUpRecord)
    case campaignAttempt(CampaignAttemptRecord)
    case campaignDisposition(CampaignDispositionRecord)
    case recording(RecordingRecord)
    case agentState(AgentStateRecord)
    case queueEvent(QueueEventRecord)
}
