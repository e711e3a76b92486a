import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// A SIPp caller walks a flow with RFC 4733 keys: the menu, digit collection, a customer
/// look-up in PostgreSQL and text-to-speech with the customer's fields; the path is read back
/// from the call's record (its flow-node events).
@Suite(.serialized) struct FlowsTests {
    let calls = CallControlTests()
    let media = MediaTests()

    static let ivr = """
    flow: ivr
    description: Balance self-service
    start: welcome
    nodes:
      welcome:
        type: play
        prompts: "tts:en:Welcome."
        next: menu
      menu:
        type: menu
        prompt: "tts:en:Press 1 for sales. Press 2 for your balance."
        options: {"1": sales, "2": account}
        timeout_ms: 8000
        failure: bye
      sales:
        type: play
        prompts: "tts:en:Sales is closed."
        next: bye
      account:
        type: collect
        prompt: "tts:en:Enter your account number, then the hash key."
        variable: account
        min: 4
        max: 8
        first_digit_timeout_ms: 8000
        next: find
        failure: bye
      find:
        type: lookup
        by: account
        found: balance
        not_found: unknown
      balance:
        type: play
        prompts: "tts:en:${customer.name}, your balance is ${customer.balance} yuan."
        next: bye
      unknown:
        type: play
        prompts: "tts:en:Unknown account."
        next: bye
      bye:
        type: hangup
        cause: ivr done
    """

    @Test func sippWalksAFlowWithDTMF() throws { try walk(info: false) }

    /// The same walk with every key sent as SIP INFO (application/dtmf-relay): menus, type-ahead,
    /// barge-in and collection take them exactly as RFC 4733 keys (issue 14).
    @Test func sippWalksAFlowWithSIPINFOKeys() throws { try walk(info: true) }

    func walk(info: Bool) throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let (ct, sip, link, dir) = try calls.startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flows = dir.appendingPathComponent("flows")
        try FileManager.default.createDirectory(at: flows, withIntermediateDirectories: true)
        try Self.ivr.write(to: flows.appendingPathComponent("ivr.yaml"), atomically: true, encoding: .utf8)
        try "mappings:\n  - called: [\"4000\"]\n    flow: ivr\n".write(to: flows.appendingPathComponent("mapping.yaml"), atomically: true, encoding: .utf8)
        let flow = try FlowServerUnderTest(name: "flow-ivr", ct: link, database: pg.url, spool: dir.appendingPathComponent("spool"), flows: flows).process
        defer { flow.stop() }
        #expect(flow.waitForLine(containing: "flow ivr v1 loaded") != nil, "\(flow.outputText)")
        #expect(ct.waitForLine(containing: "flow-server flow-ivr attached") != nil)
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == TestSupport.migrationCount })
        _ = try pg.query("insert into customers (account, name, fields) values ('1234', 'Li Hua', '{\"balance\": \"88\"}')")

        let silence = dir.appendingPathComponent("silence.ul")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", silence.path, "trim", "0", "1"])
        var text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_walk_flow.xml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "@AUDIO@", with: silence.path)
        // 2 already during the welcome (type-ahead: the menu that follows takes it), then 1 2 3 4 #
        // during the account prompt (barge-in).
        let keys: [(String, Int)] = [("2", 300), ("1", 4000), ("2", 600), ("3", 600), ("4", 600), ("pound", 600)]
        text = text.replacingOccurrences(of: "@DTMF@", with: keys.enumerated().map { i, kw in
            let (k, wait) = kw
            guard info else {
                return "  <pause milliseconds=\"\(wait)\"/>\n  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_\(k).pcap\"/></action></nop>"
            }
            return """
              <pause milliseconds="\(wait)"/>
              <send retrans="500"><![CDATA[

                  INFO [next_url] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
                  Max-Forwards: 70
                  From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
                  Call-ID: [call_id]
                  CSeq: \(i + 2) INFO
                  Content-Type: application/dtmf-relay
                  Content-Length: [len]

                  Signal=\(k == "pound" ? "#" : k)
                  Duration=160

              ]]></send>
              <recv response="200"/>
            """
        }.joined(separator: "\n"))
        let scenario = dir.appendingPathComponent("walk.xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        let r = try media.runSipp(scenario, port: sip, service: "4000", talkMs: 200)
        #expect(r.0 == 0, "\(r.1)\n\(flow.outputText.suffix(2000))")
        #expect(TestSupport.waitUntil(15) { (try? pg.query("select count(*) from calls")) == "1" }, "\(flow.outputText.suffix(2000))")
        let path = try pg.query("select string_agg(detail->>'node', ',' order by seq) from call_events where kind = 'flow-node'")
        #expect(path == "welcome,menu,account,find,balance,bye", "\(path)")
        #expect(try pg.query("select flow||' v'||flow_version||' '||disposition from calls") == "ivr v1 self-service")
        #expect(try pg.query("select string_agg(detail->>'digits', '' order by seq) from call_events where kind = 'dtmf'") == "21234#")
        // The balance prompt was spoken with the customer's fields.
        #expect(ct.outputLines.contains { $0.contains("gone (ivr done") } || flow.outputText.contains("ivr done"), "\(ct.outputText.suffix(1500))")
    }
}

extension FlowsTests {
    /// Hot reload: a call in progress keeps the version it started with while a new version is
    /// written; the next call runs the new one; a broken edit is refused and changes nothing.
    @Test func hotReloadKeepsCallsOnTheirVersion() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let (ct, sip, link, dir) = try calls.startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flows = dir.appendingPathComponent("flows")
        try FileManager.default.createDirectory(at: flows, withIntermediateDirectories: true)
        func version(_ greeting: String, wait: Int) -> String {
            """
            flow: greet
            start: hello
            nodes:
              hello:
                type: play
                prompts: ["tts:en:\(greeting)", "silence:\(wait)"]
                next: bye
              bye:
                type: hangup
                cause: greeted
            """
        }
        try version("Version one.", wait: 4000).write(to: flows.appendingPathComponent("greet.yaml"), atomically: true, encoding: .utf8)
        try "default: greet\n".write(to: flows.appendingPathComponent("mapping.yaml"), atomically: true, encoding: .utf8)
        let flow = try FlowServerUnderTest(name: "flow-hot", ct: link, database: pg.url, spool: dir.appendingPathComponent("spool"), flows: flows).process
        defer { flow.stop() }
        #expect(flow.waitForLine(containing: "flow greet v1 loaded") != nil, "\(flow.outputText)")
        #expect(ct.waitForLine(containing: "flow-server flow-hot attached") != nil)
        let silence = dir.appendingPathComponent("silence.ul")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", silence.path, "trim", "0", "1"])
        let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_walk_flow.xml"), encoding: .utf8)
            .replacingOccurrences(of: "@AUDIO@", with: silence.path).replacingOccurrences(of: "@DTMF@", with: "")
        let scenario = dir.appendingPathComponent("listen.xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        // First call: starts on v1 and is still talking when v2 arrives.
        let first = Box<(Int32, String)?>(nil)
        let t = Thread { first.value = try? self.media.runSipp(scenario, port: sip, service: "100", talkMs: 200) }
        t.start()
        #expect(flow.waitForLine(containing: "runs flow greet v1") != nil)
        // A broken edit is refused with its line; v1 stays.
        try "flow: greet\nstart: nowhere\nnodes:\n  hello:\n    type: hangup\n".write(to: flows.appendingPathComponent("greet.yaml"), atomically: true, encoding: .utf8)
        #expect(flow.waitForLine(containing: "flow refused: greet.yaml: line") != nil, "\(flow.outputText.suffix(1000))")
        try version("Version two.", wait: 500).write(to: flows.appendingPathComponent("greet.yaml"), atomically: true, encoding: .utf8)
        #expect(flow.waitForLine(containing: "flow greet v2 loaded") != nil, "\(flow.outputText.suffix(1000))")
        let second = try media.runSipp(scenario, port: sip, service: "100", talkMs: 200)
        #expect(second.0 == 0, "\(second.1)\n\(flow.outputText.suffix(2500))\n\(ct.outputText.suffix(2500))")
        #expect(TestSupport.waitUntil(20) { first.value != nil })
        #expect(first.value?.0 == 0, "\(first.value?.1 ?? "")")
        #expect(TestSupport.waitUntil(15) { (try? pg.query("select count(*) from calls")) == "2" })
        // The first call (arrived first) ran v1 to its end; the second ran v2.
        #expect(try pg.query("select string_agg(flow||' v'||flow_version, ',' order by arrived_at) from calls") == "greet v1,greet v2")
    }
}

extension FlowsTests {
    /// app-operate flow validate/publish/list/show/rollback and mapping publish, against a
    /// flow-server with a database: versions are kept, a rollback is one command, and every
    /// change reaches the running Flow-Server.
    @Test func publishListShowAndRollBack() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let dir = TestSupport.temporaryDirectory("flow-admin")
        defer { try? FileManager.default.removeItem(at: dir) }
        let flows = dir.appendingPathComponent("flows")
        try FileManager.default.createDirectory(at: flows, withIntermediateDirectories: true)
        let env = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret", "HOTLINE_APP_LINK_SECRET": "e2e-app-secret"]
        let server = try FlowServerUnderTest(name: "flow-admin", ct: 9, database: pg.url, spool: dir.appendingPathComponent("spool"), flows: flows, environment: env)
        let flow = server.process
        defer { flow.stop() }
        let app = server.app
        let admin = env.merging(try pg.addOperator("3001", roles: ["admin"])) { $1 }
        func op(_ args: [String]) throws -> (Int32, String) {
            let r = try ChildProcess.run("app-operate", args + ["--connect", app], environment: admin, seconds: 30)
            return (r.status, r.output)
        }
        func file(_ name: String, _ text: String) throws -> String {
            let u = dir.appendingPathComponent(name)
            try text.write(to: u, atomically: true, encoding: .utf8)
            return u.path
        }
        let v1 = try file("v1.yaml", "flow: greet\nstart: hi\nnodes:\n  hi:\n    type: play\n    prompts: \"tts:en:One\"\n    next: bye\n  bye:\n    type: hangup\n")
        let v2 = try file("v2.yaml", "flow: greet\nstart: hi\nnodes:\n  hi:\n    type: play\n    prompts: \"tts:en:Two\"\n    next: bye\n  bye:\n    type: hangup\n")
        let bad = try file("bad.yaml", "flow: greet\nstart: hi\nnodes:\n  hi:\n    type: play\n    prompts: \"tts:en:x\"\n    next: nowhere\n")
        let refused = try op(["flow", "validate", bad])
        #expect(refused.0 != 0 && refused.1.contains("line 4, column 3: node hi goes to nowhere, which does not exist"), "\(refused.1)")
        #expect(try op(["flow", "validate", v1]).1.contains("ok: flow greet, 2 nodes"))
        #expect(try op(["flow", "publish", bad]).0 != 0, "a refused flow is not published")
        #expect(try op(["flow", "publish", v1]).1.contains("published flow greet v1"))
        #expect(try op(["flow", "publish", v2]).1.contains("published flow greet v2"))
        #expect(flow.waitForLine(containing: "flow greet v2 loaded from the database") != nil, "\(flow.outputText.suffix(1500))")
        #expect(try op(["flow", "publish", v2]).1.contains("published flow greet v2"), "publishing the current text again is a no-op")
        #expect(try op(["flow", "list"]).1.contains("greet  v2 current of 2"))
        let shown = try op(["flow", "show", "greet"]).1
        #expect(shown.contains("flow greet v2") && shown.contains("hi") && shown.contains("play") && shown.contains("bye"), "\(shown)")
        #expect(try op(["flow", "show", "greet", "--dot"]).1.contains("digraph \"greet v2\""))
        #expect(try op(["flow", "show", "greet", "--version", "1", "--source"]).1.contains("tts:en:One"))
        #expect(try op(["flow", "rollback", "greet", "1"]).1.contains("flow greet is now v1"))
        #expect(flow.waitForLine(containing: "flow greet v1 loaded from the database") != nil, "\(flow.outputText.suffix(1500))")
        #expect(try op(["flow", "rollback", "greet", "7"]).1.contains("no version 7"))
        // The mapping table: unknown flows are refused, a good one is published and loaded.
        let badMap = try file("m0.yaml", "default: nosuch\n")
        #expect(try op(["mapping", "publish", badMap]).1.contains("unknown flows nosuch"))
        let map = try file("m1.yaml", "mappings:\n  - called: [\"4000\"]\n    flow: greet\n")
        #expect(try op(["mapping", "publish", map]).1.contains("published mapping table v1"))
        #expect(flow.waitForLine(containing: "mapping table v1 loaded") != nil)
        #expect(try pg.query("select string_agg(flow||':'||version, ',' order by version) from flow_versions") == "greet:1,greet:2")
        #expect(try pg.query("select current_version from flows where name = 'greet'") == "1")
    }
}

extension FlowsTests {
    /// Flows as code: `app-operate flow validate --offline` runs the Flow-Server's validation with
    /// no server at all — a subflow in another file given is found, one not given is refused
    /// with its line, and the exit status says whether every file passed.
    @Test func flowsValidateOfflineWithoutAServer() throws {
        let dir = TestSupport.temporaryDirectory("flows-as-code")
        defer { try? FileManager.default.removeItem(at: dir) }
        let main = dir.appendingPathComponent("main.yaml"), sub = dir.appendingPathComponent("goodbye.yaml"), bad = dir.appendingPathComponent("bad.yaml")
        try "flow: main\nstart: hi\nnodes:\n  hi:\n    type: play\n    prompts: \"tone:beep:200\"\n    next: out\n  out:\n    type: subflow\n    flow: goodbye\n    next: end\n  end:\n    type: hangup\n"
            .write(to: main, atomically: true, encoding: .utf8)
        try "flow: goodbye\nstart: bye\nnodes:\n  bye:\n    type: hangup\n    cause: done\n".write(to: sub, atomically: true, encoding: .utf8)
        try "flow: bad\nstart: a\nnodes:\n  a:\n    type: subflow\n    flow: nowhere\n    next: b\n  b:\n    type: play\n    next: a\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        var r = try ChildProcess.run("app-operate", ["flow", "validate", "--offline", main.path, sub.path], seconds: 30)
        #expect(r.status == 0 && r.output.contains("main.yaml: ok: flow main, 3 nodes") && r.output.contains("goodbye.yaml: ok"), "\(r.output)")
        r = try ChildProcess.run("app-operate", ["flow", "validate", "--offline", main.path], seconds: 30)
        #expect(r.status == 1 && r.output.contains("main.yaml: refused") && r.output.contains("goodbye"), "the subflow's file was not given: \(r.output)")
        r = try ChildProcess.run("app-operate", ["flow", "validate", bad.path, main.path, sub.path], seconds: 30)
        #expect(r.status == 1 && r.output.contains("bad.yaml: refused") && r.output.contains("line 6") && r.output.contains("main.yaml: ok"),
                "no work code: offline by itself; every problem with its line: \(r.output)")
    }
}
