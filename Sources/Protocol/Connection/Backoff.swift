/// Reconnect delays: exponential with "equal jitter" (half fixed, half random), capped.
///
/// Jitter keeps a fleet of Flow-Servers that lost their CT-Server at the same instant from
/// dialling it back in lock-step.
public struct Backoff: Sendable, Equatable {
    public var initialMs: Int
    public var maximumMs: Int
    public private(set) var attempt: Int = 0

    public init(initialMs: Int = 100, maximumMs: Int = 10_000) {
        self.initialMs = initialMs
        self.maximumMs = maximumMs
    }

    /// The ceiling for the current attempt, before jitter.
    public var ceilingMs: Int {
        let shift = min(attempt, 30)
        return min(maximumMs, initialMs.multipliedReportingOverflow(by: 1 << shift).overflow ? maximumMs : initialMs << shift)
    }

    public mutating func nextDelayMs<G: RandomNumberGenerator>(using rng: inout G) -> Int {
        let ceiling = ceilingMs
        attempt += 1
        let half = ceiling / 2
        return half + Int.random(in: 0...max(0, ceiling - half), using: &rng)
    }

    public mutating func nextDelayMs() -> Int {
        var g = SystemRandomNumberGenerator()
        return nextDelayMs(using: &g)
    }

    public mutating func reset() { attempt = 0 }
}
