import Foundation

/// How many numbers an outbound campaign dials now, by mode (seed 辅助呼叫, 预浏览呼出, 预测呼出),
/// as a pure function of what the campaign measured and what its agents are doing.
///
/// - preview: the agent sees the record first, then dials it (or skips it): nothing is dialled
///   for agents; one call per agent who asked.
/// - progressive: one call per free agent — calls ringing never outnumber free agents, so a
///   callee who answers always has an agent (no abandons by construction).
/// - predictive: dials ahead of free agents from the measured answer rate, ring time and handle
///   time, so agents wait little — but only as far as the expected **abandon rate** (answered
///   calls that get no agent within 2 s, over answered calls) stays under the campaign's cap
///   (default 3 %, the Ofcom/FTC rule): it picks the largest number of calls in flight whose
///   expected abandons, over the expected answers, stay under a target below the cap, and the
///   target shrinks as the day's measured rate nears the cap.
public struct Pacer: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable, Equatable { case preview, progressive, predictive }

    /// What the campaign measured (today) — the pacer's memory.
    public struct Measured: Sendable, Equatable {
        /// Dial attempts that ended (answered or not).
        public var attempts = 0
        public var answered = 0
        public var abandoned = 0
        /// Sum of ring times of answered calls, and of handle times (talk + wrap-up) of connected calls.
        public var ringSeconds = 0.0
        public var handleSeconds = 0.0
        public var handled = 0
        public init() {}

        /// Answer probability with a prior (20 % as if from 20 attempts), so the first minutes
        /// are neither reckless nor timid.
        public var answerRate: Double { (Double(answered) + 4) / (Double(attempts) + 20) }
        public var meanRing: Double { answered > 0 ? ringSeconds / Double(answered) : 15 }
        public var meanHandle: Double { handled > 0 ? handleSeconds / Double(handled) : 120 }
        public var abandonRate: Double { answered > 0 ? Double(abandoned) / Double(answered) : 0 }
    }

    /// The agents and lines now.
    public struct Now: Sendable, Equatable {
        public var freeAgents: Int
        /// Agents on a call or in wrap-up (they may be free by the time a callee answers).
        public var busyAgents: Int
        /// Calls dialled and not yet answered or failed.
        public var ringing: Int
        public init(freeAgents: Int, busyAgents: Int, ringing: Int) {
            self.freeAgents = freeAgents
            self.busyAgents = busyAgents
            self.ringing = ringing
        }
    }

    public var mode: Mode
    /// The abandon-rate cap (fraction of answered calls).
    public var abandonCap: Double
    /// Predictive: at most this many calls in flight per agent (a bound on a runaway).
    public var maxLinesPerAgent: Double

    public init(mode: Mode, abandonCap: Double = 0.03, maxLinesPerAgent: Double = 4) {
        self.mode = mode
        self.abandonCap = abandonCap
        self.maxLinesPerAgent = maxLinesPerAgent
    }

    /// How many more numbers to dial now.
    public func toDial(_ now: Now, _ m: Measured) -> Int {
        switch mode {
        case .preview:
            return 0
        case .progressive:
            return max(0, now.freeAgents - now.ringing)
        case .predictive:
            return max(0, predictiveLines(now, m) - now.ringing)
        }
    }

    /// The abandon rate the predictive dialler aims at: 40 % of the cap (half that for the first
    /// 50 answers), shrinking to nothing as the day's measured rate reaches the cap, and nothing
    /// while one more abandon would break it (so an unlucky hour cannot break the day's cap).
    public func target(_ m: Measured) -> Double {
        let base = abandonCap * 0.4
        // One more abandon now would break the cap for the answers so far: no risk at all.
        if Double(m.abandoned + 1) > abandonCap * Double(m.answered + 1) { return 0 }
        guard m.answered >= 50 else { return base * 0.5 }
        let left = max(0, 1 - m.abandonRate / abandonCap)
        return base * left * left
    }

    /// The largest number of calls in flight whose expected abandons stay under the target.
    func predictiveLines(_ now: Now, _ m: Measured) -> Int {
        let agents = now.freeAgents + now.busyAgents
        guard agents > 0 else { return 0 }
        let p = min(0.95, max(0.01, m.answerRate))
        // A busy agent is free when a callee answers with probability ring / handle (departures
        // of a handle time's mean over the ring time), at most 1.
        let q = min(1, m.meanRing / max(1, m.meanHandle))
        let target = target(m)
        let cap = Int(Double(agents) * maxLinesPerAgent)
        var best = min(now.freeAgents, cap)   // never fewer than progressive would dial
        var lines = max(best, now.ringing)
        while lines < cap {
            let n = lines + 1
            let (abandons, answers) = Self.expected(lines: n, answer: p, free: now.freeAgents, busy: now.busyAgents, freeing: q)
            if answers > 0, abandons / answers > target { break }
            best = n
            lines = n
        }
        return best
    }

    /// Expected abandons and answers when `lines` calls are out, each answered with probability
    /// `answer`, and the agents then are `free` plus Binomial(`busy`, `freeing`).
    static func expected(lines: Int, answer: Double, free: Int, busy: Int, freeing: Double) -> (abandons: Double, answers: Double) {
        let x = binomial(lines, answer)
        let b = binomial(busy, freeing)
        var abandons = 0.0
        for (k, pk) in x.enumerated() where k > free {
            for (j, pj) in b.enumerated() where k > free + j { abandons += pk * pj * Double(k - free - j) }
        }
        return (abandons, Double(lines) * answer)
    }

    /// P(X = k) for X ~ Binomial(n, p), k = 0…n.
    static func binomial(_ n: Int, _ p: Double) -> [Double] {
        guard n > 0 else { return [1] }
        var probs = [Double](repeating: 0, count: n + 1)
        probs[0] = pow(1 - p, Double(n))
        if p >= 1 { probs = [Double](repeating: 0, count: n + 1); probs[n] = 1; return probs }
        for k in 1...n { probs[k] = probs[k - 1] * Double(n - k + 1) / Double(k) * p / (1 - p) }
        return probs
    }
}
