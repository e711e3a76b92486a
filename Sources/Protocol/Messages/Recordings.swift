/// The recording catalogue between App-Operate and a Flow-Server (docs/protocol.md §15):
/// find, download (in chunks), play to the operator's phone, delete, score, the quality
/// report, and the retention run. Starting, pausing, resuming and stopping a call's recording
/// is AgentCommand `record`.
extension MessageCatalogue {
    public static let recordingRequest = MessageType(rawValue: 0x2003)
}

/// action:
/// - `find`: recordings that started in [from, to), filtered by agent, caller, queue, call id;
///   at most `limit` rows (default 100).
/// - `download`: up to 512 KiB of recording `id` from `offset`; the reply says the file's
///   total size and catalogued SHA-256 (the client checks it once it has every byte).
/// - `play`: rings the operator's phone (its SIP extension, or `extension`) and plays it there.
/// - `delete`: the file and its row (supervisor or admin; refusals are audited too).
/// - `score`: a supervisor's score of recording `id` (0–100) with a comment.
/// - `report`: CSAT (post-call survey) by agent and by queue and the average supervisor score
///   per agent, for calls in [from, to).
/// - `purge`: run the retention now (admin): deletes what is older than the configured days.
/// Every play, download and delete writes an audit row.
public struct RecordingRequest: WireMessage {
    public static let messageType = MessageCatalogue.recordingRequest
    public var action: String
    public var fromMs: UInt64
    public var toMs: UInt64
    public var agent: String
    public var caller: String
    public var queue: String
    public var callID: String
    public var id: UInt64
    public var offset: UInt64
    public var score: UInt8
    public var comment: String
    public var limit: UInt32
    public var sipExtension: String

    public init(action: String, fromMs: UInt64 = 0, toMs: UInt64 = 0, agent: String = "", caller: String = "", queue: String = "", callID: String = "",
                id: UInt64 = 0, offset: UInt64 = 0, score: UInt8 = 0, comment: String = "", limit: UInt32 = 100, sipExtension: String = "") {
        self.action = action
        self.fromMs = fromMs
        self.toMs = toMs
        self.agent = agent
        self.caller = caller
        self.queue = queue
        self.callID = callID
        self.id = id
        self.offset = offset
        self.score = score
        self.comment = comment
        self.limit = limit
        self.sipExtension = sipExtension
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        fromMs = try f.uint64(2) ?? 0
        toMs = try f.uint64(3) ?? 0
        agent = try f.string(4) ?? ""
        caller = try f.string(5) ?? ""
        queue = try f.string(6) ?? ""
        callID = try f.string(7) ?? ""
        id = try f.uint64(8) ?? 0
        offset = try f.uint64(9) ?? 0
        score = try f.uint8(10) ?? 0
        comment = try f.string(11) ?? ""
        limit = try f.uint32(12) ?? 100
        sipExtension = try f.string(13) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.write(2, fromMs)
        w.write(3, toMs)
        if !agent.isEmpty { w.write(4, agent) }
        if !caller.isEmpty { w.write(5, caller) }
        if !queue.isEmpty { w.write(6, queue) }
        if !callID.isEmpty { w.write(7, callID) }
        w.write(8, id)
        w.write(9, offset)
        w.write(10, score)
        if !comment.isEmpty { w.write(11, comment) }
        w.write(12, limit)
        if !sipExtension.isEmpty { w.write(13, sipExtension) }
    }
}

/// The reply: a table (`columns`, rows of cells) and a summary line; a download's chunk in
/// `data` with the file's `totalBytes` and catalogued `sha256`.
public struct RecordingReply: WireMessage {
    public static let messageType = MessageCatalogue.recordingRequest   // responses carry their request's type
    public var summary: String
    public var columns: [String]
    public var rows: [[String]]
    public var data: [UInt8]
    public var totalBytes: UInt64
    public var sha256: String

    public init(summary: String, columns: [String] = [], rows: [[String]] = [], data: [UInt8] = [], totalBytes: UInt64 = 0, sha256: String = "") {
        self.summary = summary
        self.columns = columns
        self.rows = rows
        self.data = data
        self.totalBytes = totalBytes
        self.sha256 = sha256
    }
    public init(fields f: inout TLVFields) throws {
        summary = try f.string(1) ?? ""
        (columns, rows) = try f.table()
        data = f.bytes(4) ?? []
        totalBytes = try f.uint64(5) ?? 0
        sha256 = try f.string(6) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, summary)
        w.writeTable(columns: columns, rows: rows)
        if !data.isEmpty { w.write(4, bytes: data) }
        w.write(5, totalBytes)
        if !sha256.isEmpty { w.write(6, sha256) }
    }
}

/// The sidecar the CT-Server writes beside a closed call recording (`NAME.wav.json`, JSON with
/// these keys): the file's facts, so that a Flow-Server can catalogue a recording whose
/// RecordDone reached none (`flow-server recordings-import`).
public struct RecordingSidecar: Codable, Sendable, Equatable {
    public var path: String
    public var channelID: String
    public var callID: String
    public var caller: String
    public var called: String
    public var startedAtMs: UInt64
    public var durationMs: Int
    public var channels: Int
    public var sizeBytes: UInt64
    public var sha256: String
    /// Paused spans, `START-END` in ms from the start, comma separated.
    public var pauses: String
    public var startedBy: String
    public var reason: String
    public init(path: String, channelID: String, callID: String, caller: String, called: String, startedAtMs: UInt64, durationMs: Int, channels: Int,
                sizeBytes: UInt64, sha256: String, pauses: String, startedBy: String, reason: String) {
        self.path = path
        self.channelID = channelID
        self.callID = callID
        self.caller = caller
        self.called = called
        self.startedAtMs = startedAtMs
        self.durationMs = durationMs
        self.channels = channels
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.pauses = pauses
        self.startedBy = startedBy
        self.reason = reason
    }
}
