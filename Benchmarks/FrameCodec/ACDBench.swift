import Foundation
import FlowServerKit

/// The routing engine under load: 5,000 agents over 200 queues (each agent in 5, with skills),
/// 20,000 waiting calls. A decision is "this agent is free: which call?" (cross-queue fairness)
/// or "this call arrived: which agent?" (the queue's strategy). Prints decisions per second and
/// the p50/p99/max time of one decision.
func benchACD() {
    var rng = SystemRandomNumberGenerator()
    var e = ACDEngine()
    let strategies = ACDEngine.Strategy.allCases.filter { $0 != .ringAll }
    for q in 0..<200 {
        e.setQueue(.init(name: "q\(q)", strategy: strategies[q % strategies.count], skills: ["s\(q % 20)": 1 + q % 5], escalateAfterSeconds: 60))
    }
    var agents: [ACDEngine.Agent] = []
    for a in 0..<5000 {
        let qs = Set((0..<5).map { _ in "q\(Int.random(in: 0..<200, using: &rng))" })
        var skills: [String: Int] = [:]
        for q in qs { skills["s\(Int(q.dropFirst())! % 20)"] = Int.random(in: 3...10, using: &rng) }
        agents.append(.init(id: "a\(a)", skills: skills, queues: qs, readySince: 0))
    }
    var now = 1000.0
    for c in 0..<20_000 {
        e.enqueue(.init(id: "c\(c)", queue: "q\(Int.random(in: 0..<200, using: &rng))", priority: Int.random(in: 0...3, using: &rng), enqueuedAt: now - Double.random(in: 0...600, using: &rng)))
    }
    var nextCall = 20_000
    var agentTimes: [Double] = [], callTimes: [Double] = []
    let rounds = 20_000
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<rounds {
        now += 0.01
        // An agent becomes free: which call?
        let a = agents[i % agents.count]
        e.agentReady(a)
        var t0 = DispatchTime.now().uptimeNanoseconds
        let got = e.callFor(agent: a.id, now: now)
        agentTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
        if got == nil { e.agentUnavailable(a.id) } else {
            // Keep the queues at ~20,000 waiting: the taken call is replaced.
            e.enqueue(.init(id: "r\(i)", queue: "q\(Int.random(in: 0..<200, using: &rng))", enqueuedAt: now))
        }
        // A new call arrives (keeping ~20,000 waiting) while a few agents are ready.
        let b = agents[(i * 7 + 3) % agents.count]
        e.agentReady(b)
        let id = "c\(nextCall)"
        nextCall += 1
        e.enqueue(.init(id: id, queue: b.queues.first!, enqueuedAt: now))
        t0 = DispatchTime.now().uptimeNanoseconds
        let offered = e.agentsFor(call: id, now: now)
        callTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
        if offered.isEmpty {
            e.agentUnavailable(b.id)
            e.remove(call: id)   // keeps the backlog at 20,000: this caller gives up at once
        }
    }
    let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    agentTimes.sort(); callTimes.sort()
    func p(_ v: [Double], _ q: Double) -> Double { v[min(v.count - 1, Int(Double(v.count) * q))] }
    print(String(format: "acd    5000 agents, 200 queues, %d waiting: %.0f decisions/s (both kinds, incl. bookkeeping)", e.waitingCount, Double(2 * rounds) / secs))
    print(String(format: "acd    agent free → call:   p50 %.1f µs  p99 %.1f µs  max %.1f µs", p(agentTimes, 0.5), p(agentTimes, 0.99), agentTimes.last ?? 0))
    print(String(format: "acd    call arrives → agent: p50 %.1f µs  p99 %.1f µs  max %.1f µs", p(callTimes, 0.5), p(callTimes, 0.99), callTimes.last ?? 0))
}
