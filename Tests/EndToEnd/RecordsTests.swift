import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Call records over the real call path: SIPp calls the CT-Server, a flow-server process
/// disposes of them and writes one CDR per call into a private PostgreSQL, through outages
/// and crashes.
@Suite(.serialized) struct RecordsTests {
    let calls = CallControlTests()
    let env = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret", "HOTLINE_APP_LINK_SECRET": "e2e-app-secret"]

    func startFlow(link: Int, pg: PrivatePostgres, spool: URL, name: String = "flow-db") throws -> ChildProcess {
        try FlowServerUnderTest(name: name, ct: link, database: pg.url, spool: spool, environment: env).process
    }

    /// SIPp places `count` calls at `rate` per second in the background (each rejected 480 by
    /// the flow-server, which has no flows yet: still one call, one record).
    func sippCalls(sip: Int, count: Int, rate: Int) throws -> ChildProcess {
        try SIPp.start("127.0.0.1:\(sip)", scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/invite_480.xml"),
                       ["-s", "4321", "-r", "\(rate)", "-m", "\(count)", "-timeout", "120", "-timeout_error"])
    }

    /// PostgreSQL stops for 30 s while calls keep coming: afterwards there is exactly one CDR per call.
    @Test func cdrsSurviveADatabaseOutage() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let (ct, sip, link, dir) = try calls.startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try startFlow(link: link, pg: pg, spool: dir.appendingPathComponent("spool"))
        defer { flow.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-db attached") != nil)
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == TestSupport.migrationCount }, "migrations applied at start")
        let sipp = try sippCalls(sip: sip, count: 90, rate: 2)
        defer { sipp.stop() }
        Thread.sleep(forTimeInterval: 6)
        pg.pause()
        let outageStart = Date()
        Thread.sleep(forTimeInterval: 31)
        #expect(flow.outputText.contains("records stay in the spool"), "the flow-server noticed the outage")
        try pg.start()
        #expect(TestSupport.waitUntil(90) { !sipp.isRunning })
        #expect(sipp.terminationStatus == 0, "\(sipp.outputText.suffix(1500))")
        #expect(Date().timeIntervalSince(outageStart) > 30)
        #expect(TestSupport.waitUntil(30) { (try? pg.query("select count(*) from calls")) == "90" }, "\((try? pg.query("select count(*) from calls")) ?? "?") of 90")
        #expect(try pg.query("select count(distinct call_id), count(distinct channel_id) from calls") == "90|90")
        #expect(try pg.query("select count(*) from calls where disposition = 'rejected' and sip_code = 480 and cause = 'no flow mapped for 4321'") == "90")
        #expect(try pg.query("select count(*) from call_events where kind = 'ended'") == "90")
    }

    /// The flow-server is killed (SIGKILL) while records wait in its spool; restarted, it
    /// replays them: nothing lost, nothing doubled.
    @Test func crashWhileSpoolingLosesNothing() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let (ct, sip, link, dir) = try calls.startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let spool = dir.appendingPathComponent("spool")
        var flow = try startFlow(link: link, pg: pg, spool: spool)
        #expect(ct.waitForLine(containing: "flow-server flow-db attached") != nil)
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == TestSupport.migrationCount })
        let first = try sippCalls(sip: sip, count: 10, rate: 10)
        #expect(TestSupport.waitUntil(30) { !first.isRunning } && first.terminationStatus == 0)
        #expect(TestSupport.waitUntil(20) { (try? pg.query("select count(*) from calls")) == "10" })
        pg.pause()
        let second = try sippCalls(sip: sip, count: 30, rate: 10)
        #expect(TestSupport.waitUntil(30) { !second.isRunning } && second.terminationStatus == 0, "\(second.outputText.suffix(800))")
        Thread.sleep(forTimeInterval: 1)
        flow.signal(SIGKILL)
        flow.stop()
        let segments = (try? FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".spool") }) ?? []
        #expect(!segments.isEmpty, "records were waiting in the spool")
        try pg.start()
        flow = try startFlow(link: link, pg: pg, spool: spool)
        defer { flow.stop() }
        #expect(TestSupport.waitUntil(30) { (try? pg.query("select count(*) from calls")) == "40" }, "\((try? pg.query("select count(*) from calls")) ?? "?") of 40: \(flow.outputText.suffix(3000))")
        #expect(try pg.query("select count(distinct call_id) from calls") == "40")
        #expect(TestSupport.waitUntil(10) { ((try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? ["x"]).filter { $0.hasSuffix(".spool") }.isEmpty },
                "the spool drained")
    }

    /// `app-operate report` asks a flow-server, which reads PostgreSQL: table, CSV and JSON.
    @Test func reportThroughAppOperate() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let dir = TestSupport.temporaryDirectory("report")
        defer { try? FileManager.default.removeItem(at: dir) }
        let flow = try startFlow(link: 9, pg: pg, spool: dir.appendingPathComponent("spool"), name: "flow-report")
        defer { flow.stop() }
        let line = try #require(flow.outputLines.first { $0.contains("app_link=") })
        let app = try #require(line.split(separator: " ").first { $0.hasPrefix("app_link=") }).dropFirst("app_link=".count)
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == TestSupport.migrationCount })
        // Three calls to "sales" on 2026-11-20 (UTC): answered after 10 s (120 s talk, 30 s wrap-up),
        // answered after 40 s (60 s), abandoned after 50 s.
        _ = try pg.query("""
            insert into queues (name, service_level_seconds, short_abandon_seconds) values ('sales', 20, 5);
            insert into calls (call_id, channel_id, flow_server, direction, caller, called, arrived_at, queue, queued_at, agent,
                               agent_answered_at, ended_at, disposition, wrapup_seconds) values
            (gen_random_uuid(), 'c1', 'f', 'inbound', '1', '4000', '2026-11-20 09:00:00+00', 'sales', '2026-11-20 09:00:00+00', 'A1',
             '2026-11-20 09:00:10+00', '2026-11-20 09:02:10+00', 'answered', 30),
            (gen_random_uuid(), 'c2', 'f', 'inbound', '2', '4000', '2026-11-20 09:10:00+00', 'sales', '2026-11-20 09:10:00+00', 'A2',
             '2026-11-20 09:10:40+00', '2026-11-20 09:11:40+00', 'answered', 0),
            (gen_random_uuid(), 'c3', 'f', 'inbound', '3', '4000', '2026-11-20 09:20:00+00', 'sales', '2026-11-20 09:20:00+00', null,
             null, '2026-11-20 09:20:50+00', 'abandoned', 0);
            """)
        let env = ["HOTLINE_APP_LINK_SECRET": "e2e-app-secret"].merging(try pg.addOperator("3001", roles: ["admin", "supervisor"])) { $1 }
        let args = ["report", "--connect", String(app), "--from", "2026-11-20", "--to", "2026-11-21", "--utc", "--interval", "day", "--by", "queue"]
        let json = try ChildProcess.run("app-operate", args + ["--format", "json"], environment: env, seconds: 30)
        #expect(json.status == 0, "\(json.output)")
        let obj = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let rows = try #require(obj?["rows"] as? [[String: Any]], "\(json.output)")
        #expect(rows.count == 1)
        let r = rows[0]
        #expect(r["key"] as? String == "sales" && r["offered"] as? Int == 3 && r["answered"] as? Int == 2 && r["abandoned"] as? Int == 1)
        #expect(abs((r["service_level"] as? Double ?? 0) - 1.0 / 3) < 1e-9, "1 of 3 answered within 20 s")
        #expect(abs((r["asa_seconds"] as? Double ?? 0) - 25) < 1e-9 && abs((r["aht_seconds"] as? Double ?? 0) - 105) < 1e-9)
        #expect(abs((r["longest_wait_seconds"] as? Double ?? 0) - 50) < 1e-9)
        let csv = try ChildProcess.run("app-operate", args + ["--format", "csv"], environment: env, seconds: 30)
        #expect(csv.output.hasPrefix("interval,key,offered,answered,abandoned"), "\(csv.output)")
        #expect(csv.output.contains("2026-11-20T00:00:00+00:00,sales,3,2,1,0,0.3333"), "\(csv.output)")
        let table = try ChildProcess.run("app-operate", args, environment: env, seconds: 30)
        #expect(table.output.contains("SERVICE_LEVEL") && table.output.contains("33.3%"), "\(table.output)")
        let bad = try ChildProcess.run("app-operate", ["report", "--connect", String(app), "--by", "weather"], environment: env, seconds: 30)
        #expect(bad.status != 0 && bad.output.contains("--by is total, queue, agent or flow"), "\(bad.output)")
    }

    /// Customer records through app-operate: add, find by phone and account, edit, history.
    @Test func customersThroughAppOperate() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let dir = TestSupport.temporaryDirectory("customers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let flow = try startFlow(link: 9, pg: pg, spool: dir.appendingPathComponent("spool"), name: "flow-cust")
        defer { flow.stop() }
        let line = try #require(flow.outputLines.first { $0.contains("app_link=") })
        let app = String(try #require(line.split(separator: " ").first { $0.hasPrefix("app_link=") }).dropFirst("app_link=".count))
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == TestSupport.migrationCount })
        let env = ["HOTLINE_APP_LINK_SECRET": "e2e-app-secret"].merging(try pg.addOperator("3001", roles: ["admin", "supervisor"])) { $1 }
        func op(_ args: [String]) throws -> (Int32, String) {
            let r = try ChildProcess.run("app-operate", ["customer"] + args + ["--connect", app], environment: env, seconds: 30)
            return (r.status, r.output)
        }
        let add = try op(["add", "--name", "李华", "--account", "ACC-7", "--phone", "13800007777", "--field", "vip=gold"])
        #expect(add.0 == 0 && add.1.contains("#1  李华  account ACC-7  phones 13800007777") && add.1.contains("vip: gold"), "\(add.1)")
        let byPhone = try op(["find", "--phone", "138-0000-7777"])
        #expect(byPhone.1.contains("李华"), "\(byPhone.1)")
        let edit = try op(["edit", "1", "--add-phone", "010-12345678", "--field", "vip=platinum"])
        #expect(edit.1.contains("phones 13800007777, 01012345678") && edit.1.contains("vip: platinum"), "\(edit.1)")
        #expect(try op(["find", "--account", "ACC-7"]).1.contains("platinum"))
        let dup = try op(["add", "--name", "x", "--account", "ACC-7"])
        #expect(dup.0 != 0 && dup.1.contains("already exists"), "\(dup.1)")
        _ = try pg.query("""
            insert into calls (call_id, channel_id, flow_server, direction, caller, called, arrived_at, ended_at, disposition)
            values (gen_random_uuid(), 'c1', 'f', 'inbound', '01012345678', '4000', now() - interval '1 hour', now() - interval '59 minutes', 'self-service')
            """)
        let history = try op(["history", "1"])
        #expect(history.1.contains("01012345678 -> 4000  self-service") && history.1.contains("60 s"), "\(history.1)")
        #expect(try op(["find", "--phone", "999"]).1.contains("no customer found"))

        // Hostile input from a logged-in operator: an id beyond bigint, and a flow of 5,000
        // nested lists — refused with a reason, and the server answers on.
        for args in [["find", "--id", "9223372036854775808"], ["history", "18446744073709551615"]] {
            let r = try op(args)
            #expect(r.0 != 0 && r.1.contains("out of range"), "\(args): \(r.1)")
        }
        let nested = dir.appendingPathComponent("nested.yaml")
        try ("name: deep\nstart: a\nnodes:\n  a: {play: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}\n")
            .write(to: nested, atomically: true, encoding: .utf8)
        let publish = try ChildProcess.run("app-operate", ["flow", "publish", nested.path, "--connect", app], environment: env, seconds: 30)
        #expect(publish.status != 0 && publish.output.contains("nested") && publish.output.contains("line 4"), "\(publish.output)")
        #expect(flow.isRunning, "the flow-server is alive: \(flow.outputText.suffix(500))")
        #expect(try op(["find", "--account", "ACC-7"]).1.contains("platinum"), "and still answers")
    }
}

extension RecordsTests {
    /// Calls are up in a flow when the CT-Server is killed (SIGKILL): the Flow-Server closes
    /// each of them — exactly one record per call, disposition `lost` with the cause. Then a
    /// new CT-Server, stopped with SIGTERM, exits 0 after saying Goodbye: the Flow-Server sees
    /// "peer said goodbye".
    @Test func callsUpWhenTheCTServerDiesGetOneRecordEach() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let (ct, sip, link, dir) = try calls.startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flows = dir.appendingPathComponent("flows")
        try FileManager.default.createDirectory(at: flows, withIntermediateDirectories: true)
        try """
            flow: hold
            start: wait
            nodes:
              wait:
                type: play
                prompts: ["silence:60000"]
                next: bye
              bye:
                type: hangup
                cause: done
            """.write(to: flows.appendingPathComponent("hold.yaml"), atomically: true, encoding: .utf8)
        try "default: hold\n".write(to: flows.appendingPathComponent("mapping.yaml"), atomically: true, encoding: .utf8)
        let flow = try FlowServerUnderTest(name: "flow-ctdeath", ct: link, database: pg.url, spool: dir.appendingPathComponent("spool"), flows: flows,
                                           environment: env).process
        defer { flow.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-ctdeath attached") != nil)
        let silence = dir.appendingPathComponent("silence.ul")
        try MediaTests.sox(["-n", "-r", "8000", "-c", "1", "-t", "ul", silence.path, "trim", "0", "1"])
        let scenario = dir.appendingPathComponent("talk.xml")
        try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_talk_until_bye.xml"), encoding: .utf8)
            .replacingOccurrences(of: "@AUDIO@", with: silence.path).write(to: scenario, atomically: true, encoding: .utf8)
        let sipp = try SIPp.start("127.0.0.1:\(sip)", scenario: scenario, ["-s", "100", "-r", "10", "-m", "8", "-l", "8", "-timeout", "40", "-timeout_error"])
        defer { sipp.stop() }
        #expect(TestSupport.waitUntil(20) { flow.outputLines.filter { $0.contains("runs flow hold") }.count == 8 }, "\(flow.outputText.suffix(1500))")
        ct.signal(SIGKILL)
        #expect(flow.waitForLine(containing: "8 open calls recorded as lost") != nil, "\(flow.outputText.suffix(1500))")
        #expect(TestSupport.waitUntil(20) { (try? pg.query("select count(*) from calls")) == "8" }, "\((try? pg.query("select count(*) from calls")) ?? "?")")
        #expect(try pg.query("select count(distinct call_id), count(*) filter (where disposition = 'lost' and cause like 'ct-server link lost%') from calls") == "8|8")
        #expect(try pg.query("select count(*) from call_events where kind = 'ended'") == "8")
        #expect(flow.isRunning, "the flow-server lives on and reconnects")

        // A planned stop: SIGTERM, exit 0, Goodbye seen by the Flow-Server.
        // (With the shipped configuration: its media threads start before the loop, and once took
        // SIGTERM's default action — exit 143, no Goodbye.)
        let config = TestSupport.packageRoot.appendingPathComponent("deploy/config/ct-server.yaml").path
        let ct2 = try ChildProcess("ct-server", ["--config", config, "--link-listen", "127.0.0.1:\(link)", "--sip-listen", "127.0.0.1:0"], environment: env)
        defer { ct2.stop() }
        #expect(ct2.waitForLine(containing: "flow-server flow-ctdeath attached", seconds: 30) != nil, "\(ct2.outputText.suffix(1000))")
        ct2.signal(SIGTERM)
        #expect(ct2.wait(seconds: 10) == 0, "exit status \(ct2.terminationStatus): \(ct2.outputText.suffix(800))")
        #expect(ct2.outputText.contains("signal 15: stopping"), "\(ct2.outputText.suffix(800))")
        #expect(flow.waitForLine(containing: "peer said goodbye") != nil, "\(flow.outputText.suffix(800))")
        // And the Flow-Server itself stops cleanly on SIGTERM.
        flow.signal(SIGTERM)
        #expect(flow.wait(seconds: 10) == 0, "flow-server exit status \(flow.terminationStatus)")
    }
}

extension RecordsTests {
    /// The client refuses what it cannot send, with a reason (it used to trap: rc 132).
    @Test func appOperateRefusesImpossibleArguments() throws {
        let early = try ChildProcess.run("app-operate", ["report", "--from", "1969-12-31", "--connect", "127.0.0.1:9"], seconds: 30)
        #expect(early.status != 0 && early.status != 132 && early.output.contains("from 1970-01-01 on"), "\(early.status): \(early.output)")
        let backwards = try ChildProcess.run("app-operate", ["report", "--from", "2026-12-02", "--to", "2026-12-01", "--connect", "127.0.0.1:9"], seconds: 30)
        #expect(backwards.status != 0 && backwards.output.contains("--to must come after --from"), "\(backwards.output)")
        let attempts = try ChildProcess.run("app-operate", ["status", "--attempts", "0", "--connect", "127.0.0.1:9"], seconds: 30)
        #expect(attempts.status != 0 && attempts.output.contains("--attempts is 1 to 100"), "\(attempts.output)")
    }
}

extension RecordsTests {
    /// An empty database URL is refused at start (libpq would fall back to its default socket);
    /// an unreachable one is reported on one log line.
    @Test func emptyDatabaseURLIsRefused() throws {
        let r = try ChildProcess.run("flow-server", ["--name", "f", "--ct", "127.0.0.1:9", "--listen", "127.0.0.1:0", "--database-url", ""],
                                     environment: env, seconds: 30)
        #expect(r.status != 0 && r.output.contains("--database-url is empty"), "\(r.status): \(r.output)")
    }
}

extension RecordsTests {
    /// Each service refuses a misspelt key with its name, line and the key meant, and useless
    /// values with their keys; `--check-config` prints the effective configuration and exits 0.
    @Test func servicesRefuseMisspeltKeysAndUselessValues() throws {
        let dir = TestSupport.temporaryDirectory("strict-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, [String])] = [
            ("ct-server", "sip:\n  listne: 0.0.0.0:5060\n", ["line 2: unknown setting sip.listne (did you mean listen?)"]),
            ("ct-server", "flow_lnik:\n  listen: 127.0.0.1:7100\n", ["line 1: unknown setting flow_lnik (did you mean flow_link?)"]),
            ("flow-server", "name: f\ndatabse:\n  url: postgresql://x@y/z\n", ["line 2: unknown setting databse (did you mean database?)"]),
            ("ct-server", "log_level: loud\nsip:\n  min_expires: -5\n", ["log_level: loud is not one of", "sip.min_expires: -5 is outside"]),
            ("flow-server", "database:\n  url: garbage\n", ["database.url: libpq cannot read it"]),
        ]
        for (i, (binary, text, wanted)) in cases.enumerated() {
            let file = dir.appendingPathComponent("c\(i).yaml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            let r = try ChildProcess.run(binary, ["--config", file.path, "--check-config"], environment: env, seconds: 30)
            #expect(r.status != 0, "\(binary) accepted \(text)")
            for w in wanted { #expect(r.output.contains(w), "\(binary): \(w) in \(r.output)") }
        }
        let ok = try ChildProcess.run("ct-server", ["--config", TestSupport.packageRoot.appendingPathComponent("deploy/config/ct-server.yaml").path, "--check-config"],
                                      environment: env, seconds: 30)
        #expect(ok.status == 0 && ok.output.contains("flow_link:") && ok.output.contains("sip:"), "\(ok.output)")
    }
}
