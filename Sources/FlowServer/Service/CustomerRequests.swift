import Foundation
import Protocol

/// Customer records for App-Operate (docs/protocol.md §14): look-up by phone, account or id
/// (agents, supervisors, admins), save (agents, admins), a customer's call history.
extension FlowService {
    func customerRequest(_ conn: Connection, _ frame: Frame) {
        switch frame.type {
        case CustomerLookup.messageType:
            guard operators.require(["agent", "supervisor", "admin"], conn, frame, what: "customer look-up") else { return }
            guard let m = decodeRequest(CustomerLookup.self, conn, frame) else { return }
            guard !m.phone.isEmpty || !m.account.isEmpty || m.id != 0 else {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "give a phone number, an account or an id"))
                return
            }
            guard let id = customerID(m.id, conn, frame) else { return }
            database(conn, frame) { db in
                let found: [Customer]
                if id != 0 { found = try CustomerStore.get(id: id, db).map { [$0] } ?? [] }
                else if !m.account.isEmpty { found = try CustomerStore.find(account: m.account, db).map { [$0] } ?? [] }
                else { found = try CustomerStore.find(phone: m.phone, db) }
                return CustomerList(customers: found.map(Self.message))
            }
        case CustomerSave.messageType:
            guard operators.require(["agent", "admin"], conn, frame, what: "customer edit") else { return }
            guard let m = decodeRequest(CustomerSave.self, conn, frame) else { return }
            guard !m.customer.name.isEmpty || !m.customer.phones.isEmpty || !m.customer.account.isEmpty else {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "a customer needs a name, a phone number or an account"))
                return
            }
            guard let id = customerID(m.customer.id, conn, frame) else { return }
            database(conn, frame) { db in
                let c = m.customer
                let saved = try CustomerStore.save(Customer(id: id == 0 ? nil : id, account: c.account.isEmpty ? nil : c.account,
                                                            name: c.name, phones: c.phones, fields: c.fields), db)
                return CustomerList(customers: [Self.message(saved)])
            }
        case CustomerHistory.messageType:
            guard operators.require(["agent", "supervisor", "admin"], conn, frame, what: "customer history") else { return }
            guard let m = decodeRequest(CustomerHistory.self, conn, frame) else { return }
            guard let id = customerID(m.id, conn, frame) else { return }
            database(conn, frame) { db in
                guard let c = try CustomerStore.get(id: id, db) else { throw PostgresError(message: "no customer \(m.id)", sqlState: "P0002") }
                return CustomerCalls(calls: try CustomerStore.history(of: c, limit: Int(min(m.limit, 10_000)), db).map {
                    CustomerCalls.Call(callID: $0.callID, arrivedMs: UInt64(max(0, $0.arrivedAt) * 1000), caller: $0.caller, called: $0.called,
                                       disposition: $0.disposition, queue: $0.queue ?? "", agent: $0.agent ?? "", durationMs: UInt64(max(0, $0.durationSeconds) * 1000))
                })
            }
        default:
            break
        }
    }

    /// A customer id from the wire (unsigned 64 bits) as the database's bigint: ids beyond its
    /// range are refused with a clear error, never converted with a trap.
    func customerID(_ raw: UInt64, _ conn: Connection, _ frame: Frame) -> Int64? {
        guard let id = Int64(exactly: raw) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "customer id \(raw) is out of range (1…\(Int64.max))"))
            return nil
        }
        return id
    }

    static func message(_ c: Customer) -> CustomerMessage {
        CustomerMessage(id: UInt64(clamping: c.id ?? 0), account: c.account ?? "", name: c.name, phones: c.phones, fields: c.fields)
    }

}
