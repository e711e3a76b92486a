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
        let flow = try ChildProcess("flow-server", ["--name", name, "--ct", "127.0.0.1:\(link)", "--listen", "127.0.0.1:0",
                                                     "--database-url", pg.url, "--spool", spool.path], environment: env)
        #expect(flow.waitForLine(containing: "listening app_link=") != nil, "\(flow.outputText)")
        return flow
    }

    /// SIPp places `count` calls at `rate` per second in the background (each rejected 480 by
    /// the flow-server, which has no flows yet: still one call, one record).
    func sippCalls(sip: Int, count: Int, rate: Int) throws -> ChildProcess {
        SIPEdgeTests.sippPort += 4
        let p = Int(SIPEdgeTests.sippPort)
        return try ChildProcess("/usr/bin/sipp", ["127.0.0.1:\(sip)", "-sf", SIPEdgeTests.fixtures.appendingPathComponent("sipp/invite_480.xml").path,
                                                  "-s", "4321", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", "\(p)", "-cp", "\(p + 1)", "-bind_local",
                                                  "-nostdin", "-r", "\(rate)", "-m", "\(count)", "-timeout", "120", "-timeout_error"])
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
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == "1" }, "migrations applied at start")
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
        #expect(TestSupport.waitUntil(10) { (try? pg.query("select count(*) from schema_migrations")) == "1" })
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
}
