import Foundation

/// 客户资料: customers looked up by phone number or account, created and edited, with the
/// history of their calls. Used by the flow `lookup` node and the agent's screen pop.
public struct Customer: Codable, Sendable, Equatable {
    public var id: Int64?
    public var account: String?
    public var name: String
    public var phones: [String]
    /// Free-form fields an integrator adds (VIP level, address, contract …).
    public var fields: [String: String]

    public init(id: Int64? = nil, account: String? = nil, name: String, phones: [String], fields: [String: String] = [:]) {
        self.id = id
        self.account = account
        self.name = name
        self.phones = phones
        self.fields = fields
    }
}

public struct CustomerCall: Sendable, Equatable {
    public var callID: String
    public var arrivedAt: Double
    public var caller: String
    public var called: String
    public var disposition: String
    public var queue: String?
    public var agent: String?
    public var durationSeconds: Double
}

public enum CustomerStore {
    static let columns = "id, account, name, array_to_json(phones)::text AS phones, fields::text AS fields"

    static func decode(_ r: PostgresRows) -> [Customer] {
        (0..<r.count).map { i in
            let phones = (try? JSONDecoder().decode([String].self, from: Data((r.value(i, "phones") ?? "[]").utf8))) ?? []
            let fields = (try? JSONDecoder().decode([String: String].self, from: Data((r.value(i, "fields") ?? "{}").utf8))) ?? [:]
            return Customer(id: r.value(i, "id").flatMap { Int64($0) }, account: r.value(i, "account"), name: r.value(i, "name") ?? "",
                            phones: phones, fields: fields)
        }
    }

    /// Phone numbers are compared by their digits (and a leading +).
    public static func normalise(_ phone: String) -> String {
        let t = phone.trimmingCharacters(in: .whitespaces)
        return (t.hasPrefix("+") ? "+" : "") + t.filter(\.isNumber)
    }

    public static func find(phone: String, _ db: PostgresConnection) throws -> [Customer] {
        decode(try db.execute(prepared: "customer_by_phone", "SELECT \(columns) FROM customers WHERE phones @> ARRAY[$1]::text[] ORDER BY id",
                              [normalise(phone)]))
    }

    public static func find(account: String, _ db: PostgresConnection) throws -> Customer? {
        decode(try db.execute(prepared: "customer_by_account", "SELECT \(columns) FROM customers WHERE account = $1", [account])).first
    }

    public static func get(id: Int64, _ db: PostgresConnection) throws -> Customer? {
        decode(try db.execute("SELECT \(columns) FROM customers WHERE id = $1::bigint", [String(id)])).first
    }

    /// Creates (no id) or updates (with id) a customer; returns it as stored.
    public static func save(_ c: Customer, _ db: PostgresConnection) throws -> Customer {
        let phones = String(decoding: try JSONEncoder().encode(c.phones.map(normalise).filter { !$0.isEmpty }), as: UTF8.self)
        let fields = String(decoding: try JSONEncoder().encode(c.fields), as: UTF8.self)
        let r: PostgresRows
        if let id = c.id {
            r = try db.execute("""
                UPDATE customers SET account = $2, name = $3,
                    phones = ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), fields = $5::jsonb, updated_at = now()
                WHERE id = $1::bigint RETURNING \(columns)
                """, [String(id), c.account, c.name, phones, fields])
            guard r.count == 1 else { throw PostgresError(message: "no customer \(id)", sqlState: "P0002") }
        } else {
            r = try db.execute("""
                INSERT INTO customers (account, name, phones, fields)
                VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), $4::jsonb) RETURNING \(columns)
                """, [c.account, c.name, phones, fields])
        }
        return decode(r)[0]
    }

    /// The customer's calls, newest first: recorded against the customer, or from one of their numbers.
    public static func history(of c: Customer, limit: Int = 50, _ db: PostgresConnection) throws -> [CustomerCall] {
        let phones = String(decoding: try JSONEncoder().encode(c.phones), as: UTF8.self)
        let r = try db.execute("""
            SELECT call_id::text AS id, extract(epoch from arrived_at) AS arrived, caller, called, disposition, queue, agent,
                   extract(epoch from ended_at - arrived_at) AS duration
            FROM calls
            WHERE customer_id = $1::bigint OR caller IN (SELECT jsonb_array_elements_text($2::jsonb))
            ORDER BY arrived_at DESC LIMIT $3::int
            """, [c.id.map { String($0) } ?? "-1", phones, String(max(1, min(limit, 1000)))])
        return (0..<r.count).map { i in
            CustomerCall(callID: r.value(i, "id") ?? "", arrivedAt: r.double(i, "arrived") ?? 0, caller: r.value(i, "caller") ?? "",
                         called: r.value(i, "called") ?? "", disposition: r.value(i, "disposition") ?? "", queue: r.value(i, "queue"),
                         agent: r.value(i, "agent"), durationSeconds: r.double(i, "duration") ?? 0)
        }
    }
}
