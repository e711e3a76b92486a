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

    /// A window with refusals whose line is still owed (the owner may flush it on a timer).
    public mutating func flush(now: UInt64) -> String? {
        guard pending > 0, let start = windowStart, now &- start >= intervalNs else { return nil }
        windowStart = now
        return take(reason: "(summary)")
    }
}

/// Who may hold a connection slot: a per-source cap and a global cap, where the global cap
/// evicts the oldest connection that has not authenticated rather than refusing a newcomer,
/// and never evicts an authenticated one. The owner keeps the connections; this decides.
public struct ConnectionAdmission: Sendable {
    public enum Decision: Equatable, Sendable {
        case admit
        /// Admit after closing this (oldest unauthenticated) connection.
        case admitEvicting(UInt64)
        case refuse(Refusal)
    }
    public enum Refusal: String, Sendable {
        case perSourceLimit = "per-source connection limit"
        case full = "connection limit (all authenticated)"
    }

    public var maximum: Int
    public var maximumPerSource: Int
    /// Sources never held to the per-source cap (trusted trunks, a dispatcher).
    public var exempt: Set<String>
    /// Whether the per-source cap counts only connections that have not authenticated yet
    /// (protocol links: one App-Operate host carries many operators' authenticated links).
    public let perSourceCountsUnauthenticatedOnly: Bool
    private var sourceOf: [UInt64: String] = [:]
    private var perSource: [String: Int] = [:]
    /// Unauthenticated connections (ids only grow: the smallest is the oldest).
    private var unauthenticated: [UInt64: Void] = [:]

    public init(maximum: Int, maximumPerSource: Int, exempt: Set<String> = [], perSourceCountsUnauthenticatedOnly: Bool = false) {
        self.maximum = maximum
        self.maximumPerSource = maximumPerSource
        self.exempt = exempt
        self.perSourceCountsUnauthenticatedOnly = perSourceCountsUnauthenticatedOnly
    }

    public var count: Int { sourceOf.count }
    public func count(from source: String) -> Int { perSource[source] ?? 0 }
    public func isAuthenticated(_ id: UInt64) -> Bool { sourceOf[id] != nil && unauthenticated[id] == nil }

    /// Whether a new connection from `source` may be taken.
    public func decide(source: String) -> Decision {
        if !exempt.contains(source), (perSource[source] ?? 0) >= maximumPerSource { return .refuse(.perSourceLimit) }
        guard sourceOf.count >= maximum else { return .admit }
        guard let oldest = unauthenticated.keys.min() else { return .refuse(.full) }
        return .admitEvicting(oldest)
    }

    public mutating func opened(_ id: UInt64, source: String, authenticated: Bool = false) {
        sourceOf[id] = source
        if !authenticated || !perSourceCountsUnauthenticatedOnly { perSource[source, default: 0] += 1 }
        if !authenticated { unauthenticated[id] = () }
    }

    public mutating func authenticated(_ id: UInt64) {
        guard unauthenticated.removeValue(forKey: id) != nil, perSourceCountsUnauthenticatedOnly, let s = sourceOf[id] else { return }
        release(s)
    }

    public mutating func closed(_ id: UInt64) {
        guard let s = sourceOf.removeValue(forKey: id) else { return }
        let wasUnauthenticated = unauthenticated.removeValue(forKey: id) != nil
        if wasUnauthenticated || !perSourceCountsUnauthenticatedOnly { release(s) }
    }

    private mutating func release(_ s: String) {
        if let n = perSource[s], n > 1 { perSource[s] = n - 1 } else { perSource.removeValue(forKey: s) }
    }
}
