import Yams

/// What is wrong with a configuration's values, all of it at once: each service checks its
/// effective configuration (file, then flags and environment) before it starts, and refuses a
/// useless value (`max_connections: 0`, `min_expires: -5`, `log_level: loud`) with the key.
public struct ConfigProblems: Error, CustomStringConvertible {
    public var problems: [String] = []
    public init() {}
    public var description: String { "configuration refused:\n" + problems.map { "  \($0)" }.joined(separator: "\n") }

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public mutating func check(_ ok: Bool, _ key: String, _ reason: @autoclosure () -> String) {
        if !ok { problems.append("\(key): \(reason())") }
    }
    public mutating func range(_ v: Int?, _ key: String, _ r: ClosedRange<Int>) {
        if let v { check(r.contains(v), key, "\(v) is outside \(r.lowerBound)…\(r.upperBound)") }
    }
    public mutating func positive(_ v: Double?, _ key: String) {
        if let v { check(v > 0 && v.isFinite, key, "\(v) must be more than 0") }
    }
    public mutating func logLevel(_ v: String?, _ key: String = "log_level") {
        if let v { check(Self.logLevels.contains(v.lowercased()), key, "\(v) is not one of \(Self.logLevels.joined(separator: ", "))") }
    }
    public func throwIfAny() throws { if !problems.isEmpty { throw self } }
}

extension LinkSettings {
    /// The link's numbers: every timeout, size and limit positive and sane.
    public func validate(_ prefix: String, into p: inout ConfigProblems) {
        p.range(heartbeatMs, "\(prefix).heartbeat_ms", 100...600_000)
        p.range(requestTimeoutMs, "\(prefix).request_timeout_ms", 10...600_000)
        p.range(handshakeTimeoutMs, "\(prefix).handshake_timeout_ms", 10...600_000)
        p.range(maxFrameBytes, "\(prefix).max_frame_bytes", 1024...(64 << 20))
        p.range(compressThresholdBytes, "\(prefix).compress_threshold_bytes", 0...(64 << 20))
        p.range(maxOutgoingBytes, "\(prefix).max_outgoing_bytes", 4096...(1 << 30))
        p.range(maxConnections, "\(prefix).max_connections", 1...1_000_000)
        p.range(maxUnauthenticatedPerSource, "\(prefix).max_unauthenticated_per_source", 1...1_000_000)
        p.range(backoffInitialMs, "\(prefix).backoff_initial_ms", 1...600_000)
        p.range(backoffMaxMs, "\(prefix).backoff_max_ms", 1...3_600_000)
        if let a = backoffInitialMs, let b = backoffMaxMs { p.check(a <= b, "\(prefix).backoff_max_ms", "\(b) is less than backoff_initial_ms \(a)") }
        for (key, value) in [("listen", listen), ("connect", connect)] {
            if let value { p.check((try? SocketAddress.split(value)) != nil, "\(prefix).\(key)", "\(value) is not host:port") }
        }
    }
}

/// A service's configuration that checks its own values.
public protocol ValidatedConfiguration: Encodable {
    func validate() throws
}

/// Before a service starts: its effective configuration validated (ConfigProblems thrown); with
/// `checkOnly` (`--check-config`) it is printed, secrets hidden, and false says "do not start".
public func configurationReady<C: ValidatedConfiguration>(_ config: C, checkOnly: Bool) throws -> Bool {
    try config.validate()
    if checkOnly { print(printableConfig(config)) }
    return !checkOnly
}

/// `--check-config`: the effective configuration as YAML, secrets and passwords hidden.
public func printableConfig<T: Encodable>(_ config: T) -> String {
    let text = (try? YAMLEncoder().encode(config)) ?? "(cannot print the configuration)\n"
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
        let t = line.trimmingCharacters(in: .whitespaces)
        for key in ["secret:", "password:", "ha1_md5:", "ha1_sha256:"] where t.hasPrefix(key) || t.hasPrefix("- " + key) {
            return String(line.prefix { $0 == " " || $0 == "-" }) + key + " (hidden)"
        }
        return String(line)
    }.joined(separator: "\n")
}
