import Foundation
import Logging

/// Writes records to PostgreSQL without ever blocking the Flow-Server's loop, and without
/// losing one: `submit` hands a record to the writer's thread, which first appends it to the
/// spool (fsync'd), then copies sealed spool segments into the database in order, one
/// transaction per segment, and deletes a segment only after its commit. Inserts are keyed
/// (call id, event sequence …) with ON CONFLICT DO NOTHING, so a segment replayed after a crash
/// between commit and delete is not doubled. While PostgreSQL is unreachable records simply
/// accumulate in the spool and are replayed, oldest first, when it returns.
public final class RecordWriter: @unchecked Sendable {
    public struct Status: Sendable, Equatable {
        public var databaseUp = false
        public var pendingSegments = 0
        public var written = 0
        public var submitted = 0
        public var lastError: String?
    }

    private let url: String
    private let spool: Spool
    private let logger: Logger
    private let lock = NSCondition()
    private var queue: [StoredRecord] = []
    private var stopping = false
    private var thread: Thread?
    private var db: PostgresConnection?
    private var status = Status()
    private var retryAt = Date.distantPast
    private var retryDelay = 0.5
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    private let migrator: Migrator?
    private var migrated = false
    /// Tariff versions for rating calls as they are written, re-read when a new one is
    /// published (it applies to calls written from then on; `rate` re-rates the past).
    private var tariffs: [(Int, Tariff)] = []

    /// With a `migrator`, the schema is brought up to date on the first connection.
    public init(databaseURL: String, spoolDirectory: URL, migrator: Migrator? = nil, logger: Logger) throws {
        url = databaseURL
        self.migrator = migrator
        self.logger = logger
        spool = try Spool(directory: spoolDirectory)
        for w in spool.warnings { logger.warning("\(w)") }
        if !spool.isEmpty { logger.notice("spool has \(spool.segmentCount) segment(s) to replay") }
    }

    public func start() {
        let t = Thread { [self] in self.run() }
        t.name = "record-writer"
        thread = t
        t.start()
    }

    /// Hands a record over; returns at once.
    public func submit(_ r: StoredRecord) {
        lock.lock()
        queue.append(r)
        status.submitted += 1
        lock.signal()
        lock.unlock()
    }

    public var currentStatus: Status {
        lock.lock(); defer { lock.unlock() }
        return status
    }

    /// Spools what is queued, tries one last flush to the database, and stops the thread.
    public func stop(timeout: Double = 5) {
        lock.lock()
        stopping = true
        lock.signal()
        lock.unlock()
        let deadline = Date().addingTimeInterval(timeout)
        while thread?.isFinished == false && Date() < deadline { usleep(10_000) }
    }

    /// Waits until everything submitted is in the database (for tests and benchmarks).
    public func waitUntilWritten(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let s = currentStatus
            if s.written >= s.submitted && s.pendingSegments == 0 { return true }
            usleep(20_000)
        }
        return false
    }

    private func run() {
        while true {
            lock.lock()
            while queue.isEmpty && !stopping && !((status.pendingSegments > 0 || (migrator != nil && !migrated)) && Date() >= retryAt) {
                _ = lock.wait(until: Date().addingTimeInterval(max(0.05, min(1, retryAt.timeIntervalSinceNow))))
            }
            let batch = queue
            queue.removeAll()
            let stop = stopping
            lock.unlock()

            if !batch.isEmpty {
                do {
                    try spool.append(batch.map { (try? encoder.encode($0)).map { [UInt8]($0) } ?? [] })
                    spool.seal()
                } catch {
                    // The disk refused: keep the records in memory and try again.
                    logger.error("spool append failed: \(error); keeping \(batch.count) records in memory")
                    lock.lock(); queue.insert(contentsOf: batch, at: 0); lock.unlock()
                    usleep(200_000)
                }
            }
            drain()
            if stop { break }
        }
        db = nil
    }

    /// Copies sealed segments into the database, oldest first.
    private func drain() {
        setPending()
        // Connect when there is something to write, and at start to bring the schema up to date.
        guard !spool.isEmpty || (migrator != nil && !migrated), Date() >= retryAt else { return }
        do {
            if db == nil || db?.isConnected == false {
                db = try PostgresConnection(url: url)
                if let migrator, !migrated, let db {
                    try migrator.migrate(db, logger: logger)
                    migrated = true
                }
                if !spool.isEmpty { logger.notice("database reachable; replaying \(spool.segmentCount) spool segment(s)") }
                lock.lock(); status.databaseUp = true; lock.unlock()
            }
            guard let db else { return }
            while let (segment, payloads) = try spool.oldest() {
                let records = payloads.compactMap { try? decoder.decode(StoredRecord.self, from: Data($0)) }
                if records.count < payloads.count { logger.warning("spool segment \(segment): \(payloads.count - records.count) undecodable records skipped") }
                // A newly published version applies to the calls written from then on.
                let latest = try db.execute("SELECT coalesce(max(version), 0) AS v FROM tariff_versions").int(0, "v") ?? 0
                if latest != tariffs.last?.0 ?? 0 { tariffs = try TariffStore.load(db) }
                try db.transaction { try Self.store(records, db, tariffs: tariffs) }
                spool.remove(segment)
                lock.lock()
                status.written += records.count
                status.databaseUp = true
                status.lastError = nil
                lock.unlock()
                setPending()
            }
            retryDelay = 0.5
        } catch {
            let wasUp = currentStatus.databaseUp
            lock.lock()
            status.databaseUp = false
            status.lastError = "\(error)"
            lock.unlock()
            if wasUp || retryDelay == 0.5 { logger.warning("database write failed: \(error); records stay in the spool and are replayed when it returns") }
            db = nil
            retryAt = Date().addingTimeInterval(retryDelay)
            retryDelay = min(retryDelay * 2, 5)
        }
        setPending()
    }

    private func setPending() {
        lock.lock(); status.pendingSegments = spool.segmentCount; lock.unlock()
    }

    static func ts(_ t: Double?) -> String? { t.map { String(format: "%.6f", $0) } }

    static let insertCall = """
        INSERT INTO calls (call_id, channel_id, flow_server, direction, caller, called, customer_id, arrived_at, answered_at,
            flow, flow_version, queue, queued_at, offered_at, agent, agent_answered_at, ended_at, disposition, ended_by, cause,
            sip_code, hold_seconds, wrapup_seconds, transfers, recording, line, csat)
        VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::bigint, to_timestamp($8::float8), to_timestamp($9::float8), $10, $11::int, $12,
            to_timestamp($13::float8), to_timestamp($14::float8), $15, to_timestamp($16::float8), to_timestamp($17::float8), $18, $19, $20,
            $21::int, $22::float8, $23::float8, $24::int, $25, $26, $27::smallint)
        ON CONFLICT (call_id) DO UPDATE SET flow_server = EXCLUDED.flow_server, customer_id = EXCLUDED.customer_id,
            answered_at = EXCLUDED.answered_at, flow = EXCLUDED.flow, flow_version = EXCLUDED.flow_version, queue = EXCLUDED.queue,
            queued_at = EXCLUDED.queued_at, offered_at = EXCLUDED.offered_at, agent = EXCLUDED.agent,
            agent_answered_at = EXCLUDED.agent_answered_at, ended_at = EXCLUDED.ended_at, disposition = EXCLUDED.disposition,
            ended_by = EXCLUDED.ended_by, cause = EXCLUDED.cause, sip_code = EXCLUDED.sip_code, hold_seconds = EXCLUDED.hold_seconds,
            wrapup_seconds = EXCLUDED.wrapup_seconds, transfers = EXCLUDED.transfers, recording = coalesce(EXCLUDED.recording, calls.recording), line = EXCLUDED.line,
            csat = coalesce(EXCLUDED.csat, calls.csat)
            WHERE calls.disposition = 'lost' AND EXCLUDED.disposition <> 'lost'

        """
    static let insertLeg = """
        INSERT INTO call_legs (call_id, leg, channel_id, party, role, started_at, answered_at, ended_at, cause)
        VALUES ($1::uuid, $2::int, $3, $4, $5, to_timestamp($6::float8), to_timestamp($7::float8), to_timestamp($8::float8), $9)
        ON CONFLICT DO NOTHING
        """
    static let insertEvent = """
        INSERT INTO call_events (call_id, seq, at, kind, detail) VALUES ($1::uuid, $2::int, to_timestamp($3::float8), $4, $5::jsonb)
        ON CONFLICT DO NOTHING
        """
    static let insertRecording = """
        INSERT INTO recordings (path, call_id, channel_id, started_at, duration_ms, reason, caller, called, queue, agents, channels, size_bytes,
            sha256, pauses, started_by)
        VALUES ($1, $2::uuid, $3, to_timestamp($4::float8), $5::int, $6, $7, $8, $9, $10::text[], $11::smallint, $12::bigint, $13, $14::jsonb, $15)
        ON CONFLICT DO NOTHING
        """
    /// The call's record names its recording (the call's row may be written before or after).
    static let linkRecording = """
        UPDATE calls SET recording = $1 WHERE call_id = $2::uuid AND recording IS DISTINCT FROM $1
            AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = $2::uuid AND r.path <> $1 AND r.started_at < to_timestamp($3::float8))
        """
    static let insertAgentState = """
        INSERT INTO agent_states (event_key, agent, state, reason, started_at, ended_at)
        VALUES ($1, $2, $3, $4, to_timestamp($5::float8), to_timestamp($6::float8)) ON CONFLICT DO NOTHING
        """

    /// A call's charge; a record written again (a lost call's adopter) or re-rated replaces it.
    static let upsertCharge = """
        INSERT INTO call_charges (call_id, tariff_version, service, grade, seconds, units, basic_fen, info_fee_fen, total_fen, bands)
        VALUES ($1::uuid, $2::int, $3, $4, $5::int, $6::int, $7::bigint, $8::bigint, $9::bigint, $10::jsonb)
        ON CONFLICT (call_id) DO UPDATE SET tariff_version = EXCLUDED.tariff_version, service = EXCLUDED.service, grade = EXCLUDED.grade,
            seconds = EXCLUDED.seconds, units = EXCLUDED.units, basic_fen = EXCLUDED.basic_fen, info_fee_fen = EXCLUDED.info_fee_fen,
            total_fen = EXCLUDED.total_fen, bands = EXCLUDED.bands, rated_at = now()
            WHERE (call_charges.tariff_version, call_charges.service, call_charges.seconds, call_charges.total_fen, call_charges.bands)
                IS DISTINCT FROM (EXCLUDED.tariff_version, EXCLUDED.service, EXCLUDED.seconds, EXCLUDED.total_fen, EXCLUDED.bands)
        """

    /// The parameters of a charge row.
    static func chargeRow(_ id: UUID, _ c: Rating.Charge) -> [String?] {
        let bands = "{" + c.bands.sorted { $0.key < $1.key }.map { "\"\($0.key.replacingOccurrences(of: "\"", with: ""))\": \($0.value)" }.joined(separator: ", ") + "}"
        return [id.uuidString, String(c.tariffVersion), c.service, c.grade, String(c.seconds), String(c.units), String(c.basicFen), String(c.infoFeeFen),
                String(c.totalFen), bands]
    }

    static func ratingInput(_ c: CallRecord) -> Rating.Input {
        Rating.Input(caller: c.caller, called: c.called, direction: c.direction, flow: c.flow, line: c.line, answeredAt: c.answeredAt,
                     endedAt: c.endedAt, disposition: c.disposition)
    }

    static let updateWrapUp = """
        UPDATE calls SET wrapup_seconds = $2::float8 WHERE call_id = $1::uuid AND agent = $3
        """
    static let insertQueueEvent = """
        INSERT INTO queue_events (event_key, queue, call_id, kind, at, detail)
        VALUES ($1, $2, $3::uuid, $4, to_timestamp($5::float8), $6::jsonb) ON CONFLICT DO NOTHING
        """

    static let insertCampaignAttempt = """
        INSERT INTO campaign_attempts (event_key, campaign, number_id, number, attempt, outcome, detail, agent, at)
        VALUES ($1, $2, $3::integer, $4, $5::integer, $6, $7, $8, to_timestamp($9::float8)) ON CONFLICT DO NOTHING
        """
    static let insertDNCRefusal = """
        INSERT INTO dnc_refusals (event_key, campaign, number, at) VALUES ($1, $2, $3, to_timestamp($4::float8)) ON CONFLICT DO NOTHING
        """
    static let updateDisposition = """
        UPDATE campaign_attempts SET disposition = $5, note = $6 WHERE campaign = $1 AND number_id = $2::integer AND attempt = $3::integer AND agent = $4
        """

    /// Writes records with parameterised, pipelined inserts (callers wrap it in a transaction).
    public static func store(_ records: [StoredRecord], _ db: PostgresConnection, tariffs: [(Int, Tariff)] = []) throws {
        var calls: [[String?]] = [], legs: [[String?]] = [], events: [[String?]] = [], recs: [[String?]] = [], states: [[String?]] = []
        var charges: [[String?]] = []
        var queueEvents: [[String?]] = [], wrapUps: [[String?]] = [], links: [[String?]] = []
        var attempts: [[String?]] = [], refusals: [[String?]] = [], dispositions: [[String?]] = []
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        for r in records {
            switch r {
            case .call(let c):
                let id = c.callID.uuidString
                calls.append([id, c.channelID, c.flowServer, c.direction, c.caller, c.called, c.customerID.map { String($0) }, ts(c.arrivedAt),
                              ts(c.answeredAt), c.flow, c.flowVersion.map { String($0) }, c.queue, ts(c.queuedAt), ts(c.offeredAt), c.agent,
                              ts(c.agentAnsweredAt), ts(c.endedAt), c.disposition, c.endedBy, c.cause, c.sipCode.map { String($0) },
                              String(c.holdSeconds), String(c.wrapupSeconds), String(c.transfers), c.recording, c.line,
                              c.csat.map { String($0) }])
                if c.disposition != "lost", let charge = Rating.rate(ratingInput(c), versions: tariffs) { charges.append(chargeRow(c.callID, charge)) }
                for l in c.legs {
                    legs.append([id, String(l.leg), l.channelID, l.party, l.role, ts(l.startedAt), ts(l.answeredAt), ts(l.endedAt), l.cause])
                }
                for (i, e) in c.events.enumerated() {
                    let detail = (try? enc.encode(e.detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                    events.append([id, String(i + 1), ts(e.at), e.kind, detail])
                }
            case .wrapUp(let w):
                wrapUps.append([w.callID.uuidString, String(w.seconds), w.agent])
            case .recording(let r):
                let agents = "{" + (r.agents ?? []).map { "\"" + $0.filter { $0 != "\"" && $0 != "\\" } + "\"" }.joined(separator: ",") + "}"
                let pauses = "[" + (r.pauses ?? []).map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
                recs.append([r.path, r.callID?.uuidString, r.channelID, ts(r.startedAt), String(r.durationMs), r.reason, r.caller, r.called, r.queue,
                             agents, String(r.channels ?? 1), String(r.sizeBytes ?? 0), r.sha256, pauses, r.startedBy])
                if let id = r.callID { links.append([r.path, id.uuidString, ts(r.startedAt) ?? "0"]) }
            case .agentState(let s):
                states.append([s.key, s.agent, s.state, s.reason, ts(s.startedAt), ts(s.endedAt)])
            case .queueEvent(let q):
                let detail = (try? enc.encode(q.detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                queueEvents.append([q.key, q.queue, q.callID?.uuidString, q.kind, ts(q.at), detail])
            case .campaignAttempt(let a):
                attempts.append([a.key, a.campaign, String(a.numberID), a.number, String(a.attempt), a.outcome, a.detail, a.agent, ts(a.at)])
                if a.outcome == "dnc" { refusals.append([a.key, a.campaign, a.number, ts(a.at)]) }
            case .campaignDisposition(let d):
                dispositions.append([d.campaign, String(d.numberID), String(d.attempt), d.agent, d.code, d.note])
            }
        }
        try db.executeBatch(prepared: "insert_call", insertCall, calls)
        try db.executeBatch(prepared: "insert_leg", insertLeg, legs)
        try db.executeBatch(prepared: "insert_event", insertEvent, events)
        try db.executeBatch(prepared: "insert_recording", insertRecording, recs)
        try db.executeBatch(prepared: "insert_agent_state", insertAgentState, states)
        try db.executeBatch(prepared: "insert_queue_event", insertQueueEvent, queueEvents)
        try db.executeBatch(prepared: "upsert_charge", upsertCharge, charges)
        // After the inserts: a replayed spool holds the call before its wrap-up.
        try db.executeBatch(prepared: "update_wrapup", updateWrapUp, wrapUps)
        try db.executeBatch(prepared: "link_recording", linkRecording, links)
        try db.executeBatch(prepared: "insert_campaign_attempt", insertCampaignAttempt, attempts)
        try db.executeBatch(prepared: "insert_dnc_refusal", insertDNCRefusal, refusals)
        try db.executeBatch(prepared: "update_disposition", updateDisposition, dispositions)
    }
}
