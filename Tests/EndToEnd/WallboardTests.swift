import Foundation
import Testing
import TestSupport
@testable import Protocol

/// The live wallboard across two Flow-Servers, over real sockets: SIPp callers, baresip agent
/// phones, scripted agents, a supervisor's `app-operate board --watch --json`, a real PostgreSQL.
@Suite(.serialized) struct WallboardTests {
    let edge = SIPEdgeTests()

    /// A caller who hangs up by itself after `ms` (waiting in the queue, say).
    static func quitter(_ c: AgentTests.Center, audio: URL, ms: Int) throws -> ChildProcess {
        let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_hangup_after.xml"), encoding: .utf8)
            .replacingOccurrences(of: "@AUDIO@", with: audio.path).replacingOccurrences(of: "@PAUSE@", with: String(ms))
        let scenario = c.dir.appendingPathComponent("quitter-\(UUID().uuidString.prefix(6)).xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        return try SIPp.start("127.0.0.1:\(c.sip)", scenario: scenario, ["-s", "4000", "-m", "1", "-timeout", "60", "-timeout_error"])
    }

    static func json(_ line: String) -> [String: Any]? { try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] }

    /// The sales queue's figures in a board view line.
    static func sales(_ view: [String: Any]) -> [String: String]? {
        ((view["queues"] as? [[String: Any]]) ?? []).first { ($0["name"] as? String) == "sales" }?["figures"] as? [String: String]
    }

    /// Agents 1001 (on flow-acd) and 1002 (on flow-acd2); a burst of calls: answered, one
    /// transferred back into the queue, abandoned (one within the short-abandon threshold). A
    /// supervisor watching the board on flow-acd sees the waiting caller and the answers pushed as
    /// they happen; afterwards both Flow-Servers' boards give the day's figures of the sales queue
    /// exactly as `app-operate report --by queue --interval day` does.
    @Test func dayFiguresEqualTheReportAcrossTwoFlowServers() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {service_level_seconds: 20}\nwrap_up_seconds: 1\n", flowServers: 2)
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        _ = try c.phone("1002", answers: true, audio: try AgentTests.toneWAV(c.dir, 900))
        let env = c.env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-2001"]) { $1 }
        let watch = try ChildProcess("app-operate", ["board", "--watch", "--json", "--connect", c.apps[0], "--code", "2001"], environment: env)
        c.watchers.append(watch)
        #expect(watch.waitForLine(containing: "\"full\":true", seconds: 15) != nil, "\(watch.outputText)")
        let a1 = try c.watcher("1001", ["--transfer-to", "queue:sales", "--transfer-after", "2", "--hangup-after", "2"], server: 0)
        let a2 = try c.watcher("1002", ["--hangup-after", "2"], server: 1)
        #expect(watch.waitForLine(containing: "\"agent\":\"1002\"", seconds: 15) != nil, "the other Flow-Server's agent is on the board: \(watch.outputText.suffix(1500))")
        let tone = try AgentTests.tone(c.dir, 440)

        // Answered calls (the first one 1001 takes is transferred back into the queue).
        for _ in 0..<3 {
            let caller = try c.caller(audio: tone)
            #expect(caller.wait(seconds: 40) == 0, "\(caller.outputText.suffix(800))\n\(c.flows.map { $0.outputText.suffix(1500) }.joined(separator: "\n----\n"))")
        }
        #expect(a1.outputText.contains("\"action\":\"transfer\""), "\(a1.outputText)")

        // Nobody ready: two callers give up, after 7 s and after 2 s (a short abandon).
        for (code, server) in [("1001", 0), ("1002", 1)] {
            let r = try ChildProcess.run("app-operate", ["agent", "not-ready", "reason=meeting", "--connect", c.apps[server], "--code", code],
                                         environment: c.env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-\(code)"]) { $1 }, seconds: 20)
            #expect(r.status == 0, "\(r.output)")
        }
        let quit7 = try Self.quitter(c, audio: tone, ms: 7000)
        #expect(TestSupport.waitUntil(10) { watch.outputLines.compactMap(Self.json).contains { Self.sales($0)?["waiting"] == "1" } },
                "the waiting caller was pushed: \(watch.outputText.suffix(2000))")
        #expect(quit7.wait(seconds: 30) == 0, "\(quit7.outputText.suffix(800))")
        let quit2 = try Self.quitter(c, audio: tone, ms: 2000)
        #expect(quit2.wait(seconds: 30) == 0, "\(quit2.outputText.suffix(800))")

        // Every call is written, then the boards settle (wrap-ups end, the updates go round).
        #expect(TestSupport.waitUntil(30) { (try? c.pg.query("select count(*) from calls where queue = 'sales'")) == "5" },
                "\((try? c.pg.query("select string_agg(disposition, ',') from calls")) ?? "")")
        Thread.sleep(forTimeInterval: 3)
        let report = try c.appOperate("2001", ["report", "--by", "queue", "--interval", "day", "--format", "json"])
        #expect(report.status == 0, "\(report.output)")
        let rows = (Self.json(report.output.replacingOccurrences(of: "\n", with: ""))?["rows"] as? [[String: Any]]) ?? []
        let row = try #require(rows.first { ($0["key"] as? String) == "sales" }, "\(report.output)")
        #expect(row["offered"] as? Int == 5 && row["answered"] as? Int == 3 && row["abandoned"] as? Int == 2 && row["short_abandoned"] as? Int == 1, "\(row)")
        for server in 0..<2 {
            let b = try ChildProcess.run("app-operate", ["board", "--json", "--connect", c.apps[server], "--code", "2001"], environment: env, seconds: 20)
            #expect(b.status == 0, "\(b.output)")
            let f = try #require(Self.json(b.output.split(separator: "\n").first.map(String.init) ?? "").flatMap(Self.sales), "\(b.output)")
            for (k, v) in [("offered", row["offered"]), ("answered", row["answered"]), ("abandoned", row["abandoned"]), ("short_abandoned", row["short_abandoned"])] {
                #expect(f["day_" + k] == "\(v as? Int ?? -1)", "server \(server) day_\(k): board \(f["day_" + k] ?? "-") report \(v ?? "-")")
            }
            for (k, v) in [("service_level", row["service_level"]), ("asa_seconds", row["asa_seconds"]), ("aht_seconds", row["aht_seconds"]),
                           ("abandon_rate", row["abandon_rate"])] {
                let board = Double(f["day_" + k] ?? "") ?? -1, rep = (v as? Double) ?? -2
                #expect(abs(board - rep) < 0.002, "server \(server) day_\(k): board \(board) report \(rep)")
            }
            #expect(f["waiting"] == "0" && f["agents"] == "2" && f["agents_not-ready"] == "2", "\(f)")
        }
        // Pushed, not polled: the watcher saw the answers counted one by one.
        let answered = Set(watch.outputLines.compactMap(Self.json).compactMap { Self.sales($0)?["day_answered"] })
        #expect(answered.isSuperset(of: ["1", "2", "3"]), "\(answered)")
        _ = a1.stop()
        _ = a2.stop()
    }
}
