import Foundation
import Testing
import TestSupport

/// Charging end to end: an admin publishes a tariff with app-operate, SIPp callers go through a
/// flow, their records are rated as they are written (PostgreSQL), the month's bill for their
/// number lists each call with its charge and a total equal to their sum; re-rating is
/// idempotent and, after a correction, changes exactly those calls; roles are checked.
@Suite(.serialized) struct ChargingTests {
    let edge = SIPEdgeTests()

    static let info = """
    flow: info
    start: hello
    nodes:
      hello:
        type: play
        prompts: "tts:en:Your balance is ten yuan."
        next: bye
      bye:
        type: hangup
        cause: done
    """

    static func tariff(effective: String, firstUnitFen: Int) -> String {
        """
        effective_from: "\(effective)"
        utc_offset: "+00:00"
        free_numbers: ["110"]
        services:
          - name: balance
            match: {called: ["4001"]}
            unit_seconds: 6
            first_unit_seconds: 60
            bands:
              - {name: all-day, first_unit_fen: \(firstUnitFen), unit_fen: 5}
            info_fee: {grade: B, per_call_fen: 100}
        """
    }

    @Test func callsThroughAFlowAreRatedBilledAndReRated() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n",
                                      mapping: "mappings:\n  - called: [\"4001\"]\n    flow: info\ndefault: support\n", extraFlows: ["info": Self.info])
        defer { c.stop() }
        let today = { () -> String in
            let f = DateFormatter(); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd"; return f.string(from: Date())
        }()
        let month = String(today.prefix(7))
        let v1 = c.dir.appendingPathComponent("tariff-v1.yaml")
        try Self.tariff(effective: "2026-01-01", firstUnitFen: 25).write(to: v1, atomically: true, encoding: .utf8)
        // Only an admin publishes; a supervisor may validate.
        let denied = try c.appOperate("2001", ["admin", "tariff", "publish", v1.path])
        #expect(denied.status != 0 && denied.output.contains("permission denied"), "\(denied.output)")
        let published = try c.appOperate("3001", ["admin", "tariff", "publish", v1.path])
        #expect(published.status == 0 && published.output.contains("published tariff v1"), "\(published.output)")

        for _ in 0..<3 {
            let caller = try c.caller(audio: try AgentTests.tone(c.dir, 440), number: "4001")
            #expect(caller.wait(seconds: 30) == 0, "\(caller.outputText.suffix(1000))\n\(c.flow.outputText.suffix(1500))")
        }
        #expect(TestSupport.waitUntil(15) { (try? c.pg.query("select count(*) from call_charges")) == "3" }, "\(c.flow.outputText.suffix(2000))")
        // Each call: answered, a few seconds: one 60-s first unit (25) + the per-call fee (100).
        #expect(try c.pg.query("select string_agg(total_fen::text, ',') from call_charges") == "125,125,125")

        let html = c.dir.appendingPathComponent("bill.html")
        let bill = try c.appOperate("2001", ["bill", "--caller", "caller1", "--month", month, "--utc", "--html", html.path])
        #expect(bill.status == 0 && bill.output.contains("bill for caller1: 3 calls, 375 fen"), "\(bill.output)")
        #expect(bill.output.components(separatedBy: "balance").count - 1 == 3, "one line per call: \(bill.output)")
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("id=\"total\">3.75<"), "the bill's total is the sum of its calls")
        let csv = try c.appOperate("2001", ["bill", "--caller", "caller1", "--month", month, "--utc", "--format", "csv"])
        let sum = csv.output.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: ",")[8]) }.reduce(0, +)
        #expect(sum == 375, "\(csv.output)")

        // Re-rating is idempotent; an agent may not.
        #expect(try c.appOperate("1001", ["rate", "--month", month, "--utc"]).output.contains("permission denied"))
        let again = try c.appOperate("3001", ["rate", "--month", month, "--utc"])
        #expect(again.output.contains("0 changed") && again.output.contains("3 unchanged"), "\(again.output)")
        // A correction from today (first unit 25 → 30) changes exactly those three calls.
        let v2 = c.dir.appendingPathComponent("tariff-v2.yaml")
        try Self.tariff(effective: today, firstUnitFen: 30).write(to: v2, atomically: true, encoding: .utf8)
        #expect(try c.appOperate("3001", ["admin", "tariff", "publish", v2.path]).output.contains("published tariff v2"))
        let corrected = try c.appOperate("3001", ["rate", "--month", month, "--utc"])
        #expect(corrected.output.contains("3 changed") && corrected.output.contains("0 unchanged"), "\(corrected.output)")
        #expect(try c.appOperate("3001", ["rate", "--month", month, "--utc"]).output.contains("0 changed"))
        #expect(try c.appOperate("2001", ["bill", "--caller", "caller1", "--month", month, "--utc"]).output.contains("3 calls, 390 fen"))
        #expect(try c.pg.query("select count(*) from tariff_audit") == "5", "2 publishes and 3 re-ratings are audited")

        // Charges by service, with a chart.
        let svg = c.dir.appendingPathComponent("charges.svg")
        let charges = try c.appOperate("2001", ["charges", "--month", month, "--utc", "--by", "service", "--chart", svg.path])
        #expect(charges.status == 0 && charges.output.contains("balance") && charges.output.contains("3.90"), "\(charges.output)")
        let chart = try String(contentsOf: svg, encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.components(separatedBy: "class=\"bar\"").count - 1 == 1)
        // The statistics report draws too: calls offered per hour today (SL% is the default figure).
        let perHour = c.dir.appendingPathComponent("offered.svg")
        let report = try c.appOperate("2001", ["report", "--utc", "--interval", "hour", "--chart", perHour.path, "--chart-of", "offered"])
        #expect(report.status == 0, "\(report.output)")
        let hourly = try String(contentsOf: perHour, encoding: .utf8)
        #expect(hourly.contains("<title>offered per hour") && hourly.contains("class=\"bar\""), "\(hourly.prefix(400))")
    }
}
