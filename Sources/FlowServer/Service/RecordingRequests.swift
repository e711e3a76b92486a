import Foundation
import Protocol

/// The recording catalogue for App-Operate (RecordingRequest) and the operators' control of a
/// call's recording (AgentCommand `record`). Roles, checked here: supervisors and admins find,
/// download, play, score and delete any recording; an agent finds, downloads and plays only
/// recordings of its own calls and may not delete (refused, and audited); the retention run is
/// the admin's. Every play, download and delete — done or refused — writes an audit row.
struct Refusal: Error { var text: String }

extension FlowService {
    static let downloadChunk = 512 * 1024

    private static func roleName(_ op: Operator) -> String {
        op.roles.contains("admin") ? "admin" : op.roles.contains("supervisor") ? "supervisor" : op.roles.contains("agent") ? "agent" : "none"
    }

    func recordingRequest(_ m: RecordingRequest, _ conn: Connection, _ frame: Frame) {
        guard let op = operators.loggedIn(conn) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "permission denied: log in first (recordings \(m.action))"))
            return
        }
        let role = Self.roleName(op)
        let manager = op.roles.contains("supervisor") || op.roles.contains("admin")
        let directory = recordingDirectory
        // An agent sees only its own calls' recordings.
        let code = op.workCode
        let allowed: @Sendable (RecordingCatalogue.Row) -> Bool = { r in manager || r.agents.contains(code) }
        let fail = { (why: String) -> Void in _ = conn.respond(to: frame, error: ProtocolError(.badMessage, why)) }
        let from = m.fromMs == 0 && m.toMs == 0 ? 0 : Double(m.fromMs) / 1000
        let to = m.toMs == 0 ? 4_102_444_800 : Double(m.toMs) / 1000
        guard let id = Int64(exactly: m.id) else { fail("recording id \(m.id) is out of range"); return }
        switch m.action {
        case "find":
            guard manager || op.roles.contains("agent") else { fail("permission denied: finding recordings needs the agent, supervisor or admin role"); return }
            guard to > from else { fail("the range must be positive"); return }
            database(conn, frame) { db in
                let rows = try RecordingCatalogue.find(db, from: from, to: to, agent: manager ? m.agent : op.workCode, caller: m.caller, queue: m.queue,
                                                       call: m.callID, limit: Int(min(max(m.limit, 1), 10_000)))
                return RecordingReply(summary: "\(rows.count) recordings", columns: RecordingCatalogue.columns, rows: rows)
            }
        case "download":
            database(conn, frame) { db in
                guard let r = try RecordingCatalogue.get(db, id: id) else { throw PostgresError(message: "no recording \(id)", sqlState: "P0002") }
                guard allowed(r) else {
                    try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "download", id: id, path: r.path, outcome: "refused")
                    throw PostgresError(message: "permission denied: recording \(id) is not of your calls", sqlState: "P0002")
                }
                let file = (directory as NSString).appendingPathComponent(r.path)
                guard let h = FileHandle(forReadingAtPath: file) else {
                    try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "download", id: id, path: r.path, outcome: "missing")
                    throw PostgresError(message: "recording \(id): its file \(r.path) is missing from \(directory)", sqlState: "P0002")
                }
                defer { try? h.close() }
                let total = (try? h.seekToEnd()) ?? 0
                try h.seek(toOffset: min(m.offset, total))
                let data = try h.read(upToCount: Self.downloadChunk) ?? Data()
                if m.offset == 0 { try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "download", id: id, path: r.path, outcome: "done") }
                return RecordingReply(summary: "\(r.path): bytes \(m.offset)–\(m.offset + UInt64(data.count)) of \(total)", data: [UInt8](data), totalBytes: total, sha256: r.sha256)
            }
        case "delete":
            database(conn, frame) { db in
                let r = try RecordingCatalogue.get(db, id: id)
                guard manager else {
                    try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "delete", id: id, path: r?.path, outcome: "refused")
                    throw PostgresError(message: "permission denied: deleting recordings needs the supervisor or admin role (refusal audited)", sqlState: "P0002")
                }
                guard let r else { throw PostgresError(message: "no recording \(id)", sqlState: "P0002") }
                let outcome = try RecordingCatalogue.delete(db, r, directory: directory)
                try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "delete", id: id, path: r.path, outcome: outcome)
                return RecordingReply(summary: "deleted recording \(id) (\(r.path))\(outcome == "missing" ? "; its file was already gone" : "")")
            }
        case "score":
            guard manager else { fail("permission denied: scoring recordings needs the supervisor or admin role"); return }
            guard m.score <= 100 else { fail("a score is 0–100"); return }
            database(conn, frame) { db in
                guard let r = try RecordingCatalogue.get(db, id: id) else { throw PostgresError(message: "no recording \(id)", sqlState: "P0002") }
                try RecordingCatalogue.score(db, r, scorer: op.workCode, score: Int(m.score), comment: m.comment)
                try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "score", id: id, path: r.path, outcome: "done")
                return RecordingReply(summary: "recording \(id) scored \(m.score) for \(r.agents.first ?? "-")")
            }
        case "report":
            guard manager else { fail("permission denied: the quality report needs the supervisor or admin role"); return }
            database(conn, frame) { db in
                let rows = try RecordingCatalogue.report(db, from: from, to: to)
                return RecordingReply(summary: "\(rows.filter { $0[0] == "agent" }.count) agents, \(rows.filter { $0[0] == "queue" }.count) queues",
                                      columns: ["by", "name", "surveys", "csat", "scored", "score"], rows: rows)
            }
        case "purge":
            guard op.roles.contains("admin") else { fail("permission denied: the retention run needs the admin role"); return }
            guard let days = retentionDays else { fail("recordings.retention_days is not set in this flow-server's configuration"); return }
            let logger = self.logger
            database(conn, frame) { db in
                let done = try RecordingCatalogue.purge(db, days: days, directory: directory, by: op.workCode)
                logger.notice("recordings retention (\(days) days, by \(op.workCode)): deleted \(done.count) recordings, \(done.bytes) bytes")
                return RecordingReply(summary: "retention \(days) days: deleted \(done.count) recordings (\(done.bytes) bytes)", columns: ["file"], rows: done.paths.map { [$0] })
            }
        case "play":
            let ext = m.sipExtension.isEmpty ? (op.sipExtension ?? "") : m.sipExtension
            guard !ext.isEmpty else { fail("play needs your phone: you have no SIP extension (give one)"); return }
            guard let url = databaseURL else { fail("this flow-server has no database configured"); return }
            queries.async { [weak self] in
                guard let self else { return }
                let found = self.withQueryConnection(url) { db -> Result<RecordingCatalogue.Row, Refusal> in
                    guard let r = try RecordingCatalogue.get(db, id: id) else { return .failure(Refusal(text: "no recording \(id)")) }
                    guard allowed(r) else {
                        try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "play", id: id, path: r.path, outcome: "refused")
                        return .failure(Refusal(text: "permission denied: recording \(id) is not of your calls"))
                    }
                    try RecordingCatalogue.audit(db, operator: op.workCode, role: role, action: "play", id: id, path: r.path, outcome: "done")
                    return .success(r)
                }
                self.loop.execute {
                    switch found {
                    case .success(.success(let r)): self.playRecording(r, to: ext, conn, frame)
                    case .success(.failure(let why)): conn.respond(to: frame, error: ProtocolError(.badMessage, why.text))
                    case .failure(let e): conn.respond(to: frame, error: ProtocolError(.unavailable, "database: \(e)"))
                    }
                }
            }
        default:
            fail("recordings actions: find, download, play, delete, score, report, purge")
        }
    }

    /// The retention job: once a minute after the start, then every day, recordings older than
    /// `recordings.retention_days` are deleted (files, sidecars, rows; one audit row each).
    func scheduleRetention(after seconds: Int = 60) {
        guard let days = retentionDays, let url = databaseURL else { return }
        _ = loop.schedule(afterMilliseconds: seconds * 1000) { [weak self] in
            guard let self else { return }
            let directory = self.recordingDirectory, logger = self.logger
            self.queries.async {
                switch self.withQueryConnection(url, { try RecordingCatalogue.purge($0, days: days, directory: directory, by: "retention") }) {
                case .success(let done):
                    if done.count > 0 { logger.notice("recordings retention (\(days) days): deleted \(done.count) recordings, \(done.bytes) bytes: \(done.paths.prefix(20).joined(separator: " "))") }
                case .failure(let e):
                    logger.warning("recordings retention failed: \(e); tried again tomorrow")
                }
            }
            self.scheduleRetention(after: 86_400)
        }
    }

    /// Rings `ext` and plays the recording there once it answers (then hangs up).
    private func playRecording(_ r: RecordingCatalogue.Row, to ext: String, _ conn: Connection, _ frame: Frame) {
        guard let ct = ctLink.connection, ct.isEstablished else {
            conn.respond(to: frame, error: ProtocolError(.unavailable, "no ct-server attached"))
            return
        }
        ct.request(Originate(destination: ext, callerID: "recording", timeoutMs: 30_000), expecting: ChannelCommandResult.self) { [weak self] result in
            switch result {
            case .success(let res):
                self?.playbacks[res.channelID] = r.path
                conn.respond(to: frame, with: RecordingReply(summary: "ringing \(ext): recording \(r.id) plays when you answer"))
            case .failure(let e):
                conn.respond(to: frame, error: ProtocolError(.unavailable, "cannot ring \(ext): \(e.reason)"))
            }
        }
    }

    /// Channel events of a playback call: answered → play; played → hang up. True when it was one.
    func playbackEvent(_ e: ChannelEvent, _ conn: Connection) -> Bool {
        guard let path = playbacks[e.channelID] else { return false }
        switch e.kind {
        case .established:
            conn.request(PlayMedia(channelID: e.channelID, items: ["silence:500", "recording:" + path, "tone:beep:300"], loop: false, tag: CallRecordings.playTag),
                         expecting: ChannelCommandResult.self) { [weak self] r in
                if case .failure(let err) = r {
                    self?.logger.warning("playback of \(path) failed: \(err.reason)")
                    conn.request(HangupChannel(channelID: e.channelID, cause: "playback failed"), expecting: ChannelCommandResult.self) { _ in }
                }
            }
        case .cleared, .failed:
            playbacks.removeValue(forKey: e.channelID)
        default:
            break
        }
        return true
    }

    func playbackDone(_ m: MediaEventMessage, _ conn: Connection) -> Bool {
        guard m.kind == .playDone, m.tag == CallRecordings.playTag, playbacks[m.channelID] != nil else { return false }
        conn.request(HangupChannel(channelID: m.channelID, cause: "recording played"), expecting: ChannelCommandResult.self) { _ in }
        return true
    }

    /// AgentCommand `record` (do = start, stop, pause, resume): an agent on its own call, or a
    /// supervisor on an agent's (agent = CODE; max_minutes limits a supervisor's recording).
    func recordCommand(_ m: AgentCommand, _ conn: Connection, _ frame: Frame) {
        guard let op = operators.loggedIn(conn) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "permission denied: log in first (record)"))
            return
        }
        let target = m.arguments["agent"].flatMap { $0.isEmpty ? nil : $0 } ?? op.workCode
        let supervising = target != op.workCode
        if supervising {
            // A supervisor's control of another agent's recording goes where the agent is (§17).
            let actions: [String: SupervisorCommand.Action] = ["start": .recordStart, "pause": .recordPause, "resume": .recordResume, "stop": .recordStop]
            guard let action = actions[m.arguments["do"] ?? ""] else {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "record needs do=start|stop|pause|resume"))
                return
            }
            operators.supervise(SupervisorCommand(action: action, agent: target, maxMinutes: UInt32(m.arguments["max_minutes"] ?? "") ?? 0), conn, frame)
            return
        } else {
            guard operators.require(["agent"], conn, frame, what: "record") else { return }
        }
        let actor: CallRecording.Actor = supervising ? .supervisor(op.workCode) : .agent(op.workCode)
        let maxMinutes = Int(m.arguments["max_minutes"] ?? "") ?? (supervising ? 60 : 240)
        let event: CallRecording.Event
        switch m.arguments["do"] ?? "" {
        case "start": event = .start(by: actor, maxMs: min(max(maxMinutes, 1), 1440) * 60_000, stereo: true)
        case "stop": event = .stop(by: actor)
        case "pause": event = .pause(by: actor)
        case "resume": event = .resume(by: actor)
        default:
            conn.respond(to: frame, error: ProtocolError(.badMessage, "record needs do=start|stop|pause|resume"))
            return
        }
        guard let entry = distributor.agentCall(target), let cc = entry.call.callerChannel else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(target) has no call with a caller on this flow-server"))
            return
        }
        if let why = recordings.control(cc, link: entry.link, queue: entry.call.queue, agent: entry.call.agent, event) {
            conn.respond(to: frame, error: ProtocolError(.badMessage, why))
            return
        }
        let state = recordings.state(cc).map { "\($0)" } ?? "idle"
        conn.respond(to: frame, with: AgentReply(state: distributor.agents[target]?.machine.state.name ?? "", text: "recording of \(target)'s call: \(state)",
                                                 fields: ["recording": state, "call": cc]))
    }
}
