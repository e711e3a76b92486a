/// Operators and agents between App-Operate and a Flow-Server (docs/protocol.md §16).
/// Agent states use CSTA's words where they exist (LoggedOn, Ready, NotReady, WorkingAfterCall).
extension MessageCatalogue {
    public static let operatorLogin = MessageType(rawValue: 0x4001)
    public static let agentCommand = MessageType(rawValue: 0x4002)
    public static let agentEvent = MessageType(rawValue: 0x4003)
}

extension TLVWriter {
    /// A string map as repeated groups {1 key, 2 value}, keys sorted (stable bytes).
    public mutating func writeMap(_ tag: FieldTag, _ map: [String: String]) {
        for (k, v) in map.sorted(by: { $0.key < $1.key }) { writeGroup(tag) { $0.write(1, k); $0.write(2, v) } }
    }
}

extension TLVFields {
    public mutating func map(_ tag: FieldTag) throws -> [String: String] {
        var kv: [String: String] = [:]
        for var g in try groups(tag) { kv[try g.string(1) ?? ""] = try g.string(2) ?? "" }
        return kv
    }
}

/// Log an operator in on this connection (App → Flow, request; response `OperatorSession`).
/// Every other operator request on the connection is checked against the roles it returns.
/// An agent (role agent) also starts, or takes over, its agent session: `extension` is the
/// SIP phone calls ring (the operator's configured one when empty); `mode` "phone" rings the
/// phone at once, "console" pops the call and rings the phone with auto-answer when the agent
/// answers in App-Operate. `attach` joins the agent's existing session (a script or a second
/// window) instead of refusing because it is in use elsewhere.
public struct OperatorLogin: WireMessage {
    public static let messageType = MessageCatalogue.operatorLogin
    public var workCode: String
    public var password: String
    public var sipExtension: String
    public var mode: String
    public var attach: Bool
    public init(workCode: String, password: String, sipExtension: String = "", mode: String = "", attach: Bool = false) {
        self.workCode = workCode
        self.password = password
        self.sipExtension = sipExtension
        self.mode = mode
        self.attach = attach
    }
    public init(fields f: inout TLVFields) throws {
        workCode = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "work-code")
        password = try TLVFields.required(f.string(FieldTag(2, mandatory: true)), "password")
        sipExtension = try f.string(3) ?? ""
        mode = try f.string(4) ?? ""
        attach = try f.bool(5) ?? false
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), workCode)
        w.write(FieldTag(2, mandatory: true), password)
        if !sipExtension.isEmpty { w.write(3, sipExtension) }
        if !mode.isEmpty { w.write(4, mode) }
        if attach { w.write(5, true) }
    }
}

/// The response to OperatorLogin.
public struct OperatorSession: WireMessage {
    public static let messageType = MessageCatalogue.operatorLogin
    public var workCode: String
    public var name: String
    public var roles: [String]
    /// The agent's state after login ("" for operators without the agent role).
    public var state: String
    public init(workCode: String, name: String, roles: [String], state: String) {
        self.workCode = workCode
        self.name = name
        self.roles = roles
        self.state = state
    }
    public init(fields f: inout TLVFields) throws {
        workCode = try f.string(1) ?? ""
        name = try f.string(2) ?? ""
        roles = try f.strings(3)
        state = try f.string(4) ?? ""
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, workCode)
        w.write(2, name)
        for r in roles { w.write(3, r) }
        w.write(4, state)
    }
}

/// An operator command (App → Flow, request; response `AgentReply`): `action` and its
/// arguments, e.g. ready {password}, not-ready {reason, lock}, answer, reject, hangup, hold,
/// retrieve, transfer {to}, consult {to}, complete, cancel, conference, call {to}, return
/// {node}, status, queue {queue}, board, monitor {agent, mode}, logout (docs/protocol.md §16
/// lists them with the role each needs).
public struct AgentCommand: WireMessage {
    public static let messageType = MessageCatalogue.agentCommand
    public var action: String
    public var arguments: [String: String]
    public init(action: String, arguments: [String: String] = [:]) {
        self.action = action
        self.arguments = arguments
    }
    public init(fields f: inout TLVFields) throws {
        action = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "action")
        arguments = try f.map(2)
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), action)
        w.writeMap(2, arguments)
    }
}

/// The response to AgentCommand: the agent's state after it, a human sentence, named values
/// (statistics, the current call) and rows (the queue view, the board).
public struct AgentReply: WireMessage {
    public static let messageType = MessageCatalogue.agentCommand
    public var state: String
    public var text: String
    public var fields: [String: String]
    public var rows: [[String: String]]
    public init(state: String, text: String, fields: [String: String] = [:], rows: [[String: String]] = []) {
        self.state = state
        self.text = text
        self.fields = fields
        self.rows = rows
    }
    public init(fields f: inout TLVFields) throws {
        state = try f.string(1) ?? ""
        text = try f.string(2) ?? ""
        fields = try f.map(3)
        rows = try f.groups(4).map { g in var g = g; return try g.map(1) }
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, state)
        w.write(2, text)
        w.writeMap(3, fields)
        for r in rows { w.writeGroup(4) { $0.writeMap(1, r) } }
    }
}

/// Something that happened to the agent (Flow → App, event): `kind` is state (the agent's
/// state changed), offered (the screen pop: caller, called, queue, wait, the call's variables
/// and customer fields), connected, held, retrieved, ended, consult (progress of a
/// consultation), or notice (a sentence for the status line).
public struct AgentEventMessage: WireMessage {
    public static let messageType = MessageCatalogue.agentEvent
    public var kind: String
    public var state: String
    public var fields: [String: String]
    public init(kind: String, state: String, fields: [String: String] = [:]) {
        self.kind = kind
        self.state = state
        self.fields = fields
    }
    public init(fields f: inout TLVFields) throws {
        kind = try TLVFields.required(f.string(FieldTag(1, mandatory: true)), "kind")
        state = try f.string(2) ?? ""
        fields = try f.map(3)
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), kind)
        w.write(2, state)
        w.writeMap(3, fields)
    }
}
