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
