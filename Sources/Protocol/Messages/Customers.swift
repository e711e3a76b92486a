/// Customer records between App-Operate and a Flow-Server (docs/protocol.md §14).
extension MessageCatalogue {
    public static let customerLookup = MessageType(rawValue: 0x2010)
    public static let customerSave = MessageType(rawValue: 0x2011)
    public static let customerHistory = MessageType(rawValue: 0x2012)
}

public struct CustomerMessage: Equatable, Sendable {
    /// 0 for a new customer.
    public var id: UInt64
    public var account: String
    public var name: String
    public var phones: [String]
    public var fields: [String: String]

    public init(id: UInt64 = 0, account: String = "", name: String, phones: [String], fields: [String: String] = [:]) {
        self.id = id
        self.account = account
        self.name = name
        self.phones = phones
        self.fields = fields
    }

    init(fields f: inout TLVFields) throws {
        id = try f.uint64(1) ?? 0
        account = try f.string(2) ?? ""
        name = try f.string(3) ?? ""
        phones = try f.strings(4)
        var kv: [String: String] = [:]
        for var g in try f.groups(5) { kv[try g.string(1) ?? ""] = try g.string(2) ?? "" }
        self.fields = kv
    }

    func encode(into w: inout TLVWriter) {
        w.write(1, id)
        w.write(2, account)
        w.write(3, name)
        for p in phones { w.write(4, p) }
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { w.writeGroup(5) { $0.write(1, k); $0.write(2, v) } }
    }
}

/// Find customers by phone number, account or id (one of them).
public struct CustomerLookup: WireMessage {
    public static let messageType = MessageCatalogue.customerLookup
    public var phone: String
    public var account: String
    public var id: UInt64
    public init(phone: String = "", account: String = "", id: UInt64 = 0) {
        self.phone = phone
        self.account = account
        self.id = id
    }
    public init(fields f: inout TLVFields) throws {
        phone = try f.string(1) ?? ""
        account = try f.string(2) ?? ""
        id = try f.uint64(3) ?? 0
    }
    public func encode(into w: inout TLVWriter) {
        w.write(1, phone)
        w.write(2, account)
        w.write(3, id)
    }
}

/// Create (id 0) or update a customer. Response: CustomerList with the stored customer.
public struct CustomerSave: WireMessage {
    public static let messageType = MessageCatalogue.customerSave
    public var customer: CustomerMessage
    public init(customer: CustomerMessage) { self.customer = customer }
    public init(fields f: inout TLVFields) throws {
        guard var g = try f.group(FieldTag(1, mandatory: true)) else { throw ProtocolError(.badMessage, "customer missing") }
        customer = try CustomerMessage(fields: &g)
    }
    public func encode(into w: inout TLVWriter) { w.writeGroup(FieldTag(1, mandatory: true)) { customer.encode(into: &$0) } }
}

/// The response to CustomerLookup and CustomerSave.
public struct CustomerList: WireMessage {
    public static let messageType = MessageCatalogue.customerLookup
    public var customers: [CustomerMessage]
    public init(customers: [CustomerMessage]) { self.customers = customers }
    public init(fields f: inout TLVFields) throws {
        customers = try f.groups(1).map { g in
            var g = g
            return try CustomerMessage(fields: &g)
        }
    }
    public func encode(into w: inout TLVWriter) { for c in customers { w.writeGroup(1) { c.encode(into: &$0) } } }
}

/// A customer's calls, newest first. Response: CustomerCalls.
public struct CustomerHistory: WireMessage {
    public static let messageType = MessageCatalogue.customerHistory
    public var id: UInt64
    public var limit: UInt32
    public init(id: UInt64, limit: UInt32 = 50) {
        self.id = id
        self.limit = limit
    }
    public init(fields f: inout TLVFields) throws {
        id = try TLVFields.required(f.uint64(FieldTag(1, mandatory: true)), "id")
        limit = try f.uint32(2) ?? 50
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), id)
        w.write(2, limit)
    }
}

public struct CustomerCalls: WireMessage {
    public struct Call: Equatable, Sendable {
        public var callID: String, arrivedMs: UInt64, caller: String, called: String, disposition: String, queue: String, agent: String, durationMs: UInt64
        public init(callID: String, arrivedMs: UInt64, caller: String, called: String, disposition: String, queue: String, agent: String, durationMs: UInt64) {
            self.callID = callID
            self.arrivedMs = arrivedMs
            self.caller = caller
            self.called = called
            self.disposition = disposition
            self.queue = queue
            self.agent = agent
            self.durationMs = durationMs
        }
    }
    public static let messageType = MessageCatalogue.customerHistory
    public var calls: [Call]
    public init(calls: [Call]) { self.calls = calls }
    public init(fields f: inout TLVFields) throws {
        calls = try f.groups(1).map { g in
            var g = g
            return Call(callID: try g.string(1) ?? "", arrivedMs: try g.uint64(2) ?? 0, caller: try g.string(3) ?? "", called: try g.string(4) ?? "",
                        disposition: try g.string(5) ?? "", queue: try g.string(6) ?? "", agent: try g.string(7) ?? "", durationMs: try g.uint64(8) ?? 0)
        }
    }
    public func encode(into w: inout TLVWriter) {
        for c in calls {
            w.writeGroup(1) {
                $0.write(1, c.callID); $0.write(2, c.arrivedMs); $0.write(3, c.caller); $0.write(4, c.called)
                $0.write(5, c.disposition); $0.write(6, c.queue); $0.write(7, c.agent); $0.write(8, c.durationMs)
            }
        }
    }
}
