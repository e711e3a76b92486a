/// Flow and mapping-table administration from App-Operate (docs/protocol.md §15).
extension MessageCatalogue {
    public static let flowAdmin = MessageType(rawValue: 0x3001)
}

/// action: validate | publish | list | show | rollback; kind: flow | mapping.
public struct FlowAdminRequest: WireMessage {
    public static let messageType = MessageCatalogue.flowAdmin
    public var action: String
    public var kind: String
    public var name: String
    public var version: UInt32
    public var source: String
    /// show: text (default) or dot (Graphviz).
    public var format: String
    public init(action: String, kind: String = "flow", name: String = "", version: UInt32 = 0, source: String = "", format: String = "text") {
        self.action = action
        self.kind = kind
        self.name = name
        self.version = version
        self.source = source
        self.format = format
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        kind = try f.string(2) ?? "flow"
        name = try f.string(3) ?? ""
        version = try f.uint32(4) ?? 0
        source = try f.string(5) ?? ""
        format = try f.string(6) ?? "text"
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.write(2, kind)
        w.write(3, name)
        w.write(4, version)
        w.write(5, source)
        w.write(6, format)
    }
}

public struct FlowAdminResult: WireMessage {
    public static let messageType = MessageCatalogue.flowAdmin
    /// What to print.
    public var text: String
    /// publish: the new version.
    public var version: UInt32
    public init(text: String, version: UInt32 = 0) {
        self.text = text
        self.version = version
    }
    public init(fields f: inout TLVFields) throws {
        text = try f.string(1) ?? ""
        version = try f.uint32(2) ?? 0
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, text)
        w.write(2, version)
    }
}
