import Foundation
import HeapModule

/// A campaign's day on virtual time, to compare dialling modes (`hotline-bench pacing`, and the
/// Pacer's tests): `agents` agents, numbers answered with probability `answerRate` after 4–20 s
/// of ringing (otherwise no answer after 25 s, or busy after 2 s), handle times normal around
/// `handleMean` ± `handleSD` (20–400 s). An answered call with no free agent is abandoned (the
/// callee hears the recorded message). Preview: each free agent reads the record for
/// `previewSeconds`, then dials it and waits for the outcome. The pacer decides every 0.5 s.
public struct PacingSimulation: Sendable {
    public struct Result: Sendable, Equatable {
        public var mode: Pacer.Mode
        public var answerRate: Double
        public var dialled = 0
        public var answered = 0
        public var abandoned = 0
        public var connected = 0
        public var seconds = 0.0
        /// Talk (handle) time over the agents' time.
        public var occupancy = 0.0
        /// Mean wait of an agent between calls, seconds.
        public var meanAgentWait = 0.0
        public var abandonRate: Double { answered > 0 ? Double(abandoned) / Double(answered) : 0 }
    }

    public var agents = 20
    public var numbers = 10_000
    public var answerRate = 0.25
    public var handleMean = 120.0
    public var handleSD = 60.0
    public var previewSeconds = 8.0
    public var abandonCap = 0.03
    public var seed: UInt64 = 1

    public init(agents: Int = 20, numbers: Int = 10_000, answerRate: Double = 0.25, seed: UInt64 = 1) {
        self.agents = agents
        self.numbers = numbers
        self.answerRate = answerRate
        self.seed = seed
    }

    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// `owner`: the agent who dialled it (preview), else nil.
    enum What: Equatable { case answered(ring: Double, owner: Int?), unanswered(owner: Int?), freed(agent: Int, handle: Double), previewed(agent: Int) }
    struct Timed: Comparable {
        var at: Double
        var seq: Int
        var what: What
        static func < (a: Timed, b: Timed) -> Bool { a.at != b.at ? a.at < b.at : a.seq < b.seq }
        static func == (a: Timed, b: Timed) -> Bool { a.at == b.at && a.seq == b.seq }
    }

    public func run(_ mode: Pacer.Mode) -> Result {
        var rng = Rng(state: seed)
        let pacer = Pacer(mode: mode, abandonCap: abandonCap)
        var measured = Pacer.Measured()
        var r = Result(mode: mode, answerRate: answerRate)
        var events = Heap<Timed>()
        var seq = 0
        func at(_ t: Double, _ w: What) { seq += 1; events.insert(Timed(at: t, seq: seq, what: w)) }
        var free = Array(0..<agents)          // agents waiting for a call
        var freeSince = [Double](repeating: 0, count: agents)
        var busy = 0                          // agents talking (or, in preview, with their own call)
        var ringing = 0
        var left = numbers
        var talk = 0.0, waited = 0.0, waits = 0
        var now = 0.0

        func handleTime() -> Double {
            // Box–Muller, truncated.
            let u1 = max(1e-12, Double.random(in: 0..<1, using: &rng)), u2 = Double.random(in: 0..<1, using: &rng)
            let z = sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
            return min(400, max(20, handleMean + handleSD * z))
        }
        func dial(owner: Int?) {
            left -= 1
            ringing += 1
            r.dialled += 1
            let x = Double.random(in: 0..<1, using: &rng)
            if x < answerRate {
                let ring = Double.random(in: 4...20, using: &rng)
                at(now + ring, .answered(ring: ring, owner: owner))
            } else {
                at(now + (Double.random(in: 0..<1, using: &rng) < 0.7 ? 25 : 2), .unanswered(owner: owner))
            }
        }
        func takeAgent() -> Int? {
            guard let a = free.popLast() else { return nil }
            waited += now - freeSince[a]
            waits += 1
            return a
        }
        func release(_ a: Int) {
            free.append(a)
            freeSince[a] = now
        }
        if mode == .preview { for a in free { at(previewSeconds, .previewed(agent: a)) }; free = [] }
        var nextTick = 0.0
        while left > 0 || ringing > 0 || !events.isEmpty {
            // The pacer's tick comes before any event at the same time or later.
            if mode != .preview, left > 0, events.min.map({ $0.at >= nextTick }) ?? true {
                now = nextTick
                nextTick += 0.5
                let n = min(left, pacer.toDial(Pacer.Now(freeAgents: free.count, busyAgents: busy, ringing: ringing), measured))
                for _ in 0..<n { dial(owner: nil) }
                continue
            }
            guard let e = events.popMin() else { break }
            now = e.at
            switch e.what {
            case .previewed(let a):
                if left > 0 { dial(owner: a) }
            case .answered(let ring, let owner):
                ringing -= 1
                measured.attempts += 1
                measured.answered += 1
                measured.ringSeconds += ring
                r.answered += 1
                let agent: Int?
                agent = mode == .preview ? owner : takeAgent()
                if let a = agent {
                    let h = handleTime()
                    busy += 1
                    r.connected += 1
                    talk += h
                    at(now + h, .freed(agent: a, handle: h))
                } else {
                    r.abandoned += 1
                    measured.abandoned += 1
                }
            case .unanswered(let owner):
                ringing -= 1
                measured.attempts += 1
                if let a = owner { at(now + previewSeconds, .previewed(agent: a)) }
            case .freed(let a, let h):
                busy -= 1
                measured.handled += 1
                measured.handleSeconds += h
                if mode == .preview { at(now + previewSeconds, .previewed(agent: a)) } else { release(a) }
            }
            if left == 0, ringing == 0, busy == 0 { break }
        }
        r.seconds = now
        r.occupancy = now > 0 ? talk / (Double(agents) * now) : 0
        r.meanAgentWait = waits > 0 ? waited / Double(waits) : 0
        return r
    }
}
