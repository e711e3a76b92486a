import Foundation
import Testing
@testable import FlowServerKit

/// The dialling modes' pacing, and a campaign day per mode on virtual time.
@Suite struct PacerTests {
    @Test func progressiveNeverOutnumbersFreeAgents() {
        let p = Pacer(mode: .progressive)
        for free in 0...10 {
            for ringing in 0...10 {
                let n = p.toDial(Pacer.Now(freeAgents: free, busyAgents: 5, ringing: ringing), Pacer.Measured())
                #expect(n + ringing <= max(free, ringing) && n >= 0)
            }
        }
        #expect(Pacer(mode: .preview).toDial(Pacer.Now(freeAgents: 5, busyAgents: 0, ringing: 0), Pacer.Measured()) == 0)
    }

    /// Predictive dials at least what progressive would, more when answers are rare, and less as
    /// the day's abandon rate nears the cap (none at the cap beyond one line per free agent).
    @Test func predictiveRespondsToAnswerRateAndAbandons() {
        let p = Pacer(mode: .predictive)
        var m = Pacer.Measured()
        m.attempts = 1000
        m.answered = 150
        m.ringSeconds = 150 * 12
        m.handled = 140
        m.handleSeconds = 140 * 120
        let now = Pacer.Now(freeAgents: 5, busyAgents: 15, ringing: 0)
        let lowRate = p.toDial(now, m)
        #expect(lowRate > 5, "\(lowRate)")
        var high = m
        high.answered = 500
        #expect(p.toDial(now, high) < lowRate && p.toDial(now, high) >= 5)
        var hurt = m
        hurt.abandoned = 4   // 2.7 % of 150: near the cap
        #expect(p.toDial(now, hurt) < lowRate)
        hurt.abandoned = 5   // above the cap: progressive only
        #expect(p.toDial(now, hurt) == 5)
        let e = Pacer.expected(lines: 10, answer: 0.5, free: 10, busy: 0, freeing: 0)
        #expect(e.abandons == 0 && e.answers == 5)
        #expect(abs(Pacer.binomial(4, 0.5).reduce(0, +) - 1) < 1e-12)
    }

    /// Shorter days (2,000 numbers) than the benchmark's, two seeds per answer rate: predictive
    /// stays under the 3 % cap and keeps agents busier than progressive, which never abandons.
    @Test func predictiveBeatsProgressiveUnderTheCap() {
        for rate in [0.15, 0.25, 0.40] {
            for seed: UInt64 in [7, 8] {
                let sim = PacingSimulation(numbers: 2_000, answerRate: rate, seed: seed)
                let prog = sim.run(.progressive), pred = sim.run(.predictive), prev = sim.run(.preview)
                #expect(prog.abandoned == 0 && prev.abandoned == 0)
                #expect(pred.abandonRate < 0.03, "\(rate) \(seed): \(pred)")
                #expect(pred.occupancy > prog.occupancy, "\(rate) \(seed): predictive \(pred.occupancy) progressive \(prog.occupancy)")
                #expect(prog.dialled == 2_000 && pred.dialled == 2_000 && prev.dialled == 2_000)
            }
        }
    }
}
