import Foundation
import Testing
@testable import FlowServerKit

/// Scheduled calls' times, and the flow's schedule node on a given clock.
@Suite struct ScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let t = 1_796_601_600.0 + 8 * 3600   // 2026-12-07 08:00 UTC

    @Test func times() {
        #expect(ScheduleTime.parse("09:30", now: Self.t, timeZone: Self.utc) == Self.t + 5400, "later today")
        #expect(ScheduleTime.parse("07:00", now: Self.t, timeZone: Self.utc) == Self.t + 23 * 3600, "past today: tomorrow")
        #expect(ScheduleTime.parse("2026-12-24T09:30", now: Self.t, timeZone: Self.utc) == 1_798_104_600)
        #expect(ScheduleTime.parse("09:30", now: Self.t, timeZone: TimeZone(identifier: "Asia/Shanghai")!) == Self.t + 5400 - 8 * 3600 + 86_400,
                "09:30 in Shanghai (01:30 UTC) has passed: tomorrow's")
        for bad in ["25:00", "9", "tomorrow", "2026-13-01T00:00", ""] { #expect(ScheduleTime.parse(bad, now: Self.t, timeZone: Self.utc) == nil, "\(bad)") }
    }

    @Test func scheduleNode() throws {
        let def = try FlowParser().parse("""
            flow: remind
            start: later
            nodes:
              later:
                type: schedule
                to: "${room}"
                in_seconds: 90
                flow: wake
                next: ok
                failure: sorry
              ok:
                type: hangup
                cause: set
              sorry:
                type: hangup
                cause: not set
            """).get()
        let now = Date(timeIntervalSince1970: Self.t)
        var r = FlowRun(flow: def, version: 1, environment: .init(caller: "555", called: "4600", now: { now }, timeZone: Self.utc), carried: ["room": "1002"])
        #expect(r.start() == [.schedule(to: "1002", due: Self.t + 90, flow: "wake", variables: ["caller": "555", "called": "4600", "room": "1002"])])
        #expect(r.handle(.scheduled(ok: true)) == [.hangup(cause: "set")])
        var failed = FlowRun(flow: def, version: 1, environment: .init(caller: "555", called: "4600", now: { now }, timeZone: Self.utc), carried: ["room": "1002"])
        _ = failed.start()
        #expect(failed.handle(.scheduled(ok: false)) == [.hangup(cause: "not set")])
        // Both at and in_seconds, or neither, is refused with the node.
        let both = FlowParser().parse("flow: x\nstart: a\nnodes:\n  a:\n    type: schedule\n    to: \"1\"\n    at: \"09:00\"\n    in_seconds: 5\n    flow: w\n    next: b\n    failure: b\n  b:\n    type: hangup\n")
        guard case .failure(let e) = both else { Issue.record("accepted"); return }
        #expect("\(e)".contains("at (HH:MM or YYYY-MM-DDTHH:MM) or in_seconds, not both"))
    }

    @Test func retryRules() {
        let r = FlowService.retries("busy=2/120, no-answer=1/3600")
        #expect(r?[.busy] == Campaign.Retry(maxAttempts: 2, afterSeconds: 120) && r?[.noAnswer] == Campaign.Retry(maxAttempts: 1, afterSeconds: 3600) && r?.count == 2)
        #expect(FlowService.retries("answered=1/600") == nil && FlowService.retries("busy=2/4") == nil && FlowService.retries("busy=x") == nil)
        #expect(FlowService.retriesJSON(r!) == "{\"busy\": [2, 120], \"no-answer\": [1, 3600]}")
    }
}
