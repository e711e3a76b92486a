import Foundation
import Testing
@testable import FlowServerKit

/// Call lists from CSV, and the campaign machine on given times.
@Suite struct CampaignTests {
    @Test func callListImportsOrRefusesWhole() throws {
        let good = "Number,Name,Timezone,Note\r\n+86 138-0013-8000,\"Li, Na\",Asia/Shanghai,\"said \"\"call after 6\"\"\"\n13900139000,Bo,,\n\n"
        let rows = try CallList.parse(good).get()
        #expect(rows.count == 2)
        #expect(rows[0] == CallListEntry(line: 2, number: "+8613800138000", timezone: "Asia/Shanghai", fields: ["name": "Li, Na", "note": "said \"call after 6\""]))
        #expect(rows[1].number == "13900139000" && rows[1].timezone == nil && rows[1].line == 3)
        let bad = "number,name,timezone\n13800138000,a,\nnot-a-number,b,\n13800138000,c,\n139001,d,Mars/Olympus\n1390\"0\",e,\n"
        guard case .failure(let refusal) = CallList.parse(bad) else { Issue.record("a bad list was accepted"); return }
        #expect(refusal.errors.map(\.line) == [3, 4, 5] || refusal.errors.first?.line == 6, "\(refusal)")
        guard case .failure(let quotes) = CallList.parse("number\n\"unclosed\n") else { Issue.record("unclosed quote accepted"); return }
        #expect(quotes.errors.first?.reason.contains("never closed") == true)
        let mixed = "number,name,timezone\n13800138000,a,\nnot-a-number,b,\n13800138000,c,\n139001,d,Mars/Olympus\n139002,e,f,g\n"
        guard case .failure(let all) = CallList.parse(mixed) else { Issue.record("accepted"); return }
        #expect(all.errors.map(\.line) == [3, 4, 5, 6], "\(all)")
        #expect(all.errors[1].reason.contains("already on line 2") && all.errors[2].reason.contains("unknown time zone") && all.errors[3].reason.contains("4 fields"))
        guard case .failure(let noColumn) = CallList.parse("phone,name\n1380,a\n") else { Issue.record("accepted"); return }
        #expect(noColumn.errors.first?.reason.contains("no number column") == true)
    }

    static let monday = 1_796_601_600.0   // 2026-12-07 (a Monday) 00:00 UTC; the tests add the hours

    func campaign(_ mode: Pacer.Mode, numbers: [String], zone: String? = nil) -> Campaign {
        var s = Campaign.Settings(name: "renewals", mode: mode, callerID: "4000", queue: "sales")
        s.timezone = "UTC"
        return Campaign(settings: s, list: numbers.enumerated().map { CallListEntry(line: $0.offset + 2, number: $0.element, timezone: zone) })
    }

    /// Progressive: one call per free agent; a number put on the do-not-call list after the
    /// import is refused at dial time; pausing stops new dials at once; busy is retried later.
    @Test func progressiveDncPauseAndRetry() {
        var c = campaign(.progressive, numbers: ["1001", "1002", "1003", "1004", "1005"])
        let t = Self.monday + 10 * 3600
        #expect(c.handle(.tick(now: t, freeAgents: 2, busyAgents: 0, dnc: [])).isEmpty, "not started")
        _ = c.handle(.start)
        var a = c.handle(.tick(now: t, freeAgents: 2, busyAgents: 0, dnc: ["1002"]))
        #expect(a == [.dial(record: 0, number: "1001", callerID: "4000", attempt: 1), .refused(record: 1, number: "1002", reason: "do-not-call"),
                      .dial(record: 2, number: "1003", callerID: "4000", attempt: 1)])
        #expect(c.handle(.tick(now: t + 1, freeAgents: 2, busyAgents: 0, dnc: [])).isEmpty, "two ringing for two free agents")
        _ = c.handle(.outcome(record: 0, .busy, now: t + 2, ring: 0))
        _ = c.handle(.pause)
        #expect(c.handle(.tick(now: t + 3, freeAgents: 5, busyAgents: 0, dnc: [])).isEmpty, "paused: nothing dialled")
        _ = c.handle(.resume)
        a = c.handle(.tick(now: t + 3, freeAgents: 2, busyAgents: 0, dnc: []))
        #expect(a == [.dial(record: 3, number: "1004", callerID: "4000", attempt: 1)], "the busy number waits its 10 minutes")
        a = c.handle(.tick(now: t + 700, freeAgents: 3, busyAgents: 0, dnc: []))
        #expect(a.contains(.dial(record: 0, number: "1001", callerID: "4000", attempt: 2)))
        #expect(c.records[1].done && c.records[1].lastOutcome == .dnc)
    }

    /// Calling windows are the callee's local time: 08:00 UTC is 16:00 in Shanghai (inside
    /// 09–21), 03:00 in New York (outside).
    @Test func windowsInTheCalleesTime() {
        let t = Self.monday + 8 * 3600
        var shanghai = campaign(.progressive, numbers: ["1001"], zone: "Asia/Shanghai")
        var newYork = campaign(.progressive, numbers: ["1001"], zone: "America/New_York")
        _ = shanghai.handle(.start)
        _ = newYork.handle(.start)
        #expect(shanghai.handle(.tick(now: t, freeAgents: 1, busyAgents: 0, dnc: [])).count == 1)
        #expect(newYork.handle(.tick(now: t, freeAgents: 1, busyAgents: 0, dnc: [])).isEmpty)
        #expect(newYork.handle(.tick(now: t + 6 * 3600, freeAgents: 1, busyAgents: 0, dnc: [])).count == 1, "14:00 UTC is 09:00 in New York")
    }

    /// Preview: the agent sees the record, then dials or skips it with a reason; the campaign
    /// finishes when every number is done.
    @Test func previewDialOrSkip() {
        var c = campaign(.preview, numbers: ["1001", "1002"])
        let t = Self.monday + 10 * 3600
        _ = c.handle(.start)
        #expect(c.handle(.tick(now: t, freeAgents: 3, busyAgents: 0, dnc: [])).isEmpty, "preview dials nothing by itself")
        var a = c.handle(.nextPreview(agent: "1001", now: t, dnc: []))
        #expect(a == [.preview(agent: "1001", record: 0, number: "1001", fields: [:])])
        a = c.handle(.nextPreview(agent: "1002", now: t, dnc: []))
        #expect(a == [.preview(agent: "1002", record: 1, number: "1002", fields: [:])], "a record in preview is not shown twice")
        #expect(c.handle(.previewDial(record: 0)) == [.dial(record: 0, number: "1001", callerID: "4000", attempt: 1)])
        #expect(c.handle(.previewSkip(record: 1, reason: "customer asked not to be called")).first == .attempt(record: 1, number: "1002", attempt: 0, outcome: .skipped,
                                                                                                                 detail: "customer asked not to be called"))
        a = c.handle(.outcome(record: 0, .answered, now: t + 20, ring: 8))
        #expect(a.last == .finished && c.state == .finished)
    }
}
