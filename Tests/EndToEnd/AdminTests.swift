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

    /// Queue settings edited from App-Operate: refused by the file's own rules with nothing
    /// written, else written, audited and applied without a restart — also on a Flow-Server that
    /// keeps its own copy of the flows folder (another host), through the CT-Server.
    @Test func queuesEditedCheckedAuditedAndAppliedEverywhere() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {strategy: longest-idle, service_level_seconds: 20}\nwrap_up_seconds: 2\n")
        defer { c.stop() }
        let flows2 = c.dir.appendingPathComponent("flows-other")
        try FileManager.default.copyItem(at: c.dir.appendingPathComponent("flows"), to: flows2)
        let other = try FlowServerUnderTest(name: "flow-other", ct: c.ctLinkPort, database: c.pg.url, spool: c.dir.appendingPathComponent("spool-other"), flows: flows2, [])
        defer { _ = other.process.stop() }
        #expect(c.ct.waitForLine(containing: "flow-server flow-other attached") != nil)
        let file = c.dir.appendingPathComponent("flows/queues.yaml")
        let original = try String(contentsOf: file, encoding: .utf8)

        let denied = try c.appOperate("1001", ["admin", "queue", "show"])
        #expect(denied.status != 0 && denied.output.contains("permission denied"), "\(denied.output)")
        var r = try c.appOperate("3001", ["admin", "queue", "set", "sales", "strategy=fastest", "service_level_seconds=30"])
        #expect(r.status != 0 && r.output.contains("strategy is one of"), "\(r.output)")
        r = try c.appOperate("3001", ["admin", "queue", "set", "sales", "skills={sales: 11}"])
        #expect(r.status != 0 && r.output.contains("skill levels are 1–10"), "\(r.output)")
        r = try c.appOperate("3001", ["admin", "queue", "set", "nosuch", "strategy=ring-all"])
        #expect(r.status != 0 && r.output.contains("no queue nosuch"), "\(r.output)")
        #expect(try String(contentsOf: file, encoding: .utf8) == original, "a refused edit writes nothing")

        r = try c.appOperate("3001", ["admin", "queue", "set", "sales", "strategy=round-robin", "service_level_seconds=30", "skills={sales: 2}"])
        #expect(r.status == 0 && r.output.contains("queue sales updated"), "\(r.output)")
        let shown = try c.appOperate("3001", ["admin", "queue", "show", "sales"])
        #expect(shown.output.contains("round-robin") && shown.output.contains("{sales: 2}") && shown.output.contains("30"), "\(shown.output)")
        #expect(c.flow.outputLines.filter { $0.contains("queues: sales") }.count == 2, "applied here at once: \(c.flow.outputText.suffix(1500))")
        #expect(other.process.waitForLine(containing: "queues.yaml changed by admin 3001 on flow-acd: applied") != nil, "\(other.process.outputText.suffix(1500))")
        #expect(try String(contentsOf: flows2.appendingPathComponent("queues.yaml"), encoding: .utf8).contains("round-robin"))
        r = try ChildProcess.run("app-operate", ["admin", "queue", "show", "--connect", other.app, "--code", "3001"],
                                 environment: c.env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-3001"]) { $1 }, seconds: 30)
        #expect(r.output.contains("round-robin"), "the other Flow-Server shows it: \(r.output)")

        r = try c.appOperate("3001", ["admin", "queue", "set", "-", "wrap_up_seconds=4"])
        #expect(r.status == 0, "\(r.output)")
        r = try c.appOperate("3001", ["admin", "queue", "set", "support", "--create", "strategy=ring-all", "weekdays=[mon, tue]"])
        #expect(r.status == 0, "\(r.output)")
        #expect(try c.appOperate("3001", ["admin", "queue", "show"]).output.contains("wrap_up_seconds=4"))
        #expect(c.flow.waitForLine(containing: "queues: sales, support") != nil)
        #expect(try c.pg.query("select string_agg(action||':'||target||':'||admin, ',' order by id) from admin_audit")
                == "queue-set:sales:3001,queue-set:*:3001,queue-set:support:3001")
    }
}
