/// Rate-limited logging of refusals: a flood of refused connections or messages writes one
/// summary line per interval (how many, from how many sources, the busiest source) instead of
/// one line each. A value type: the owner asks `record` and logs what it returns.
public struct RefusalLog: Sendable {
    public let intervalNs: UInt64
    /// Every refusal since the start (for status reports and metrics).
    public private(set) var total: UInt64 = 0
    private var pending = 0
    private var sources: [String: Int] = [:]
    private var windowStart: UInt64?
    private let maximumSources = 1024

    public init(intervalMs: Int = 10_000) { intervalNs = UInt64(max(1, intervalMs)) * 1_000_000 }

    /// Records one refusal from `source` for `reason` at monotonic `now` (ns). Returns a line
    /// to log: for the first refusal of a quiet period at once, then at most one per interval.
    public mutating func record(source: String, reason: String, now: UInt64) -> String? {
        total += 1
        pending += 1
        if sources[source] != nil || sources.count < maximumSources { sources[source, default: 0] += 1 }
        guard let start = windowStart else {
            windowStart = now
            return take(reason: reason)
        }
        guard now &- start >= intervalNs else { return nil }
        windowStart = now
        return take(reason: reason)
    }

    private mutating func take(reason: String) -> String {
        defer { pending = 0; sources.removeAll(keepingCapacity: true) }
        let busiest = sources.max { $0.value < $1.value }
        if pending == 1, let b = busiest { return "refused \(b.key): \(reason)" }
        return "refused \(pending) since the last report from \(sources.count) source(s), most from \(busiest?.key ?? "?") (\(busiest?.value ?? 0)); latest: \(reason); \(total) in all"
    }
}
