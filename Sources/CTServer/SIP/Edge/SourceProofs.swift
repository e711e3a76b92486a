/// What the SIP edge knows about source hosts (docs/operations.md, "No amplification"): which
/// proved they receive what we send — they answered our digest nonce, or ACKed a 2xx carrying
/// our random To tag — and which authenticated. Each proof lapses after `lifetimeNs`; the
/// tables are bounded. A value type: the endpoint passes the time.
struct SourceProofs: Sendable {
    var lifetimeNs: UInt64 = 3600 * 1_000_000_000
    var maximumHosts = 50_000
    private var proven: [String: UInt64] = [:]
    private var authenticated: [String: UInt64] = [:]

    mutating func proved(_ host: String, now: UInt64) { remember(host, in: &proven, now: now) }

    mutating func authenticated(_ host: String, now: UInt64) {
        remember(host, in: &proven, now: now)
        remember(host, in: &authenticated, now: now)
    }

    func isProven(_ host: String, now: UInt64) -> Bool { (proven[host] ?? 0) > now }
    func isAuthenticated(_ host: String, now: UInt64) -> Bool { (authenticated[host] ?? 0) > now }

    private func remember(_ host: String, in table: inout [String: UInt64], now: UInt64) {
        if table.count >= maximumHosts { table = table.filter { $0.value > now } }
        if table.count < maximumHosts || table[host] != nil { table[host] = now + lifetimeNs }
    }
}
