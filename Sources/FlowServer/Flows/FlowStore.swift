import Foundation

/// Published flows and mapping tables in PostgreSQL: every publish is a new version; one is
/// current per flow; a rollback makes an earlier one current again. Every Flow-Server reads the
/// current versions (and hears about changes), so publishing once reaches them all.
public enum FlowStore {
    public struct Published: Sendable, Equatable {
        public var name: String
        public var version: Int
        public var source: String
        public var publishedAt: Double
    }

    static let mappingName = "main"

    private static func tables(_ mapping: Bool) -> (head: String, versions: String, key: String) {
        mapping ? ("mapping_tables", "mapping_versions", "mapping") : ("flows", "flow_versions", "flow")
    }

    /// Stores `source` as the next version of `name` and makes it current; returns the version.
    public static func publish(_ db: PostgresConnection, name: String, source: String, by: String, mapping: Bool = false) throws -> Int {
        let t = tables(mapping)
        return try db.transaction {
            try db.execute("INSERT INTO \(t.head) (name) VALUES ($1) ON CONFLICT DO NOTHING", [name])
            try db.execute("SELECT 1 FROM \(t.head) WHERE name = $1 FOR UPDATE", [name])
            // Publishing what is already current (two Flow-Servers starting on the same folder) is a no-op.
            let cur = try db.execute("SELECT v.version, v.source FROM \(t.head) h JOIN \(t.versions) v ON v.\(t.key) = h.name AND v.version = h.current_version WHERE h.name = $1", [name])
            if cur.count == 1, cur.value(0, "source") == source, let v = cur.int(0, "version") { return v }
            let v = try db.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM \(t.versions) WHERE \(t.key) = $1", [name]).int(0, "v") ?? 1
            if mapping {
                try db.execute("INSERT INTO mapping_versions (mapping, version, source, published_by) VALUES ($1, $2::int, $3, $4)", [name, String(v), source, by])
            } else {
                try db.execute("INSERT INTO flow_versions (flow, version, source, checksum, published_by) VALUES ($1, $2::int, $3, $4, $5)",
                               [name, String(v), source, String(Migrator.Migration.fnv(source), radix: 16), by])
            }
            try db.execute("UPDATE \(t.head) SET current_version = $2::int WHERE name = $1", [name, String(v)])
            try db.execute("SELECT pg_notify('hotline_flows', $1)", ["\(t.key) \(name) v\(v)"])
            return v
        }
    }

    public static func rollback(_ db: PostgresConnection, name: String, version: Int, mapping: Bool = false) throws {
        let t = tables(mapping)
        try db.transaction {
            let n = try db.execute("SELECT 1 FROM \(t.versions) WHERE \(t.key) = $1 AND version = $2::int", [name, String(version)]).count
            guard n == 1 else { throw PostgresError(message: "\(t.key) \(name) has no version \(version)", sqlState: "P0002") }
            try db.execute("UPDATE \(t.head) SET current_version = $2::int WHERE name = $1", [name, String(version)])
            try db.execute("SELECT pg_notify('hotline_flows', $1)", ["\(t.key) \(name) rolled back to v\(version)"])
        }
    }

    /// The current version of every flow (or of the mapping table).
    public static func current(_ db: PostgresConnection, mapping: Bool = false) throws -> [Published] {
        let t = tables(mapping)
        let r = try db.execute("""
            SELECT h.name, v.version, v.source, extract(epoch from v.published_at) AS at
            FROM \(t.head) h JOIN \(t.versions) v ON v.\(t.key) = h.name AND v.version = h.current_version ORDER BY h.name
            """)
        return (0..<r.count).map { Published(name: r.value($0, "name") ?? "", version: r.int($0, "version") ?? 0, source: r.value($0, "source") ?? "",
                                             publishedAt: r.double($0, "at") ?? 0) }
    }

    public static func version(_ db: PostgresConnection, name: String, version: Int?, mapping: Bool = false) throws -> Published? {
        let t = tables(mapping)
        let r = try db.execute("""
            SELECT v.version, v.source, extract(epoch from v.published_at) AS at FROM \(t.versions) v JOIN \(t.head) h ON h.name = v.\(t.key)
            WHERE v.\(t.key) = $1 AND v.version = coalesce($2::int, h.current_version)
            """, [name, version.map { String($0) }])
        guard r.count == 1 else { return nil }
        return Published(name: name, version: r.int(0, "version") ?? 0, source: r.value(0, "source") ?? "", publishedAt: r.double(0, "at") ?? 0)
    }

    /// name, current version, number of versions, when the current one was published.
    public static func list(_ db: PostgresConnection, mapping: Bool = false) throws -> [(String, Int, Int, Double)] {
        let t = tables(mapping)
        let r = try db.execute("""
            SELECT h.name, h.current_version AS cur, count(v.version) AS n,
                   extract(epoch from max(v.published_at) FILTER (WHERE v.version = h.current_version)) AS at
            FROM \(t.head) h JOIN \(t.versions) v ON v.\(t.key) = h.name GROUP BY h.name, h.current_version ORDER BY h.name
            """)
        return (0..<r.count).map { (r.value($0, "name") ?? "", r.int($0, "cur") ?? 0, r.int($0, "n") ?? 0, r.double($0, "at") ?? 0) }
    }
}
