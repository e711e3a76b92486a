import CLibPQ
import Foundation

public struct PostgresError: Error, CustomStringConvertible, Equatable {
    /// libpq's text on one line (its messages span several, which broke the log's one line per event).
    public let message: String
    public init(message: String, sqlState: String) {
        self.message = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: " | ")
        self.sqlState = sqlState
    }
    /// The five-character SQLSTATE ("23505" unique violation …), empty for connection errors.
    public let sqlState: String
    public var description: String { sqlState.isEmpty ? message : "\(message) [\(sqlState)]" }
    /// The connection itself failed (server down, socket closed): retry later.
    public var isConnectionError: Bool { sqlState.isEmpty || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") }
}

/// The rows of a result, read as text (libpq's text format).
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    public let affected: Int

    public var count: Int { rows.count }
    public func value(_ row: Int, _ column: String) -> String? {
        guard let c = columns.firstIndex(of: column) else { return nil }
        return rows[row][c]
    }
    public func int(_ row: Int, _ column: String) -> Int? { value(row, column).flatMap { Int($0) } }
    public func double(_ row: Int, _ column: String) -> Double? { value(row, column).flatMap { Double($0) } }
}

/// One libpq connection with parameterised statements only: values always travel as
/// parameters ($1, $2 …), never inside the SQL text. Not thread-safe: one owner at a time
/// (the record writer's thread, or a request's).
public final class PostgresConnection {
    public let url: String
    private var conn: OpaquePointer?
    private var prepared: Set<String> = []

    /// `url` is a libpq connection string or `postgresql://` URL; empty uses the PG* environment.
    public init(url: String) throws {
        self.url = url
        try connect()
    }

    deinit { if let conn { PQfinish(conn) } }

    private func connect() throws {
        if let conn { PQfinish(conn) }
        prepared.removeAll()
        conn = PQconnectdb(url)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let msg = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw PostgresError(message: "cannot connect: \(msg.trimmingCharacters(in: .whitespacesAndNewlines))", sqlState: "")
        }
        _ = try? execute("SET application_name = 'hotline-flow-server'")
    }

    public var isConnected: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Reconnects if the connection was lost.
    public func ensureConnected() throws {
        if !isConnected { try connect() }
    }

    private func check(_ res: OpaquePointer?) throws -> PostgresRows {
        guard let res else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: "") }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_PIPELINE_SYNC:
            let nf = Int(PQnfields(res)), nt = Int(PQntuples(res))
            let columns = (0..<nf).map { String(cString: PQfname(res, Int32($0))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(nt)
            for r in 0..<nt {
                rows.append((0..<nf).map { c in
                    PQgetisnull(res, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(res, Int32(r), Int32(c)))
                })
            }
            return PostgresRows(columns: columns, rows: rows, affected: Int(String(cString: PQcmdTuples(res))) ?? 0)
        default:
            let state = PQresultErrorField(res, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let msg = String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(message: msg.isEmpty ? String(cString: PQerrorMessage(conn)) : msg, sqlState: state)
        }
    }

    private func withParams<R>(_ params: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = params.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) })
    }

    /// Runs one statement with parameters ($1 …) and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ params: [String?] = []) throws -> PostgresRows {
        guard let conn else { throw PostgresError(message: "not connected", sqlState: "") }
        return try check(withParams(params) { p in PQexecParams(conn, sql, Int32(p.count), nil, p, nil, nil, 0) })
    }

    /// Runs a script of several statements with no parameters (PQexec). Only for SQL that
    /// ships with Hotline (migrations); anything carrying a value uses `execute(_:_:)`.
    public func executeScript(_ sql: String) throws {
        guard let conn else { throw PostgresError(message: "not connected", sqlState: "") }
        _ = try check(PQexec(conn, sql))
    }

    /// Runs a named prepared statement, preparing it on first use on this connection.
    @discardableResult
    public func execute(prepared name: String, _ sql: String, _ params: [String?]) throws -> PostgresRows {
        guard let conn else { throw PostgresError(message: "not connected", sqlState: "") }
        if !prepared.contains(name) {
            _ = try check(PQprepare(conn, name, sql, Int32(params.count), nil))
            prepared.insert(name)
        }
        return try check(withParams(params) { p in PQexecPrepared(conn, name, Int32(p.count), p, nil, nil, 0) })
    }

    /// Runs many executions of one prepared statement in libpq's pipeline mode: one round trip
    /// for the whole batch instead of one per row. Call inside a transaction for atomicity.
    public func executeBatch(prepared name: String, _ sql: String, _ rows: [[String?]]) throws {
        guard let conn else { throw PostgresError(message: "not connected", sqlState: "") }
        guard !rows.isEmpty else { return }
        if !prepared.contains(name) {
            _ = try check(PQprepare(conn, name, sql, Int32(rows[0].count), nil))
            prepared.insert(name)
        }
        guard PQenterPipelineMode(conn) == 1 else { throw PostgresError(message: "cannot enter pipeline mode", sqlState: "") }
        defer { _ = PQexitPipelineMode(conn) }
        for params in rows {
            let ok = withParams(params) { p in PQsendQueryPrepared(conn, name, Int32(p.count), p, nil, nil, 0) }
            guard ok == 1 else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: "") }
        }
        guard PQpipelineSync(conn) == 1 else { throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: "") }
        var firstError: PostgresError?
        // Each query's result is followed by a NULL; the sync point ends the batch.
        var nulls = 0
        while true {
            guard let res = PQgetResult(conn) else {
                nulls += 1
                if nulls > rows.count + 1 || PQstatus(conn) != CONNECTION_OK {
                    throw PostgresError(message: "pipeline ended early: \(String(cString: PQerrorMessage(conn)))", sqlState: "")
                }
                continue
            }
            let status = PQresultStatus(res)
            if status == PGRES_PIPELINE_SYNC { PQclear(res); break }
            do { _ = try check(res) } catch let e as PostgresError { if firstError == nil { firstError = e } }
            if PQstatus(conn) != CONNECTION_OK { break }
        }
        if let firstError { throw firstError }
    }

    /// BEGIN … COMMIT around `body`; ROLLBACK if it throws.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// LISTEN on a channel (identifier checked: letters, digits, underscore).
    public func listen(_ channel: String) throws {
        guard !channel.isEmpty, channel.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw PostgresError(message: "bad channel name", sqlState: "")
        }
        try execute("LISTEN \(channel)")
    }

    /// Notifications received so far (call after a query, or after `waitForNotification`).
    public func notifications() -> [(channel: String, payload: String)] {
        guard let conn else { return [] }
        _ = PQconsumeInput(conn)
        var out: [(String, String)] = []
        while let n = PQnotifies(conn) {
            out.append((String(cString: n.pointee.relname), String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    /// Waits up to `ms` for input on the connection's socket (for LISTEN).
    public func waitForNotification(ms: Int32) -> [(channel: String, payload: String)] {
        guard let conn else { return [] }
        var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, ms)
        return notifications()
    }
}

extension PostgresConnection {
    /// Whether libpq can read `conninfo` (a URL or key=value pairs) — without connecting.
    public static func parses(_ conninfo: String) -> Bool {
        var err: UnsafeMutablePointer<CChar>?
        guard let opts = PQconninfoParse(conninfo, &err) else {
            if let err { PQfreemem(err) }
            return false
        }
        PQconninfoFree(opts)
        return true
    }
}
