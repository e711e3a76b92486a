import Foundation
import Protocol

/// Scheduled calls (docs/operations.md, "Scheduled calls"): stored in PostgreSQL by a flow's
/// schedule node or App-Operate; every second each Flow-Server claims the due ones (FOR UPDATE
/// SKIP LOCKED: each is placed once) and places them, running their flow once answered. A call
/// not answered is tried again 5 minutes later, three times in all. A Flow-Server that restarts
/// puts back the calls it was placing.
extension FlowService {
    static let scheduleRetrySeconds = 300.0
    static let scheduleAttempts = 3

    func storeScheduledCall(to: String, due: Double, flow: String, variables: [String: String], by: String, callerID: String = "",
                            done: @escaping (Result<Int64, Error>) -> Void) {
        guard let url = databaseURL else { done(.failure(PostgresError(message: "no database configured", sqlState: "P0002"))); return }
        let vars = (try? JSONSerialization.data(withJSONObject: variables, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db -> Int64 in
                let rows = try db.execute("""
                    INSERT INTO scheduled_calls (number, due_at, flow, variables, caller_id, created_by) VALUES ($1, to_timestamp($2::float8), $3, $4::jsonb, $5, $6)
                    RETURNING id
                    """, [to, String(due), flow, vars, callerID, by])
                return Int64(rows.value(0, "id") ?? "") ?? 0
            }
            self.loop.execute {
                if case .success(let id) = r { self.logger.info("scheduled call \(id): \(to) at \(Date(timeIntervalSince1970: due)) runs \(flow)") }
                done(r)
            }
        }
    }

    /// At start: this server's calls left half-placed go back to pending; then the poll.
    func startScheduledCalls() {
        flowCalls?.schedule = { [weak self] to, due, flow, vars, by, done in
            guard let self else { return }
            guard CallList.normalise(to) != nil, self.flowCalls?.library.flow(named: flow) != nil else { done(false); return }
            self.storeScheduledCall(to: to, due: due, flow: flow, variables: vars, by: by) { done((try? $0.get()) != nil) }
        }
        guard let url = databaseURL else { return }
        let me = name
        queries.async { [weak self] in
            _ = self?.withQueryConnection(url) { db in
                try db.execute("UPDATE scheduled_calls SET state = 'pending' WHERE state = 'dialling' AND owner = $1", [me])
            }
        }
        scheduleScheduledPoll()
    }

    private func scheduleScheduledPoll() {
        _ = loop.schedule(afterMilliseconds: 1000) { [weak self] in
            self?.pollScheduledCalls()
            self?.scheduleScheduledPoll()
        }
    }

    /// Claims the due calls and places them.
    func pollScheduledCalls() {
        guard let url = databaseURL, let ct = ctLink.connection, ct.isEstablished, flowCalls != nil else { return }
        let me = name
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db in
                try db.execute("""
                    UPDATE scheduled_calls SET state = 'dialling', owner = $1, attempts = attempts + 1
                    WHERE id IN (SELECT id FROM scheduled_calls WHERE state = 'pending' AND due_at <= now() ORDER BY due_at LIMIT 20 FOR UPDATE SKIP LOCKED)
                    RETURNING id, number, flow, variables, caller_id, attempts
                    """, [me])
            }
            guard case .success(let rows) = r, rows.count > 0 else { return }
            self.loop.execute {
                for i in 0..<rows.count {
                    let id = rows.value(i, "id") ?? "0", number = rows.value(i, "number") ?? "", flow = rows.value(i, "flow") ?? ""
                    let attempts = Int(rows.value(i, "attempts") ?? "") ?? 1
                    let vars = (rows.value(i, "variables").flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }) ?? [:]
                    let callerID = rows.value(i, "caller_id").flatMap { $0.isEmpty ? nil : $0 } ?? "scheduled"
                    self.logger.info("scheduled call \(id): placing \(number) (attempt \(attempts)), flow \(flow)")
                    self.flowCalls?.placeCall(to: number, callerID: callerID, flow: flow, variables: vars.merging(["scheduled_call": id]) { a, _ in a }, conn: ct) { r in
                        switch r {
                        case .success(let ch):
                            self.scheduledChannels[ch] = (id, attempts)
                            self.scheduledUpdate(id, "UPDATE scheduled_calls SET channel = $2 WHERE id = $1::bigint", [ch])
                        case .failure(let e):
                            self.scheduledEnded(id, attempts: attempts, answered: false, outcome: e.reason)
                        }
                    }
                }
            }
        }
    }

    /// A scheduled call's channel answered or ended.
    func scheduledChannelEvent(_ e: ChannelEvent) {
        guard let (id, attempts) = scheduledChannels[e.channelID] else { return }
        switch e.kind {
        case .established:
            scheduledChannels[e.channelID] = nil
            scheduledEnded(id, attempts: attempts, answered: true, outcome: "answered")
        case .cleared, .failed:
            scheduledChannels[e.channelID] = nil
            scheduledEnded(id, attempts: attempts, answered: false, outcome: e.cause.isEmpty ? "not answered" : e.cause)
        default:
            break
        }
    }

    private func scheduledEnded(_ id: String, attempts: Int, answered: Bool, outcome: String) {
        if answered {
            scheduledUpdate(id, "UPDATE scheduled_calls SET state = 'answered', outcome = $2, done_at = now() WHERE id = $1::bigint", [outcome])
        } else if attempts < Self.scheduleAttempts {
            scheduledUpdate(id, "UPDATE scheduled_calls SET state = 'pending', outcome = $2, due_at = now() + make_interval(secs => $3::float8) WHERE id = $1::bigint AND state = 'dialling'",
                            [outcome, String(Self.scheduleRetrySeconds)])
        } else {
            scheduledUpdate(id, "UPDATE scheduled_calls SET state = 'failed', outcome = $2, done_at = now() WHERE id = $1::bigint", [outcome])
        }
        logger.info("scheduled call \(id): \(answered ? "answered" : "not answered (\(outcome))")")
    }

    private func scheduledUpdate(_ id: String, _ sql: String, _ params: [String?]) {
        guard let url = databaseURL else { return }
        queries.async { [weak self] in
            guard let self else { return }
            if case .failure(let e) = self.withQueryConnection(url, { db in try db.execute(sql, [id] + params) }) {
                self.logger.warning("scheduled call \(id): not updated: \(e)")
            }
        }
    }

    /// CampaignRequest `schedule-add` (number, at or in_seconds, flow, var.NAME…), `schedule-list`, `schedule-cancel` (id).
    func scheduleRequest(_ m: CampaignRequest, _ conn: Connection, _ frame: Frame) {
        let args = m.arguments
        let fail = { (why: String) -> Void in _ = conn.respond(to: frame, error: ProtocolError(.badMessage, why)) }
        switch m.action {
        case "schedule-add":
            guard let number = args["number"].flatMap(CallList.normalise) else { fail("schedule-add needs number="); return }
            guard let flow = args["flow"], flowCalls?.library.flow(named: flow) != nil else { fail("schedule-add needs flow= (a published flow)"); return }
            let now = Date().timeIntervalSince1970
            let due: Double
            if let s = args["in_seconds"] {
                guard let n = Double(s), n >= 0, n <= 31_536_000 else { fail("in_seconds is 0 to 31536000"); return }
                due = now + n
            } else if let at = args["at"], let t = ScheduleTime.parse(at, now: now, timeZone: .current) {
                due = t
            } else { fail("schedule-add needs at= (HH:MM or YYYY-MM-DDTHH:MM) or in_seconds="); return }
            var vars: [String: String] = [:]
            for (k, v) in args where k.hasPrefix("var.") { vars[String(k.dropFirst(4))] = v }
            storeScheduledCall(to: number, due: due, flow: flow, variables: vars, by: operators.loggedIn(conn)?.workCode ?? "", callerID: args["caller_id"] ?? "") { r in
                switch r {
                case .success(let id): conn.respond(to: frame, with: CampaignReply(summary: "scheduled call \(id): \(number) at \(Date(timeIntervalSince1970: due)), flow \(flow)"))
                case .failure(let e): fail("\(e)")
                }
            }
        case "schedule-list":
            let columns = ["id", "number", "due", "flow", "state", "attempts", "outcome", "created_by"]
            database(conn, frame) { db in
                let r = try db.execute("""
                    SELECT id, number, to_char(due_at, 'YYYY-MM-DD HH24:MI:SS') AS due, flow, state, attempts, coalesce(outcome, '') AS outcome, created_by
                    FROM scheduled_calls WHERE state IN ('pending', 'dialling') OR done_at > now() - interval '1 day' ORDER BY due_at LIMIT 10000
                    """)
                return CampaignReply(summary: "\(r.count) scheduled calls", columns: columns, rows: (0..<r.count).map { i in columns.map { r.value(i, $0) ?? "" } })
            }
        case "schedule-cancel":
            guard let id = args["id"].flatMap(Int64.init) else { fail("schedule-cancel needs id="); return }
            database(conn, frame) { db in
                let r = try db.execute("UPDATE scheduled_calls SET state = 'cancelled', done_at = now() WHERE id = $1::bigint AND state = 'pending' RETURNING id", [String(id)])
                guard r.count == 1 else { throw PostgresError(message: "no pending scheduled call \(id)", sqlState: "P0002") }
                return CampaignReply(summary: "scheduled call \(id) cancelled")
            }
        default:
            fail("unknown action \(m.action)")
        }
    }
}
