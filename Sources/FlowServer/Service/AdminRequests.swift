import Foundation
import Protocol

/// Operators' administration from App-Operate (AdminRequest, docs/protocol.md §20): list, add,
/// edit (roles, skills with levels, queues, extension, external calls, name), disable, enable,
/// reset a password. Admin role only, checked here; every change is written to `admin_audit`.
extension FlowService {
    static let operatorColumns = ["work_code", "name", "roles", "skills", "queues", "extension", "external", "active"]

    func adminRequest(_ m: AdminRequest, _ conn: Connection, _ frame: Frame) {
        guard operators.require(["admin"], conn, frame, what: m.action), let admin = operators.loggedIn(conn)?.workCode else { return }
        let a = m.arguments
        let code = a["work_code"] ?? ""
        let fail = { (why: String) -> Void in _ = conn.respond(to: frame, error: ProtocolError(.badMessage, why)) }
        func audit(_ db: PostgresConnection, _ action: String, _ detail: [String: String]) throws {
            let json = (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            try db.execute("INSERT INTO admin_audit (admin, action, target, detail) VALUES ($1, $2, $3, $4::jsonb)", [admin, action, code, json])
        }
        switch m.action {
        case "queue-show": queueShow(m, conn, frame)
        case "queue-set": queueSet(m, admin: admin, conn, frame)
        case "operator-list":
            database(conn, frame) { db in
                let r = try db.execute("""
                    SELECT u.work_code, u.name, u.extension, u.may_call_external, u.active,
                           coalesce((SELECT string_agg(role, ',' ORDER BY role) FROM user_roles WHERE user_id = u.id), '') AS roles,
                           coalesce((SELECT string_agg(skill || ':' || level, ',' ORDER BY skill) FROM user_skills WHERE user_id = u.id), '') AS skills,
                           coalesce((SELECT string_agg(queue, ',' ORDER BY queue) FROM queue_members WHERE user_id = u.id), '') AS queues
                    FROM users u ORDER BY u.work_code
                    """)
                return AdminReply(summary: "\(r.count) operators", columns: Self.operatorColumns, rows: (0..<r.count).map { i in
                    [r.value(i, "work_code") ?? "", r.value(i, "name") ?? "", r.value(i, "roles") ?? "", r.value(i, "skills") ?? "", r.value(i, "queues") ?? "",
                     r.value(i, "extension") ?? "", r.value(i, "may_call_external") == "t" ? "yes" : "no", r.value(i, "active") == "t" ? "yes" : "no"]
                })
            }
        case "operator-add":
            let op: Operator
            do { op = try Self.operatorFrom(a, code: code) } catch { fail("\(error)"); return }
            let password = m.password
            database(conn, frame) { db in
                try db.transaction {
                    _ = try UserStore.create(op, password: password, db)
                    try audit(db, "operator-add", ["roles": op.roles.sorted().joined(separator: ","), "name": op.name])
                }
                return AdminReply(summary: "operator \(code) added (\(op.roles.sorted().joined(separator: ",")))")
            }
        case "operator-edit":
            var changes: [String: String] = [:]
            for k in ["name", "roles", "skills", "queues", "extension", "external"] { if let v = a[k] { changes[k] = v } }
            guard !changes.isEmpty else { fail("operator-edit needs at least one of name, roles, skills, queues, extension, external"); return }
            let probe: Operator
            do { probe = try Self.operatorFrom(a.merging(["roles": a["roles"] ?? "agent"]) { x, _ in x }, code: code) } catch { fail("\(error)"); return }
            database(conn, frame) { db in
                try db.transaction {
                    let u = try db.execute("SELECT id FROM users WHERE work_code = $1 FOR UPDATE", [code])
                    guard u.count == 1, let id = u.value(0, "id") else { throw PostgresError(message: "no operator \(code)", sqlState: "P0002") }
                    if changes["name"] != nil { try db.execute("UPDATE users SET name = $2 WHERE id = $1::bigint", [id, probe.name]) }
                    if changes["extension"] != nil { try db.execute("UPDATE users SET extension = nullif($2, '') WHERE id = $1::bigint", [id, probe.sipExtension ?? ""]) }
                    if changes["external"] != nil { try db.execute("UPDATE users SET may_call_external = $2::boolean WHERE id = $1::bigint", [id, probe.mayCallExternal ? "true" : "false"]) }
                    if changes["roles"] != nil {
                        try db.execute("DELETE FROM user_roles WHERE user_id = $1::bigint", [id])
                        for r in probe.roles.sorted() { try db.execute("INSERT INTO user_roles (user_id, role) VALUES ($1::bigint, $2)", [id, r]) }
                    }
                    if changes["skills"] != nil {
                        try db.execute("DELETE FROM user_skills WHERE user_id = $1::bigint", [id])
                        for (s, l) in probe.skills.sorted(by: { $0.key < $1.key }) {
                            try db.execute("INSERT INTO skills (name) VALUES ($1) ON CONFLICT DO NOTHING", [s])
                            try db.execute("INSERT INTO user_skills (user_id, skill, level) VALUES ($1::bigint, $2, $3::smallint)", [id, s, String(l)])
                        }
                    }
                    if changes["queues"] != nil {
                        try db.execute("DELETE FROM queue_members WHERE user_id = $1::bigint", [id])
                        for q in probe.queues.sorted() {
                            try db.execute("INSERT INTO queues (name) VALUES ($1) ON CONFLICT DO NOTHING", [q])
                            try db.execute("INSERT INTO queue_members (queue, user_id) VALUES ($1, $2::bigint)", [q, id])
                        }
                    }
                    try audit(db, "operator-edit", changes)
                }
                return AdminReply(summary: "operator \(code) changed (\(changes.keys.sorted().joined(separator: ", "))); it takes effect at the operator's next login")
            }
        case "operator-disable", "operator-enable":
            let on = m.action == "operator-enable"
            database(conn, frame) { db in
                try db.transaction {
                    let r = try db.execute("UPDATE users SET active = $2::boolean WHERE work_code = $1", [code, on ? "true" : "false"])
                    guard r.affected == 1 else { throw PostgresError(message: "no operator \(code)", sqlState: "P0002") }
                    try audit(db, m.action, [:])
                }
                return AdminReply(summary: "operator \(code) \(on ? "enabled" : "disabled: it can no longer log in")")
            }
        case "operator-passwd":
            let password = m.password
            database(conn, frame) { db in
                do {
                    try db.transaction {
                        try UserStore.setPassword(workCode: code, password: password, db)
                        try audit(db, "operator-passwd", [:])
                    }
                } catch let e as UserStore.UserError {
                    throw PostgresError(message: e.description, sqlState: "P0002")
                }
                return AdminReply(summary: "operator \(code): new password set")
            }
        default:
            fail("unknown action \(m.action): operator-list, operator-add, operator-edit, operator-disable, operator-enable, operator-passwd")
        }
    }

    /// An operator from the request's fields (roles agent,supervisor,admin; skills NAME:LEVEL,…;
    /// queues A,B; extension; external yes|no; name), checked as UserStore does.
    static func operatorFrom(_ a: [String: String], code: String) throws -> Operator {
        func list(_ k: String) -> [String] { (a[k] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        guard !code.isEmpty, code.count <= 32, code.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw UserStore.UserError.invalid("work_code is 1–32 letters, digits, - or _")
        }
        let roles = Set(list("roles"))
        guard !roles.isEmpty, roles.isSubset(of: ["agent", "supervisor", "admin"]) else { throw UserStore.UserError.invalid("roles are agent, supervisor, admin") }
        var skills: [String: Int] = [:]
        for s in list("skills") {
            let p = s.split(separator: ":")
            guard p.count == 2, let level = Int(p[1]), (1...10).contains(level), !p[0].isEmpty else { throw UserStore.UserError.invalid("skill \(s): NAME:LEVEL with a level 1–10") }
            skills[String(p[0])] = level
        }
        let external = a["external"] ?? "no"
        guard ["yes", "no"].contains(external) else { throw UserStore.UserError.invalid("external is yes or no") }
        return Operator(workCode: code, name: a["name"] ?? "", roles: roles, skills: skills, queues: Set(list("queues")),
                        sipExtension: a["extension"].flatMap { $0.isEmpty ? nil : $0 }, mayCallExternal: external == "yes")
    }
}
