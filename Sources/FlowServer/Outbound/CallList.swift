import Foundation

/// A campaign's call list as imported from CSV (RFC 4180: a header row, quoted fields with
/// doubled quotes, CRLF or LF). The header names the columns: `number` is required; `timezone`
/// (an IANA name, e.g. Asia/Shanghai) sets the callee's local time for calling windows; every
/// other column is a customer field the agent sees. Every bad row is reported with its line and
/// reason, and a list with any bad row is refused whole — nothing is half-imported.
public struct CallListEntry: Sendable, Equatable {
    public var line: Int
    public var number: String
    public var timezone: String?
    public var fields: [String: String]
    public init(line: Int, number: String, timezone: String? = nil, fields: [String: String] = [:]) {
        self.line = line
        self.number = number
        self.timezone = timezone
        self.fields = fields
    }
}

public struct CallListError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

/// A refused list: every bad row found, by line.
public struct CallListRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [CallListError]
    public init(_ errors: [CallListError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

public enum CallList {
    public static let maxRows = 1_000_000
    public static let maxFieldLength = 1024

    /// A dialable number: an optional `+`, then 3 to 20 digits (spaces, dashes, dots and
    /// parentheses are dropped).
    public static func normalise(_ raw: String) -> String? {
        var out = ""
        for (i, c) in raw.trimmingCharacters(in: .whitespaces).enumerated() {
            if c == "+", i == 0 { out.append(c) } else if c.isASCII, c.isNumber { out.append(c) } else if " -.()".contains(c) { continue } else { return nil }
        }
        let digits = out.filter(\.isNumber).count
        return (3...20).contains(digits) ? out : nil
    }

    /// Parses the list; all rows, or every error (at most 100 of them, by line).
    public static func parse(_ text: String) -> Result<[CallListEntry], CallListRefusal> {
        var rows: [(line: Int, cells: [String])] = []
        var errors: [CallListError] = []
        do {
            rows = try records(text)
        } catch let e as CallListError {
            return .failure(CallListRefusal([e]))
        } catch {
            return .failure(CallListRefusal([CallListError(line: 0, reason: "\(error)")]))
        }
        guard let header = rows.first else { return .failure(CallListRefusal([CallListError(line: 1, reason: "empty file: a header row with a number column is needed")])) }
        let names = header.cells.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let numberAt = names.firstIndex(of: "number") else {
            return .failure(CallListRefusal([CallListError(line: header.line, reason: "no number column in the header (\(names.joined(separator: ",")))")]))
        }
        if let dup = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            return .failure(CallListRefusal([CallListError(line: header.line, reason: "column \(dup) appears twice")]))
        }
        if names.contains("") { return .failure(CallListRefusal([CallListError(line: header.line, reason: "a column has no name")])) }
        let zoneAt = names.firstIndex(of: "timezone")
        guard rows.count - 1 <= maxRows else { return .failure(CallListRefusal([CallListError(line: rows[maxRows + 1].line, reason: "more than \(maxRows) rows")])) }
        var entries: [CallListEntry] = []
        var seen: [String: Int] = [:]
        for row in rows.dropFirst() {
            if row.cells.count == 1, row.cells[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }   // a blank line
            guard row.cells.count == names.count else {
                errors.append(CallListError(line: row.line, reason: "\(row.cells.count) fields, the header has \(names.count)"))
                continue
            }
            guard let number = normalise(row.cells[numberAt]) else {
                errors.append(CallListError(line: row.line, reason: "not a phone number: \"\(row.cells[numberAt])\""))
                continue
            }
            if let first = seen[number] {
                errors.append(CallListError(line: row.line, reason: "\(number) is already on line \(first)"))
                continue
            }
            var zone: String?
            if let z = zoneAt {
                let name = row.cells[z].trimmingCharacters(in: .whitespaces)
                if !name.isEmpty {
                    guard TimeZone(identifier: name) != nil else {
                        errors.append(CallListError(line: row.line, reason: "unknown time zone \"\(name)\""))
                        continue
                    }
                    zone = name
                }
            }
            if let long = row.cells.firstIndex(where: { $0.utf8.count > maxFieldLength }) {
                errors.append(CallListError(line: row.line, reason: "\(names[long]) is longer than \(maxFieldLength) bytes"))
                continue
            }
            seen[number] = row.line
            var fields: [String: String] = [:]
            for (i, name) in names.enumerated() where i != numberAt && i != zoneAt { fields[name] = row.cells[i] }
            entries.append(CallListEntry(line: row.line, number: number, timezone: zone, fields: fields))
            if errors.count >= 100 { break }
        }
        if !errors.isEmpty { return .failure(CallListRefusal(Array(errors.prefix(100)))) }
        guard !entries.isEmpty else { return .failure(CallListRefusal([CallListError(line: header.line, reason: "no rows after the header")])) }
        return .success(entries)
    }

    /// RFC 4180 records with the line each starts on.
    static func records(_ text: String) throws -> [(line: Int, cells: [String])] {
        var out: [(line: Int, cells: [String])] = []
        var cells: [String] = []
        var cell = ""
        var quoted = false, wasQuoted = false
        var line = 1, start = 1
        var it = Array(text.unicodeScalars)[...]
        if it.first == "\u{FEFF}" { it = it.dropFirst() }   // a byte-order mark
        var i = it.startIndex
        func endCell() { cells.append(cell); cell = ""; wasQuoted = false }
        while i < it.endIndex {
            let c = it[i]
            if quoted {
                if c == "\"" {
                    if it.index(after: i) < it.endIndex, it[it.index(after: i)] == "\"" { cell.unicodeScalars.append("\""); i = it.index(after: i) } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    cell.unicodeScalars.append(c)
                }
            } else {
                switch c {
                case "\"":
                    guard cell.isEmpty, !wasQuoted else { throw CallListError(line: line, reason: "a quote inside an unquoted field") }
                    quoted = true
                    wasQuoted = true
                case ",": endCell()
                case "\r": break
                case "\n":
                    endCell()
                    out.append((start, cells))
                    cells = []
                    line += 1
                    start = line
                default:
                    if wasQuoted { throw CallListError(line: line, reason: "text after a closing quote") }
                    cell.unicodeScalars.append(c)
                }
            }
            i = it.index(after: i)
        }
        if quoted { throw CallListError(line: start, reason: "a quoted field is never closed") }
        if !cell.isEmpty || !cells.isEmpty { endCell(); out.append((start, cells)) }
        return out
    }
}
