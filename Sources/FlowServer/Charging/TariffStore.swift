import Foundation

/// Tariff versions in PostgreSQL (`tariff_versions`) and the audit of every change.
public enum TariffStore {
    /// Every published version, parsed (a version that no longer parses is skipped and named).
    public static func load(_ db: PostgresConnection) throws -> [(Int, Tariff)] {
        let rows = try db.execute("SELECT version, source FROM tariff_versions ORDER BY version")
        return (0..<rows.count).compactMap { i in
            guard let v = rows.int(i, "version"), let src = rows.value(i, "source"), let t = try? Tariff.parse(src) else { return nil }
            return (v, t)
        }
    }

    /// Publishes `source` (already validated) as the next version; audited.
    public static func publish(_ db: PostgresConnection, source: String, tariff: Tariff, by who: String) throws -> Int {
        try db.transaction {
            _ = try db.execute("LOCK TABLE tariff_versions IN EXCLUSIVE MODE")
            let next = (try db.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM tariff_versions").int(0, "v")) ?? 1
            _ = try db.execute("INSERT INTO tariff_versions (version, effective_from, source, published_by) VALUES ($1::int, $2::date, $3, $4)",
                               [String(next), tariff.effectiveFrom, source, who])
            _ = try db.execute("INSERT INTO tariff_audit (operator, action, version, detail) VALUES ($1, 'publish', $2::int, $3)",
                               [who, String(next), "effective \(tariff.effectiveFrom), \(tariff.services.count) services"])
            return next
        }
    }

    static func audit(_ db: PostgresConnection, who: String, action: String, version: Int?, detail: String) throws {
        _ = try db.execute("INSERT INTO tariff_audit (operator, action, version, detail) VALUES ($1, $2, $3::int, $4)",
                           [who, action, version.map { String($0) }, detail])
    }

    static func list(_ db: PostgresConnection) throws -> String {
        let rows = try db.execute("SELECT version, effective_from::text AS eff, published_by, to_char(published_at, 'YYYY-MM-DD HH24:MI') AS at FROM tariff_versions ORDER BY version")
        guard rows.count > 0 else { return "no tariff published" }
        return (0..<rows.count).map { "v\(rows.value($0, "version") ?? "")  effective \(rows.value($0, "eff") ?? "")  by \(rows.value($0, "published_by") ?? "") at \(rows.value($0, "at") ?? "")" }
            .joined(separator: "\n")
    }

    static func show(_ db: PostgresConnection, version: Int?) throws -> (Int, String)? {
        let rows = version.map { try? db.execute("SELECT version, source FROM tariff_versions WHERE version = $1::int", [String($0)]) }
            ?? (try? db.execute("SELECT version, source FROM tariff_versions ORDER BY version DESC LIMIT 1"))
        guard let rows, rows.count > 0, let v = rows.int(0, "version"), let s = rows.value(0, "source") else { return nil }
        return (v, s)
    }
}
