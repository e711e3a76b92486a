/// Outbound campaigns and do-not-call lists (App → Flow, docs/protocol.md §19).
extension MessageCatalogue {
    public static let campaignRequest = MessageType(rawValue: 0x2004)
}

/// action (supervisor or admin): `create` (name, mode preview|progressive|predictive, queue,
/// caller id, window HH:MM-HH:MM, time zone, abandon cap, message), `import` (name, csv: the
/// call list; refused whole with every bad row's line), `start`, `pause`, `resume`, `stop`,
/// `list`, `report` (name), `dnc-add` / `dnc-remove` (number, name: a campaign's list, or the
/// global list when empty), `dnc-list`. Response `CampaignReply`.
public struct CampaignRequest: WireMessage {
    public static let messageType = MessageCatalogue.campaignRequest
    public var action: String
    public var arguments: [String: String]
    public var csv: String
    public init(action: String, arguments: [String: String] = [:], csv: String = "") {
        self.action = action
        self.arguments = arguments
        self.csv = csv
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        arguments = try f.map(2)
        csv = try f.string(3) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.writeMap(2, arguments)
        if !csv.isEmpty { w.write(3, csv) }
    }
}

/// The response to CampaignRequest: a sentence and a table.
public struct CampaignReply: WireMessage {
    public static let messageType = MessageCatalogue.campaignRequest
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
