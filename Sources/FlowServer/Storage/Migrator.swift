import Foundation
import Logging

/// Schema migrations: numbered SQL files (`NNN_name.sql`, shipped as resources) applied in
/// order at start, each in its own transaction, under a PostgreSQL advisory lock so that two
/// Flow-Servers starting together do not race. Applied versions are recorded with the file's
/// checksum; a shipped file that was edited afterwards is refused.
public struct Migrator {
    /// Checksums of earlier texts of a shipped migration that differ from today's in comment
    /// lines only: a database migrated with them is not "edited". 002: its comment pointed at a
    /// file outside the repository (2026-12-02).
    static let commentOnlyEdits: [Int: Set<String>] = [2: ["e79e163bc9b24523"]]

    public struct Migration: Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public var checksum: String { String(Self.fnv(sql), radix: 16) }
        static func fnv(_ s: String) -> UInt64 {
            var h: UInt64 = 0xcbf29ce484222325
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
            return h
        }
    }

    public enum MigrationError: Error, CustomStringConvertible {
        case edited(version: Int, name: String)
        case badFile(String)
        public var description: String {
            switch self {
            case .edited(let v, let n): return "migration \(v) (\(n)) was changed after it was applied; add a new migration instead"
            case .badFile(let f): return "migration file \(f) must be named NNN_name.sql"
            }
        }
    }

    /// An arbitrary constant that identifies Hotline's migration lock.
    static let lockKey = "7305129938710001"

    public let migrations: [Migration]

    public init(migrations: [Migration]) { self.migrations = migrations.sorted { $0.version < $1.version } }

    /// The migrations shipped with the Flow-Server.
    public static func bundled() throws -> Migrator {
        guard let dir = Bundle.module.url(forResource: "Migrations", withExtension: nil) else { throw MigrationError.badFile("Migrations (resource folder missing)") }
        return try Migrator(directory: dir)
    }

    public init(directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        var list: [Migration] = []
        for f in files {
            let parts = f.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let v = Int(parts[0]) else { throw MigrationError.badFile(f) }
            list.append(Migration(version: v, name: String(parts[1].dropLast(4)), sql: try String(contentsOf: directory.appendingPathComponent(f), encoding: .utf8)))
        }
        self.init(migrations: list)
    }

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    public func migrate(_ db: PostgresConnection, logger: Logger? = nil) throws -> [Int] {
        try db.execute("SELECT pg_advisory_lock($1::bigint)", [Self.lockKey])
        defer { _ = try? db.execute("SELECT pg_advisory_unlock($1::bigint)", [Self.lockKey]) }
        try db.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let done = try db.execute("SELECT version, name, checksum FROM schema_migrations")
        var applied: [Int: String] = [:]
        for i in 0..<done.count { if let v = done.int(i, "version") { applied[v] = done.value(i, "checksum") } }
        var now: [Int] = []
        for m in migrations {
            if let sum = applied[m.version] {
                guard sum == m.checksum || Self.commentOnlyEdits[m.version]?.contains(sum) == true else {
                    throw MigrationError.edited(version: m.version, name: m.name)
                }
                continue
            }
            try db.transaction {
                try db.executeScript(m.sql)
                try db.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [String(m.version), m.name, m.checksum])
            }
            logger?.notice("database: applied migration \(m.version) \(m.name)")
            now.append(m.version)
        }
        return now
    }
}
