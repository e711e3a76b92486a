import Foundation
import Testing
import TestSupport
@testable import FlowServerKit

/// A hand-made day of calls (2026-11-20, UTC) whose figures are worked out by hand below.
enum HandMadeDay {
    static let day = 1_795_132_800.0   // 2026-11-20 00:00:00 UTC
    static func at(_ h: Int, _ m: Int, _ s: Int = 0) -> Double { day + Double(h * 3600 + m * 60 + s) }

    static var calls: [CallFacts] {
        [
            // 1: sales, waits 15 s (within 20 s), talks 300 s incl. 20 s hold, 30 s wrap-up, agent A1.
            CallFacts(arrivedAt: at(9, 0), queuedAt: at(9, 0, 10), offeredAt: at(9, 0, 20), agentAnsweredAt: at(9, 0, 25), endedAt: at(9, 5, 25),
                      queue: "sales", agent: "A1", flow: "hotline", disposition: "answered", holdSeconds: 20, wrapupSeconds: 30),
            // 2: sales, waits 40 s (misses the 20 s target), 120 s, 10 s wrap-up, agent A2.
            CallFacts(arrivedAt: at(9, 10), queuedAt: at(9, 10, 5), offeredAt: at(9, 10, 40), agentAnsweredAt: at(9, 10, 45), endedAt: at(9, 12, 45),
                      queue: "sales", agent: "A2", flow: "hotline", disposition: "answered", wrapupSeconds: 10),
            // 3: sales, hangs up after 3 s in queue: a short abandon (< 5 s).
            CallFacts(arrivedAt: at(9, 20), queuedAt: at(9, 20, 5), endedAt: at(9, 20, 8), queue: "sales", flow: "hotline", disposition: "abandoned"),
            // 4: sales, hangs up after 60 s in queue.
            CallFacts(arrivedAt: at(9, 30), queuedAt: at(9, 30, 5), endedAt: at(9, 31, 5), queue: "sales", flow: "hotline", disposition: "abandoned"),
            // 5: self-service in the IVR, never queued.
            CallFacts(arrivedAt: at(9, 40), endedAt: at(9, 41), flow: "ivr", disposition: "self-service"),
            // 6: support (30 s target), waits 20 s, 600 s incl. 60 s hold, agent A1.
            CallFacts(arrivedAt: at(10, 5), queuedAt: at(10, 5, 10), offeredAt: at(10, 5, 25), agentAnsweredAt: at(10, 5, 30), endedAt: at(10, 15, 30),
                      queue: "support", agent: "A1", flow: "hotline", disposition: "answered", holdSeconds: 60, serviceLevelSeconds: 30, shortAbandonSeconds: 10),
            // 7: support, hangs up after 8 s: short (< 10 s for support).
            CallFacts(arrivedAt: at(10, 20), queuedAt: at(10, 20), endedAt: at(10, 20, 8), queue: "support", flow: "hotline", disposition: "abandoned",
                      serviceLevelSeconds: 30, shortAbandonSeconds: 10),
        ]
    }

    static var periods: [AgentPeriod] {
        [AgentPeriod(agent: "A1", state: "ready", start: at(9, 0), end: at(11, 0)),
         AgentPeriod(agent: "A1", state: "not-ready", start: at(11, 0), end: at(12, 0)),
         AgentPeriod(agent: "A2", state: "ready", start: at(9, 0), end: at(10, 0))]
    }
}

@Suite struct StatisticsTests {
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

    @Test func hourTotals() {
        let rows = Statistics.compute(calls: HandMadeDay.calls, grouping: .total, interval: .hour)
        #expect(rows.count == 2)
        let nine = rows[0]
        #expect(nine.start == HandMadeDay.at(9, 0))
        // 5 calls arrived 09–10; 2 answered; 2 abandoned of which 1 short.
        #expect(nine.offered == 5 && nine.answered == 2 && nine.abandoned == 2 && nine.shortAbandoned == 1)
        #expect(close(nine.abandonRate, 1.0 / 4))            // (2 − 1) / (5 − 1)
        #expect(close(nine.serviceLevel, 1.0 / 4))           // call 1 only, of 5 − 1
        #expect(close(nine.asaSeconds, (15 + 40) / 2))
        #expect(close(nine.ahtSeconds, (330 + 130) / 2))     // (300 + 30) and (120 + 10)
        #expect(close(nine.talkSeconds, 280 + 120))
        #expect(close(nine.longestWaitSeconds, 60))
        #expect(nine.occupancy == nil)
    }

    @Test func dayByQueueAgentAndFlow() {
        let q = Statistics.compute(calls: HandMadeDay.calls, grouping: .queue, interval: .day)
        #expect(q.map(\.key) == ["sales", "support"])
        #expect(q[0].offered == 4 && q[0].answered == 2 && q[0].abandoned == 2 && q[0].shortAbandoned == 1)
        #expect(close(q[0].abandonRate, 1.0 / 3) && close(q[0].serviceLevel, 1.0 / 3))
        #expect(q[1].offered == 2 && q[1].answered == 1 && q[1].shortAbandoned == 1)
        #expect(close(q[1].abandonRate, 0) && close(q[1].serviceLevel, 1))
        #expect(close(q[1].asaSeconds, 20) && close(q[1].ahtSeconds, 600) && close(q[1].talkSeconds, 540) && close(q[1].longestWaitSeconds, 20))

        let a = Statistics.compute(calls: HandMadeDay.calls, periods: HandMadeDay.periods, grouping: .agent, interval: .day)
        #expect(a.map(\.key) == ["A1", "A2"])
        #expect(a[0].answered == 2 && close(a[0].asaSeconds, 17.5) && close(a[0].ahtSeconds, 465) && close(a[0].talkSeconds, 820))
        #expect(close(a[0].occupancy ?? -1, 930.0 / 7200))   // handled 330 + 600 s of 2 h staffed (not-ready excluded)
        #expect(close(a[1].occupancy ?? -1, 130.0 / 3600))

        let f = Statistics.compute(calls: HandMadeDay.calls, grouping: .flow, interval: .day)
        #expect(f.map(\.key) == ["hotline", "ivr"] && f[0].offered == 6 && f[1].offered == 1 && f[1].answered == 0)

        let quarter = Statistics.compute(calls: HandMadeDay.calls, grouping: .total, interval: .quarterHour)
        // 09:00 and 09:10 | 09:20 | 09:30 and 09:40 | 10:05 | 10:20
        #expect(quarter.map(\.offered) == [2, 1, 2, 1, 1])
        #expect(quarter.map(\.start) == [HandMadeDay.at(9, 0), HandMadeDay.at(9, 15), HandMadeDay.at(9, 30), HandMadeDay.at(10, 0), HandMadeDay.at(10, 15)])
        #expect(quarter.map(\.offered).reduce(0, +) == 7)
    }

    @Test func bucketsFollowTheLocalDay() {
        // At UTC+8, 2026-11-20 09:00 UTC is 17:00 local; the local day starts at 16:00 UTC the day before.
        let rows = Statistics.compute(calls: HandMadeDay.calls, grouping: .total, interval: .day, utcOffset: 8 * 3600)
        #expect(rows.count == 1 && rows[0].start == HandMadeDay.day - 8 * 3600)
    }
}

/// The same day written through the record writer into PostgreSQL and read back.
@Suite(.serialized) struct StatisticsDatabaseTests {
    static func records() -> [CallRecord] {
        HandMadeDay.calls.enumerated().map { i, c in
            var r = CallRecord(channelID: "ch-\(i)", flowServer: "flow-1", direction: "inbound", caller: "138\(i)", called: "4000",
                               arrivedAt: c.arrivedAt, endedAt: c.endedAt, disposition: c.disposition)
            r.queue = c.queue
            r.queuedAt = c.queuedAt
            r.offeredAt = c.offeredAt
            r.agent = c.agent
            r.agentAnsweredAt = c.agentAnsweredAt
            r.flow = c.flow
            r.holdSeconds = c.holdSeconds
            r.wrapupSeconds = c.wrapupSeconds
            return r
        }
    }

    @Test func statisticsFromTheDatabaseMatchTheHandFigures() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let db = try PostgresConnection(url: pg.url)
        try Migrator.bundled().migrate(db)
        try db.execute("INSERT INTO queues (name, service_level_seconds, short_abandon_seconds) VALUES ('sales', 20, 5), ('support', 30, 10)")
        let dir = TestSupport.temporaryDirectory("spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try RecordWriter(databaseURL: pg.url, spoolDirectory: dir, logger: TestSupport.logger)
        w.start()
        defer { w.stop() }
        for r in Self.records() { w.submit(.call(r)) }
        for p in HandMadeDay.periods { w.submit(.agentState(AgentStateRecord(agent: p.agent, state: p.state, startedAt: p.start, endedAt: p.end))) }
        #expect(w.waitUntilWritten(timeout: 20))
        let (calls, periods) = try Statistics.load(db, from: HandMadeDay.day, to: HandMadeDay.day + 86400)
        #expect(calls.count == 7 && periods.count == 3)
        let fromDB = Statistics.compute(calls: calls, periods: periods, grouping: .queue, interval: .day)
        let byHand = Statistics.compute(calls: HandMadeDay.calls, periods: HandMadeDay.periods, grouping: .queue, interval: .day)
        #expect(fromDB.count == byHand.count)
        for (x, y) in zip(fromDB, byHand) {
            #expect(x.key == y.key && x.offered == y.offered && x.answered == y.answered && x.abandoned == y.abandoned && x.shortAbandoned == y.shortAbandoned)
            #expect(abs(x.serviceLevel - y.serviceLevel) < 1e-6 && abs(x.ahtSeconds - y.ahtSeconds) < 1e-3 && abs(x.asaSeconds - y.asaSeconds) < 1e-3)
        }
        let agents = Statistics.compute(calls: calls, periods: periods, grouping: .agent, interval: .day)
        #expect(abs((agents.first { $0.key == "A1" }?.occupancy ?? 0) - 930.0 / 7200) < 1e-6)
    }
}
