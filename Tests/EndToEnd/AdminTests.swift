import Foundation
import Testing
import TestSupport

/// Operators administered from App-Operate (admin role, checked by the Flow-Server), over real
/// sockets and PostgreSQL: an admin adds an operator who then logs in; roles, skills and queues
/// are edited; a disabled operator cannot log in; a new password replaces the old; every change
/// is audited; an agent is refused.
@Suite(.serialized) struct AdminTests {
    let edge = SIPEdgeTests()

    @Test func operatorsAddedEditedDisabledAndTheirPasswordsReset() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n")
        defer { c.stop() }
        func admin(_ args: [String], stdin password: String? = nil) throws -> (status: Int32, output: String) {
            var a = ["admin", "operator"] + args
            if let password {
                let f = c.dir.appendingPathComponent("newpw-\(UUID().uuidString.prefix(6))")
                try password.write(to: f, atomically: true, encoding: .utf8)
                a += ["--new-password-file", f.path]
            }
            return try c.appOperate("3001", a)
        }
        func as1004(_ password: String, _ args: [String]) throws -> (status: Int32, output: String) {
            try ChildProcess.run("app-operate", args + ["--connect", c.app, "--code", "1004"],
                                 environment: c.env.merging(["HOTLINE_OPERATOR_PASSWORD": password]) { $1 }, seconds: 30)
        }
        let denied = try c.appOperate("1001", ["admin", "operator", "list"])
        #expect(denied.status != 0 && denied.output.contains("permission denied"), "\(denied.output)")
        var r = try admin(["add", "1004", "--name", "Dee", "--roles", "agent", "--skills", "sales:4", "--queues", "sales", "--extension", "1003"], stdin: "first-password-1004")
        #expect(r.status == 0 && r.output.contains("operator 1004 added"), "\(r.output)")
        r = try admin(["add", "bad code!", "--roles", "agent"], stdin: "whatever-password")
        #expect(r.status != 0 && r.output.contains("work_code"), "\(r.output)")
        r = try as1004("first-password-1004", ["agent", "status"])
        #expect(r.status == 0 && r.output.contains("1004"), "the new operator logs in: \(r.output)")
        r = try admin(["edit", "1004", "--roles", "agent,supervisor", "--skills", "sales:7,english:3"])
        #expect(r.status == 0, "\(r.output)")
        let list = try admin(["list"])
        #expect(list.output.contains("agent,supervisor") && list.output.contains("english:3,sales:7"), "\(list.output)")
        r = try admin(["passwd", "1004"], stdin: "second-password-1004")
        #expect(r.status == 0, "\(r.output)")
        #expect(try as1004("first-password-1004", ["agent", "status"]).status != 0, "the old password no longer works")
        #expect(try as1004("second-password-1004", ["board"]).status == 0, "the new one does, with the supervisor role now")
        r = try admin(["disable", "1004"])
        #expect(r.status == 0, "\(r.output)")
        #expect(try as1004("second-password-1004", ["agent", "status"]).status != 0, "a disabled operator cannot log in")
        #expect(try c.pg.query("select string_agg(action||':'||target||':'||admin, ',' order by id) from admin_audit")
                == "operator-add:1004:3001,operator-edit:1004:3001,operator-passwd:1004:3001,operator-disable:1004:3001")
        #expect(try c.pg.query("select count(*) from admin_audit where detail::text like '%password%'") == "0", "no password in the audit")
    }
}
