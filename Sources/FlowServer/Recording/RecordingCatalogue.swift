import Foundation
import Protocol

/// The recording catalogue in PostgreSQL: finding recordings, the audit of every play,
/// download and delete, supervisors' scores, the quality report and the retention run.
/// Parameterised SQL only; the caller runs it off the loop.
public enum RecordingCatalogue {
    struct Row {
        var id: Int64
        var path: String
        var sizeBytes: UInt64
        var sha256: String
        var agents: [String]
        var callID: String?
    }

    static let columns = ["id", "started", "duration_s", "caller", "called", "queue", "agents", "channels", "bytes", "sha256", "pauses", "started_by", "call", "file"]

    /// Recordings that started in [from, to) (Unix seconds), filtered; `agent` matches the
    /// recording's agents or its call's agent. What the row lacks (a recording catalogued by a
    /// Flow-Server that adopted the call after it ended) comes from the call's record.
    static func find(_ db: PostgresConnection, from: Double, to: Double, agent: String, caller: String, queue: String, call: String, limit: Int) throws -> [[String]] {
        let rows = try db.execute("""
            SELECT r.id, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started,
                   round(r.duration_ms / 1000.0, 2) AS duration_s, coalesce(nullif(r.caller, ''), c.caller, '') AS caller,
                   coalesce(nullif(r.called, ''), c.called, '') AS called, coalesce(r.queue, c.queue, '') AS queue,
                   CASE WHEN cardinality(r.agents) > 0 THEN array_to_string(r.agents, ',') ELSE coalesce(c.agent, '') END AS agents,
                   r.channels, r.size_bytes, coalesce(r.sha256, '') AS sha256,
                   r.pauses::text AS pauses, coalesce(r.started_by, '') AS started_by, coalesce(r.call_id::text, '') AS call, r.path
            FROM recordings r LEFT JOIN calls c ON c.call_id = r.call_id
            WHERE r.started_at >= to_timestamp($1::float8) AND r.started_at < to_timestamp($2::float8)
              AND ($3 = '' OR $3 = ANY (r.agents) OR c.agent = $3)
              AND ($4 = '' OR coalesce(nullif(r.caller, ''), c.caller) = $4) AND ($5 = '' OR coalesce(r.queue, c.queue) = $5)
              AND ($6 = '' OR r.call_id::text = lower($6))
            ORDER BY r.started_at, r.id LIMIT $7::int
            """, [String(from), String(to), agent, caller, queue, call, String(limit)])
        let names = ["id", "started", "duration_s", "caller", "called", "queue", "agents", "channels", "size_bytes", "sha256", "pauses", "started_by", "call", "path"]
        return (0..<rows.count).map { i in names.map { rows.value(i, $0) ?? "" } }
    }

    static func get(_ db: PostgresConnection, id: Int64) throws -> Row? {
        let rows = try db.execute("""
            SELECT r.id, r.path, r.size_bytes, coalesce(r.sha256, '') AS sha256, array_to_string(r.agents, ',') AS agents, r.call_id::text AS call,
                   (SELECT c.agent FROM calls c WHERE c.call_id = r.call_id) AS call_agent
            FROM recordings r WHERE r.id = $1::bigint
            """, [String(id)])
        guard rows.count == 1 else { return nil }
        var agents = (rows.value(0, "agents") ?? "").split(separator: ",").map(String.init)
        if let a = rows.value(0, "call_agent"), !a.isEmpty, !agents.contains(a) { agents.append(a) }
        return Row(id: id, path: rows.value(0, "path") ?? "", sizeBytes: UInt64(rows.value(0, "size_bytes") ?? "") ?? 0, sha256: rows.value(0, "sha256") ?? "",
                   agents: agents, callID: rows.value(0, "call"))
    }

    static func audit(_ db: PostgresConnection, operator op: String, role: String, action: String, id: Int64?, path: String?, outcome: String) throws {
        _ = try db.execute("INSERT INTO recording_audit (operator, role, action, recording, path, outcome) VALUES ($1, $2, $3, $4::bigint, $5, $6)",
                           [op, role, action, id.map { String($0) }, path, outcome])
    }

    /// Deletes a recording's file (and its sidecar) and its row; "missing" when the file was gone.
    static func delete(_ db: PostgresConnection, _ r: Row, directory: String) throws -> String {
        let file = (directory as NSString).appendingPathComponent(r.path)
        let existed = FileManager.default.fileExists(atPath: file)
        if existed { try FileManager.default.removeItem(atPath: file) }
        try? FileManager.default.removeItem(atPath: file + ".json")
        _ = try db.execute("DELETE FROM recordings WHERE id = $1::bigint", [String(r.id)])
        _ = try db.execute("UPDATE calls SET recording = NULL WHERE recording = $1", [r.path])
        return existed ? "done" : "missing"
    }

    /// Deletes every recording that started more than `days` days ago (files and rows), under an
    /// advisory lock so that one Flow-Server of several does it; returns what it deleted.
    static func purge(_ db: PostgresConnection, days: Int, directory: String, by op: String) throws -> (count: Int, bytes: UInt64, paths: [String]) {
        let lock = try db.execute("SELECT pg_try_advisory_lock(72531015) AS got")
        guard lock.value(0, "got") == "t" else { return (0, 0, []) }
        defer { _ = try? db.execute("SELECT pg_advisory_unlock(72531015)") }
        let rows = try db.execute("""
            SELECT id, path, size_bytes FROM recordings WHERE started_at < now() - make_interval(days => $1::int) ORDER BY started_at LIMIT 100000
            """, [String(days)])
        var paths: [String] = [], bytes: UInt64 = 0
        for i in 0..<rows.count {
            guard let id = Int64(rows.value(i, "id") ?? ""), let path = rows.value(i, "path") else { continue }
            let row = Row(id: id, path: path, sizeBytes: UInt64(rows.value(i, "size_bytes") ?? "") ?? 0, sha256: "", agents: [], callID: nil)
            let outcome = try delete(db, row, directory: directory)
            try audit(db, operator: op, role: "retention", action: "retention", id: id, path: path, outcome: outcome)
            paths.append(path)
            bytes += row.sizeBytes
        }
        return (paths.count, bytes, paths)
    }

    static func score(_ db: PostgresConnection, _ r: Row, scorer: String, score: Int, comment: String) throws {
        _ = try db.execute("""
            INSERT INTO recording_scores (recording, call_id, agent, scorer, score, comment) VALUES ($1::bigint, $2::uuid, $3, $4, $5::smallint, $6)
            """, [String(r.id), r.callID, r.agents.first, scorer, String(score), comment])
    }

    /// CSAT (post-call survey, 1–5) by agent and by queue for calls that arrived in [from, to),
    /// and supervisors' average score per agent for scores given then.
    static func report(_ db: PostgresConnection, from: Double, to: Double) throws -> [[String]] {
        let rows = try db.execute("""
            WITH c AS (SELECT agent, queue, csat FROM calls
                       WHERE arrived_at >= to_timestamp($1::float8) AND arrived_at < to_timestamp($2::float8) AND csat IS NOT NULL),
                 s AS (SELECT agent, score FROM recording_scores WHERE at >= to_timestamp($1::float8) AND at < to_timestamp($2::float8))
            SELECT 'agent' AS by, k AS name, sum(n) AS surveys, round(sum(tot)::numeric / nullif(sum(n), 0), 2) AS csat,
                   sum(sn) AS scored, round(sum(stot)::numeric / nullif(sum(sn), 0), 1) AS score
            FROM (SELECT coalesce(agent, '-') AS k, count(*) AS n, sum(csat) AS tot, 0 AS sn, 0 AS stot FROM c GROUP BY 1
                  UNION ALL SELECT coalesce(agent, '-'), 0, 0, count(*), sum(score) FROM s GROUP BY 1) x GROUP BY k
            UNION ALL
            SELECT 'queue', coalesce(queue, '-'), count(*), round(avg(csat), 2), 0, NULL FROM c GROUP BY 2
            ORDER BY 1, 2
            """, [String(from), String(to)])
        return (0..<rows.count).map { i in ["by", "name", "surveys", "csat", "scored", "score"].map { rows.value(i, $0) ?? "" } }
    }
}

extension RecordingCatalogue {
    /// Catalogues every recording under `directory` whose sidecar has no row yet (a RecordDone
    /// that reached no Flow-Server, or a folder restored without its rows). Rows already there
    /// are left as they are. Returns (sidecars found, rows added, sidecars unreadable).
    public static func importSidecars(_ db: PostgresConnection, directory: String) throws -> (found: Int, added: Int, bad: [String]) {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return (0, 0, []) }
        var found = 0, added = 0, bad: [String] = []
        for case let url as URL in walker where url.lastPathComponent.hasSuffix(".wav.json") {
            found += 1
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count).drop { $0 == "/" }.dropLast(5))
            guard let data = try? Data(contentsOf: url), let car = try? JSONDecoder().decode(RecordingSidecar.self, from: data) else {
                bad.append(relative + ".json")
                continue
            }
            guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(relative)) else { continue }
            let pauses = "[" + car.pauses.split(separator: ",").compactMap { span -> String? in
                let p = span.split(separator: "-").compactMap { Int($0) }
                return p.count == 2 ? "[\(p[0]),\(p[1])]" : nil
            }.joined(separator: ",") + "]"
            let rows = try db.execute("""
                INSERT INTO recordings (path, call_id, channel_id, started_at, duration_ms, reason, caller, called, channels, size_bytes, sha256, pauses, started_by)
                VALUES ($1, $2::uuid, $3, to_timestamp($4::float8), $5::int, $6, $7, $8, $9::smallint, $10::bigint, $11, $12::jsonb, $13)
                ON CONFLICT DO NOTHING RETURNING path
                """, [relative, UUID(uuidString: car.callID)?.uuidString, car.channelID, String(Double(car.startedAtMs) / 1000), String(car.durationMs), car.reason,
                      car.caller, car.called, String(car.channels), String(car.sizeBytes), car.sha256, pauses, car.startedBy])
            if rows.count == 1 {
                added += 1
                _ = try db.execute("UPDATE calls SET recording = $1 WHERE call_id = $2::uuid AND recording IS NULL", [relative, UUID(uuidString: car.callID)?.uuidString])
            }
        }
        return (found, added, bad)
    }
}
