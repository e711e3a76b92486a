/// Charging between App-Operate and a Flow-Server (docs/protocol.md §14): re-rating a period,
/// bills and charge reports. Tariff administration travels as FlowAdminRequest kind `tariff`.
extension MessageCatalogue {
    public static let chargingRequest = MessageType(rawValue: 0x2002)
}

/// action: `rate` (re-rate calls that arrived in [from, to) under the tariffs as they are now),
/// `bill` (every rated call of `caller` in [from, to)), `charges` (totals in [from, to) by
/// `grouping`: service, caller, line, day or hour, days and hours in local time at
/// `utcOffsetSeconds`). Response: ChargingReport.
public struct ChargingRequest: WireMessage {
    public static let messageType = MessageCatalogue.chargingRequest
    public var action: String
    public var fromMs: UInt64
    public var toMs: UInt64
    public var caller: String
    public var grouping: String
    public var utcOffsetSeconds: Int64

    public init(action: String, fromMs: UInt64, toMs: UInt64, caller: String = "", grouping: String = "service", utcOffsetSeconds: Int64 = 0) {
        self.action = action
        self.fromMs = fromMs
        self.toMs = toMs
        self.caller = caller
        self.grouping = grouping
        self.utcOffsetSeconds = utcOffsetSeconds
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        fromMs = try TLVFields.required(f.uint64(FieldTag(2, mandatory: true)), "from")
        toMs = try TLVFields.required(f.uint64(FieldTag(3, mandatory: true)), "to")
        caller = try f.string(4) ?? ""
        grouping = try f.string(5) ?? "service"
        utcOffsetSeconds = try f.int64(6) ?? 0
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.write(FieldTag(2, mandatory: true), fromMs)
        w.write(FieldTag(3, mandatory: true), toMs)
        w.write(4, caller)
        w.write(5, grouping)
        w.write(6, utcOffsetSeconds)
    }
}

/// A table: `columns` names, each row a group of cells in column order (tag 1 repeated), money
/// columns (suffix `_fen`) as integer fen; `summary` one line for people.
public struct ChargingReport: WireMessage {
    public static let messageType = MessageCatalogue.chargingRequest   // responses carry their request's type
    public var summary: String
    public var columns: [String]
    public var rows: [[String]]

    public init(summary: String, columns: [String] = [], rows: [[String]] = []) {
        self.summary = summary
        self.columns = columns
        self.rows = rows
    }
    public init(fields f: inout TLVFields) throws {
        summary = try f.string(1) ?? ""
        (columns, rows) = try f.table()
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, summary)
        w.writeTable(columns: columns, rows: rows)
    }
}

/// A table in a body, as ChargingReport and RecordingReply carry it: repeated group 2 = 1 column
/// name; repeated group 3 = a row (repeated group 1 = 1 cell, in column order).
extension TLVWriter {
    public mutating func writeTable(columns: [String], rows: [[String]]) {
        for c in columns { writeGroup(2) { $0.write(1, c) } }
        for r in rows {
            writeGroup(3) { g in for cell in r { g.writeGroup(1) { $0.write(1, cell) } } }
        }
    }
}

extension TLVFields {
    public mutating func table() throws -> (columns: [String], rows: [[String]]) {
        let columns = try groups(2).map { g in var g = g; return try g.string(1) ?? "" }
        let rows = try groups(3).map { g in
            var g = g
            var cells: [String] = []
            for var c in try g.groups(1) { cells.append(try c.string(1) ?? "") }
            return cells
        }
        return (columns, rows)
    }
}
