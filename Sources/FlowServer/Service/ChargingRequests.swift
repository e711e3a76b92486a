import Foundation
import Protocol

/// Charging for App-Operate: tariff administration (FlowAdminRequest kind `tariff`, admin role
/// to change, audited), re-rating a period, bills and charge reports (ChargingRequest).
extension FlowService {
    func tariffAdmin(_ m: FlowAdminRequest, _ conn: Connection, _ frame: Frame) {
        let who = operators.loggedIn(conn)?.workCode ?? "?"
        switch m.action {
        case "validate", "publish":
            let tariff: Tariff
            do { tariff = try Tariff.parse(m.source) } catch {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "refused: \(error)"))
                return
            }
            let summary = "effective \(tariff.effectiveFrom), services \(tariff.services.map(\.name).joined(separator: ", ")), \(tariff.freeNumbers.count) free numbers"
            if m.action == "validate" { conn.respond(to: frame, with: FlowAdminResult(text: "ok: tariff \(summary)")); return }
            database(conn, frame) { db in
                let v = try TariffStore.publish(db, source: m.source, tariff: tariff, by: who)
                return FlowAdminResult(text: "published tariff v\(v): \(summary) (calls answered from then on; `app-operate rate` re-rates the past)",
                                       version: UInt32(clamping: v))
            }
        case "list":
            database(conn, frame) { db in FlowAdminResult(text: try TariffStore.list(db)) }
        case "show":
            database(conn, frame) { db in
                guard let (v, source) = try TariffStore.show(db, version: m.version == 0 ? nil : Int(m.version)) else {
                    throw PostgresError(message: "no tariff\(m.version == 0 ? " published" : " v\(m.version)")", sqlState: "P0002")
                }
                return FlowAdminResult(text: "tariff v\(v)\n\(source)", version: UInt32(clamping: v))
            }
        default:
            conn.respond(to: frame, error: ProtocolError(.badMessage, "tariff actions: validate, publish, list, show"))
        }
    }

    func charging(_ m: ChargingRequest, _ conn: Connection, _ frame: Frame) {
        guard m.toMs > m.fromMs, m.toMs - m.fromMs <= 400 * 86_400_000 else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "the range must be positive and at most 400 days"))
            return
        }
        guard (-14 * 3600...14 * 3600).contains(m.utcOffsetSeconds) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "utc offset out of range"))
            return
        }
        let from = String(format: "%.3f", Double(m.fromMs) / 1000), to = String(format: "%.3f", Double(m.toMs) / 1000)
        let who = operators.loggedIn(conn)?.workCode ?? "?"
        switch m.action {
        case "rate":
            database(conn, frame) { db in try Self.rerate(db, from: from, to: to, by: who) }
        case "bill":
            guard !m.caller.isEmpty else { conn.respond(to: frame, error: ProtocolError(.badMessage, "a bill needs the caller number")); return }
            database(conn, frame) { db in try Self.bill(db, caller: m.caller, from: from, to: to, offset: m.utcOffsetSeconds) }
        case "charges":
            let day = "to_char(c.arrived_at AT TIME ZONE 'UTC' + make_interval(secs => $3::float8), 'YYYY-MM-DD')"
            let keys = ["service": "ch.service", "caller": "c.caller", "line": "coalesce(c.line, 'sip')", "queue": "coalesce(c.queue, '-')",
                        "line-day": "coalesce(c.line, 'sip') || ' ' || \(day)",
                        "day": "to_char(c.arrived_at AT TIME ZONE 'UTC' + make_interval(secs => $3::float8), 'YYYY-MM-DD')",
                        "hour": "to_char(c.arrived_at AT TIME ZONE 'UTC' + make_interval(secs => $3::float8), 'YYYY-MM-DD HH24:00')"]
            guard let key = keys[m.grouping] else {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "grouping is service, caller, line, queue, line-day, day or hour"))
                return
            }
            database(conn, frame) { db in
                let rows = try db.execute("""
                    SELECT \(key) AS k, count(*) AS calls, sum(ch.seconds) AS seconds, sum(ch.basic_fen) AS basic, sum(ch.info_fee_fen) AS info, sum(ch.total_fen) AS total
                    FROM calls c JOIN call_charges ch USING (call_id)
                    WHERE c.arrived_at >= to_timestamp($1::float8) AND c.arrived_at < to_timestamp($2::float8) AND $3::float8 IS NOT NULL
                    GROUP BY 1 ORDER BY 1
                    """, [from, to, String(m.utcOffsetSeconds)])
                let table = (0..<rows.count).map { i in ["k", "calls", "seconds", "basic", "info", "total"].map { rows.value(i, $0) ?? "0" } }
                let total = table.reduce(0) { $0 + (Int($1[5]) ?? 0) }
                return ChargingReport(summary: "\(table.reduce(0) { $0 + (Int($1[1]) ?? 0) }) rated calls, \(total) fen",
                                      columns: [m.grouping, "calls", "seconds", "basic_fen", "info_fee_fen", "total_fen"], rows: table)
            }
        default:
            conn.respond(to: frame, error: ProtocolError(.badMessage, "action is rate, bill or charges"))
        }
    }

    /// Re-rates every call that arrived in [from, to) under the tariff versions as they are now:
    /// changed charges are replaced, calls no longer chargeable lose theirs, unchanged ones are
    /// left alone — running it twice changes nothing the second time. Audited.
    public static func rerate(_ db: PostgresConnection, from: String, to: String, by who: String) throws -> ChargingReport {
        let tariffs = try TariffStore.load(db)
        let rows = try db.execute("""
            SELECT c.call_id::text AS id, c.caller, c.called, c.direction, c.flow, c.line, extract(epoch from c.answered_at) AS answered,
                   extract(epoch from c.ended_at) AS ended, c.disposition,
                   ch.tariff_version AS v, ch.service AS s, ch.seconds AS sec, ch.total_fen AS t,
                   (SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C") FROM jsonb_each_text(ch.bands)) AS b
            FROM calls c LEFT JOIN call_charges ch USING (call_id)
            WHERE c.arrived_at >= to_timestamp($1::float8) AND c.arrived_at < to_timestamp($2::float8) AND c.disposition <> 'lost'
            """, [from, to])
        var upserts: [[String?]] = [], removals: [[String?]] = []
        var unchanged = 0, none = 0
        for i in 0..<rows.count {
            guard let id = rows.value(i, "id"), let uuid = UUID(uuidString: id) else { continue }
            let input = Rating.Input(caller: rows.value(i, "caller") ?? "", called: rows.value(i, "called") ?? "", direction: rows.value(i, "direction") ?? "inbound",
                                     flow: rows.value(i, "flow"), line: rows.value(i, "line"), answeredAt: rows.double(i, "answered"),
                                     endedAt: rows.double(i, "ended") ?? 0, disposition: rows.value(i, "disposition") ?? "")
            let had = rows.value(i, "t") != nil
            guard let charge = Rating.rate(input, versions: tariffs) else {
                if had { removals.append([id]) } else { none += 1 }
                continue
            }
            let row = RecordWriter.chargeRow(uuid, charge)
            let same = had && rows.int(i, "v") == charge.tariffVersion && rows.value(i, "s") == charge.service && rows.int(i, "sec") == charge.seconds
                && rows.int(i, "t") == charge.totalFen && (rows.value(i, "b") ?? "") == Self.bandsKey(charge.bands)
            if same { unchanged += 1 } else { upserts.append(row) }
        }
        try db.transaction {
            try db.executeBatch(prepared: "upsert_charge", RecordWriter.upsertCharge, upserts)
            try db.executeBatch(prepared: "delete_charge", "DELETE FROM call_charges WHERE call_id = $1::uuid", removals)
            try TariffStore.audit(db, who: who, action: "rate", version: tariffs.last?.0,
                                  detail: "calls arrived \(from)…\(to): \(upserts.count) changed, \(removals.count) no longer chargeable, \(unchanged) unchanged")
        }
        return ChargingReport(summary: "re-rated \(rows.count) calls: \(upserts.count) changed, \(removals.count) no longer chargeable, \(unchanged) unchanged, \(none) not chargeable",
                              columns: ["changed", "removed", "unchanged", "not_chargeable"],
                              rows: [[String(upserts.count), String(removals.count), String(unchanged), String(none)]])
    }

    /// The units per band as PostgreSQL renders them above (`name=count`, by name, comma-separated).
    static func bandsKey(_ bands: [String: Int]) -> String {
        bands.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// A caller's bill: every rated call in [from, to), oldest first (local time at `offset`).
    static func bill(_ db: PostgresConnection, caller: String, from: String, to: String, offset: Int64) throws -> ChargingReport {
        let rows = try db.execute("""
            SELECT to_char(c.arrived_at AT TIME ZONE 'UTC' + make_interval(secs => $4::float8), 'YYYY-MM-DD HH24:MI:SS') AS at,
                   c.called, ch.service, ch.grade, ch.seconds, ch.units, ch.basic_fen, ch.info_fee_fen, ch.total_fen, c.call_id::text AS id
            FROM calls c JOIN call_charges ch USING (call_id)
            WHERE c.caller = $1 AND c.arrived_at >= to_timestamp($2::float8) AND c.arrived_at < to_timestamp($3::float8)
            ORDER BY c.arrived_at
            """, [caller, from, to, String(offset)])
        let columns = ["at", "called", "service", "grade", "seconds", "units", "basic_fen", "info_fee_fen", "total_fen", "call_id"]
        let table = (0..<rows.count).map { i in columns.map { rows.value(i, $0 == "call_id" ? "id" : $0) ?? "" } }
        let total = table.reduce(0) { $0 + (Int($1[8]) ?? 0) }
        return ChargingReport(summary: "bill for \(caller): \(table.count) calls, \(total) fen", columns: columns, rows: table)
    }
}
