import Foundation
import Testing
@testable import FlowServerKit
@testable import Protocol

/// The merged board as a value type, on given times (UTC days).
@Suite struct WallboardModelTests {
    static let day = 1_796_256_000.0   // 2026-12-03 00:00 UTC
    func board() -> Wallboard { Wallboard(now: Self.day + 3600, utcOffset: { _ in 0 }) }
    func agent(_ code: String, _ state: String, at t: Double, queues: [String] = ["sales"]) -> BoardUpdate.Agent {
        BoardUpdate.Agent(code: code, state: state, sinceMs: UInt64(t * 1000), queues: queues, calls: 0, talkMs: 0)
    }

    /// The day's figures are Statistics.compute's over the same calls, whatever server sent them.
    @Test func dayFiguresAreTheReportsArithmetic() {
        var b = board()
        var facts: [CallFacts] = []
        var rng = SystemRandomNumberGenerator()
        for i in 0..<300 {
            // Whole milliseconds, as the board's wire carries them (Wallboard.wire).
            let arrived = Self.day + (Double.random(in: 0..<3000, using: &rng) * 1000).rounded() / 1000
            let answered = i % 3 != 0
            var f = CallFacts(arrivedAt: arrived, queuedAt: arrived + 5, agentAnsweredAt: answered ? arrived + (Double.random(in: 5...60, using: &rng) * 1000).rounded() / 1000 : nil,
                              endedAt: arrived + 200, queue: "sales", agent: answered ? "a\(i % 7)" : nil, disposition: answered ? "answered" : "abandoned",
                              holdSeconds: 3, wrapupSeconds: 10, serviceLevelSeconds: 20, shortAbandonSeconds: 5)
            f.id = "c\(i)"
            if i % 3 == 0 { f.endedAt = arrived + 5 + Double(i % 9) }   // some short abandons
            facts.append(f)
            _ = b.apply(BoardUpdate(server: i % 2 == 0 ? "flow-1" : "flow-2", full: false, sentMs: 0, calls: [Wallboard.wire(f)]), now: Self.day + 3500)
        }
        let report = Statistics.compute(calls: facts, grouping: .queue, interval: .day)[0]
        let f = b.queueView("sales", now: Self.day + 3600).figures
        #expect(f["day_offered"] == String(report.offered) && f["day_answered"] == String(report.answered) && f["day_abandoned"] == String(report.abandoned)
                && f["day_short_abandoned"] == String(report.shortAbandoned))
        // The same arithmetic over the same milliseconds: equal to the printed digit. (Sums in
        // another order may differ in the last bit, so a value on a rounding edge may print
        // one unit apart; a wait on the 20-s edge may count on the other side once.)
        func near(_ key: String, _ value: Double, _ unit: Double) -> Bool {
            guard let v = f[key].flatMap(Double.init) else { return false }
            return abs(v - value) <= unit + 1e-9
        }
        #expect(near("day_asa_seconds", report.asaSeconds, 0.001) && near("day_aht_seconds", report.ahtSeconds, 0.001)
                && near("day_service_level", report.serviceLevel, 1.0 / Double(max(1, report.offered - report.shortAbandoned)) + 0.0001),
                "\(f) vs \(report)")
        #expect(f["day_asa_seconds"]?.split(separator: ".").last?.count == 3 && f["day_service_level"]?.split(separator: ".").last?.count == 4)
        // Calls of yesterday are not today's; a call sent again replaces itself.
        var old = facts[1]
        old.id = "yesterday"
        old.arrivedAt -= 86_400
        #expect(b.addCall(old) == nil)
        _ = b.addCall(facts[1])
        #expect(b.queueView("sales", now: Self.day + 3600).figures["day_offered"] == "300")
    }

    @Test func fixedDecimals() {
        for v in [0.0, 0.5, 1.23456, 12.0005, 0.99996, 2.675, 1234.5678, -0.25, 3.0] {
            for p in [0, 1, 3, 4] { #expect(Wallboard.fixed(v, p) == String(format: "%.\(p)f", v) || abs(Double(Wallboard.fixed(v, p))! - v) < 0.5 / pow(10, Double(p)) + 1e-12, "\(v) \(p)") }
        }
        #expect(Wallboard.fixed(0.75, 4) == "0.7500" && Wallboard.fixed(3.5, 1) == "3.5" && Wallboard.fixed(9.99999, 3) == "10.000")
    }

    /// A full update's roster removes the server's agents that left; a silent server leaves the
    /// board after 30 s; another server's agents and waiting callers stay.
    @Test func rosterAndSilentServers() {
        var b = board()
        let t = Self.day + 3600
        _ = b.apply(BoardUpdate(server: "flow-1", full: true, sentMs: 0, waiting: ["sales": [.init(call: "x", caller: "5550001", arrivedMs: UInt64((t - 30) * 1000), priority: 0)]],
                                agents: [agent("1001", "ready", at: t), agent("1002", "talking", at: t)], roster: ["1001", "1002"]), now: t)
        _ = b.apply(BoardUpdate(server: "flow-2", full: true, sentMs: 0, agents: [agent("2001", "ready", at: t)], roster: ["2001"]), now: t)
        var v = b.queueView("sales", now: t)
        #expect(v.figures["waiting"] == "1" && v.figures["agents"] == "3" && v.figures["agents_ready"] == "2" && v.figures["longest_wait_seconds"] == "30.0")
        #expect(v.callers.first?["server"] == "flow-1")
        let ch = b.apply(BoardUpdate(server: "flow-1", full: true, sentMs: 0, roster: ["1001"]), now: t + 5)
        #expect(ch.removed == ["1002"] && b.agents["1002"] == nil && b.agents["1001"] != nil)
        #expect(b.queueView("sales", now: t + 5).figures["waiting"] == "0", "a full update replaces the waiting lists")
        _ = b.apply(BoardUpdate(server: "flow-1", full: false, sentMs: 0, agents: [agent("1001", "ready", at: t + 30)]), now: t + 30)
        let gone = b.expire(now: t + 40, except: "flow-1")
        #expect(gone.removed == ["2001"] && b.agents.keys.sorted() == ["1001"])
        v = b.queueView("sales", now: t + 40)
        #expect(v.figures["agents"] == "1")
    }

    /// Occupancy: handle time of the queue's answered calls over its agents' staffed time.
    @Test func occupancyAndMidnight() {
        var b = board()
        let t = Self.day + 3600
        _ = b.apply(BoardUpdate(server: "f", full: false, sentMs: 0, agents: [agent("1001", "ready", at: t)]), now: t)
        _ = b.apply(BoardUpdate(server: "f", full: false, sentMs: 0, agents: [agent("1001", "talking", at: t + 100)]), now: t + 100)
        _ = b.apply(BoardUpdate(server: "f", full: false, sentMs: 0, agents: [agent("1001", "not-ready", at: t + 200)]), now: t + 200)
        var f = CallFacts(arrivedAt: t + 90, queuedAt: t + 95, agentAnsweredAt: t + 100, endedAt: t + 180, queue: "sales", agent: "1001", disposition: "answered",
                          wrapupSeconds: 20)
        f.id = "c1"
        _ = b.addCall(f)
        // Staffed 200 s (ready 100 + talking 100); handle 80 + 20 = 100 s.
        #expect(b.queueView("sales", now: t + 300).figures["day_occupancy"] == "0.5000")
        #expect(b.wrapUp(call: "c1", agent: "1001", seconds: 60) == "sales")
        #expect(b.queueView("sales", now: t + 300).figures["day_occupancy"] == "0.7000")
        #expect(b.wrapUp(call: "c1", agent: "someone-else", seconds: 99) == nil)
        let next = b.expire(now: Self.day + 86_400 + 1, except: "f")
        #expect(next.queues.contains("sales") && b.queueView("sales", now: Self.day + 86_401).figures["day_offered"] == "0")
    }
}
