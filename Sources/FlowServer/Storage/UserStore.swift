import Foundation
import Protocol

/// Operators (agents, supervisors, admins): a work code, a password kept only as a PBKDF2
/// hash, roles, skills with levels (1–10), a SIP extension and the queues they serve.
public struct Operator: Sendable, Equatable {
    public var id: Int64?
    public var workCode: String
    public var name: String
    public var roles: Set<String>
    public var skills: [String: Int]
    public var queues: Set<String>
    public var sipExtension: String?
    /// May call outside numbers (呼叫外线) and transfer or consult to them.
    public var mayCallExternal: Bool
    public init(id: Int64? = nil, workCode: String, name: String, roles: Set<String>, skills: [String: Int] = [:], queues: Set<String> = [], sipExtension: String? = nil,
                mayCallExternal: Bool = false) {
        self.mayCallExternal = mayCallExternal
        self.id = id
        self.workCode = workCode
        self.name = name
        self.roles = roles
        self.skills = skills
        self.queues = queues
        self.sipExtension = sipExtension
    }
}

public enum UserStore {
    public enum UserError: Error, CustomStringConvertible, Equatable {
        case invalid(String)
        public var description: String { if case .invalid(let s) = self { return s }; return "" }
    }

    /// Creates an operator with a password (hashed here; the clear text goes nowhere else).
    @discardableResult
    public static func create(_ op: Operator, password: String, _ db: PostgresConnection, iterations: Int = PasswordHash.defaultIterations) throws -> Int64 {
        guard !op.workCode.isEmpty, op.workCode.count <= 32, op.workCode.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw UserError.invalid("a work code is 1–32 letters, digits, - or _")
        }
        guard password.count >= 8 else { throw UserError.invalid("a password has at least 8 characters") }
        guard !op.roles.isEmpty else { throw UserError.invalid("an operator needs a role (agent, supervisor, admin)") }
        for (skill, level) in op.skills where !(1...10).contains(level) { throw UserError.invalid("skill \(skill): level \(level) is not 1–10") }
        let hash = PasswordHash.make(password, iterations: iterations)
        return try db.transaction {
            let id = Int64(try db.execute("INSERT INTO users (work_code, name, password_hash, extension, may_call_external) VALUES ($1, $2, $3, $4, $5::boolean) RETURNING id",
                                          [op.workCode, op.name, hash, op.sipExtension, op.mayCallExternal ? "true" : "false"]).value(0, "id") ?? "0") ?? 0
            for r in op.roles.sorted() { try db.execute("INSERT INTO user_roles (user_id, role) VALUES ($1::bigint, $2)", [String(id), r]) }
            for (s, l) in op.skills.sorted(by: { $0.key < $1.key }) {
                try db.execute("INSERT INTO skills (name) VALUES ($1) ON CONFLICT DO NOTHING", [s])
                try db.execute("INSERT INTO user_skills (user_id, skill, level) VALUES ($1::bigint, $2, $3::smallint)", [String(id), s, String(l)])
            }
            for q in op.queues.sorted() {
                try db.execute("INSERT INTO queues (name) VALUES ($1) ON CONFLICT DO NOTHING", [q])
                try db.execute("INSERT INTO queue_members (queue, user_id) VALUES ($1, $2::bigint)", [q, String(id)])
            }
            return id
        }
    }

    public static func load(workCode: String, _ db: PostgresConnection) throws -> (Operator, hash: String)? {
        let u = try db.execute("SELECT id, name, password_hash, extension, may_call_external FROM users WHERE work_code = $1 AND active", [workCode])
        guard u.count == 1, let idText = u.value(0, "id"), let id = Int64(idText) else { return nil }
        let roles = try db.execute("SELECT role FROM user_roles WHERE user_id = $1::bigint", [idText])
        let skills = try db.execute("SELECT skill, level FROM user_skills WHERE user_id = $1::bigint", [idText])
        let queues = try db.execute("SELECT queue FROM queue_members WHERE user_id = $1::bigint", [idText])
        let op = Operator(id: id, workCode: workCode, name: u.value(0, "name") ?? "", roles: Set((0..<roles.count).compactMap { roles.value($0, "role") }),
                          skills: Dictionary(uniqueKeysWithValues: (0..<skills.count).compactMap { i in skills.value(i, "skill").map { ($0, skills.int(i, "level") ?? 0) } }),
                          queues: Set((0..<queues.count).compactMap { queues.value($0, "queue") }), sipExtension: u.value(0, "extension"),
                          mayCallExternal: u.value(0, "may_call_external") == "t")
        return (op, u.value(0, "password_hash") ?? "")
    }

    /// The operator, if the work code exists and the password is right. An unknown work code
    /// costs the same hashing work as a known one, so timing does not tell them apart.
    public static func authenticate(workCode: String, password: String, _ db: PostgresConnection) throws -> Operator? {
        guard let (op, hash) = try load(workCode: workCode, db) else {
            _ = PasswordHash.verify(password, against: dummyHash)
            return nil
        }
        return PasswordHash.verify(password, against: hash) ? op : nil
    }

    static let dummyHash = PasswordHash.make(UUID().uuidString)

    public static func setPassword(workCode: String, password: String, _ db: PostgresConnection) throws {
        guard password.count >= 8 else { throw UserError.invalid("a password has at least 8 characters") }
        let r = try db.execute("UPDATE users SET password_hash = $2 WHERE work_code = $1", [workCode, PasswordHash.make(password)])
        guard r.affected == 1 else { throw UserError.invalid("no operator \(workCode)") }
    }
}
