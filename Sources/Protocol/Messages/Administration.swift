/// Operators' administration (App → Flow, docs/protocol.md §20; admin role, checked by the Flow-Server).
extension MessageCatalogue {
    public static let adminRequest = MessageType(rawValue: 0x3002)
}

/// action: `operator-list`, `operator-add` (work_code, name, roles, skills, queues, extension,
/// external; `password`), `operator-edit` (work_code and the fields to change), `operator-disable`
/// / `operator-enable` (work_code), `operator-passwd` (work_code; `password`). Every change is
/// written to `admin_audit`. Response `AdminReply` (the CampaignReply shape: a sentence and a table).
public struct AdminRequest: WireMessage {
    public static let messageType = MessageCatalogue.adminRequest
    public var action: String
    public var arguments: [String: String]
    /// A new password (operator-add, operator-passwd); never logged.
    public var password: String
    public init(action: String, arguments: [String: String] = [:], password: String = "") {
        self.action = action
        self.arguments = arguments
        self.password = password
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        arguments = try f.map(2)
        password = try f.string(3) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.writeMap(2, arguments)
        if !password.isEmpty { w.write(3, password) }
    }
}

public struct AdminReply: WireMessage {
    public static let messageType = MessageCatalogue.adminRequest
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

extension MessageCatalogue {
    public static let queueSettingsChanged = MessageType(rawValue: 0x3003)
}

/// queues.yaml as an admin just changed it on one Flow-Server (Flow → Flow inside PeerBroadcast):
/// every other Flow-Server checks it by the same rules, writes it to its flows folder and
/// applies it at once (docs/protocol.md §20).
public struct QueueSettingsChanged: WireMessage {
    public static let messageType = MessageCatalogue.queueSettingsChanged
    public var yaml: String
    public var admin: String
    public init(yaml: String, admin: String) {
        self.yaml = yaml
        self.admin = admin
    }
    public init(fields f: inout TLVFields) throws {
        yaml = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "yaml")
        admin = try f.string(2) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), yaml)
        w.write(2, admin)
    }
}
