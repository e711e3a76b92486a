/// Per-source token buckets: a flood from one address is throttled while others keep their
/// service. Memory is bounded: idle sources are forgotten.
public struct SourceRateLimiter: Sendable {
    public var ratePerSecond: Double
    public var burst: Double
    public var maximumSources: Int
    private var buckets: [String: (tokens: Double, last: UInt64)] = [:]
    public private(set) var throttled: UInt64 = 0

    public init(ratePerSecond: Double = 200, burst: Double = 400, maximumSources: Int = 50_000) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.maximumSources = maximumSources
    }

    /// Takes one token for `source` at monotonic time `now` (ns); false = throttle.
    public mutating func allow(_ source: String, now: UInt64) -> Bool {
        var b = buckets[source] ?? (burst, now)
        let elapsed = Double(now &- b.last) / 1e9
        b.tokens = min(burst, b.tokens + elapsed * ratePerSecond)
        b.last = now
        guard b.tokens >= 1 else {
            buckets[source] = b
            throttled += 1
            return false
        }
        b.tokens -= 1
        if buckets.count >= maximumSources, buckets[source] == nil { sweep(now: now) }
        buckets[source] = b
        return true
    }

    /// Drops sources whose bucket has refilled (they are indistinguishable from new ones).
    private mutating func sweep(now: UInt64) {
        let full = UInt64(burst / ratePerSecond * 1e9)
        buckets = buckets.filter { now &- $0.value.last < full }
        if buckets.count >= maximumSources { buckets.removeAll() }
    }

    public var trackedSources: Int { buckets.count }
}
