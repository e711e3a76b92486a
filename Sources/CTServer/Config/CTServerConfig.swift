import Foundation
import Protocol

/// ct-server's YAML configuration (deploy/config/ct-server.yaml documents every key).
public struct CTServerConfig: Codable, Equatable, Sendable {
    /// This CT-Server's name in topology reports and logs.
    public var name: String?
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel: String?
    /// Where Flow-Servers attach (`listen`, secret, TLS, heartbeat, limits).
    public var flowLink: LinkSettings?
    /// The SIP edge: addresses, realm, users, limits.
    public var sip: SIPSettings?
    /// The channel loop: prompts, recordings, text-to-speech cache, diagnostic numbers.
    public var media: MediaSettings?
    /// Prometheus metrics, /healthz and /readyz over HTTP (`listen`; none when absent).
    public var metrics: MetricsSettings?

    public init(name: String? = nil, logLevel: String? = nil, flowLink: LinkSettings? = nil, sip: SIPSettings? = nil, media: MediaSettings? = nil) {
        self.name = name
        self.logLevel = logLevel
        self.flowLink = flowLink
        self.sip = sip
        self.media = media
    }

    enum CodingKeys: String, CodingKey {
        case name, sip, media, metrics
        case logLevel = "log_level"
        case flowLink = "flow_link"
    }

    public static let secretEnvironmentVariable = "HOTLINE_FLOW_LINK_SECRET"
    public static let defaultListen = "127.0.0.1:7100"
}

/// The `sip:` block of ct-server.yaml.
public struct SIPSettings: Codable, Equatable, Sendable {
    /// UDP and TCP on this address ("host:port"; IPv6 as "[::1]:5060").
    public var listen: String?
    /// SIP over TLS on this address, with `tls`.
    public var tlsListen: String?
    public var tls: TLSConfiguration?
    /// Digest realm (default "hotline").
    public var realm: String?
    /// Phones allowed to register (agents' extensions).
    public var users: [SIPUserSettings]?
    public var minExpires: Int?
    public var maxExpires: Int?
    /// Messages per second accepted from one source address, and the burst allowed.
    public var rateLimitPerSource: Double?
    public var rateLimitBurst: Double?
    /// Source addresses exempt from the rate limit (trunks, a SIP dispatcher).
    public var trustedSources: [String]?
    /// Server transactions alive at once; beyond this new requests get 503 + Retry-After.
    public var maxTransactions: Int?
    /// Failed authentications from one user and source before a lock-out, and its length.
    public var authMaxFailures: Int?
    public var authLockoutSeconds: Int?
    /// Failures for one user from all sources (within 10 minutes) before it is locked out from new addresses; failures from one address for all users.
    public var authMaxFailuresPerUser: Int?
    public var authMaxFailuresPerSource: Int?
    /// Digest algorithms offered, most preferred first: "SHA-256", "MD5".
    public var digestAlgorithms: [String]?
    /// The echo-test number answered by the CT-Server itself (default 9196), and how long it rings.
    public var echoNumber: String?
    public var echoRingMs: Int?
    /// Media: the address RTP binds and advertises (default: the SIP listen host) and the port range.
    public var mediaAddress: String?
    /// Behind NAT: the public address advertised (Via, Contact, SDP) to peers outside
    /// `local_networks` (CIDR list; default loopback, RFC 1918, link-local, CGNAT, ULA).
    public var externalAddress: String?
    public var localNetworks: [String]?
    /// OPTIONS to phones registered from behind NAT (their Contact is not where they register
    /// from) every N seconds, so their NAT binding stays open (0 = never; default 25).
    public var natKeepaliveSeconds: Int?
    public var rtpPortMin: Int?
    public var rtpPortMax: Int?
    /// Outbound trunks the Flow-Servers can originate through.
    public var trunks: [TrunkSettings]?
    /// New requests get 503 while the signalling loop runs this far behind (ms; 0 = never).
    public var overloadLagMs: Int?
    /// SIP over TCP/TLS: connections in all and from one address (trusted sources exempt),
    /// and idle timeouts before and after a connection carries an authenticated request.
    public var maxTCPConnections: Int?
    public var maxTCPConnectionsPerSource: Int?
    public var tcpIdleSeconds: Int?
    public var tcpPreauthIdleSeconds: Int?
    /// Registrations kept across restarts in this JSON file (none: forgotten at exit).
    public var registrationsFile: String?

    public init(listen: String? = nil) { self.listen = listen }

    enum CodingKeys: String, CodingKey {
        case listen, tls, realm, users
        case tlsListen = "tls_listen"
        case minExpires = "min_expires"
        case maxExpires = "max_expires"
        case rateLimitPerSource = "rate_limit_per_source"
        case rateLimitBurst = "rate_limit_burst"
        case trustedSources = "trusted_sources"
        case maxTransactions = "max_transactions"
        case authMaxFailures = "auth_max_failures"
        case authLockoutSeconds = "auth_lockout_seconds"
        case authMaxFailuresPerUser = "auth_max_failures_per_user"
        case authMaxFailuresPerSource = "auth_max_failures_per_source"
        case digestAlgorithms = "digest_algorithms"
        case echoNumber = "echo_number"
        case echoRingMs = "echo_ring_ms"
        case mediaAddress = "media_address"
        case externalAddress = "external_address"
        case localNetworks = "local_networks"
        case natKeepaliveSeconds = "nat_keepalive_seconds"
        case rtpPortMin = "rtp_port_min"
        case rtpPortMax = "rtp_port_max"
        case trunks
        case overloadLagMs = "overload_lag_ms"
        case maxTCPConnections = "max_tcp_connections"
        case maxTCPConnectionsPerSource = "max_tcp_connections_per_source"
        case tcpIdleSeconds = "tcp_idle_seconds"
        case tcpPreauthIdleSeconds = "tcp_preauth_idle_seconds"
        case registrationsFile = "registrations_file"
    }

    public static let defaultListen = "127.0.0.1:5060"
    public static let defaultRealm = "hotline"
}

/// One outbound trunk (sip.trunks in ct-server.yaml).
public struct TrunkSettings: Codable, Equatable, Sendable {
    public var name: String
    /// The trunk's SIP address, "host:port" with a literal IP (UDP).
    public var address: String
    /// Digest credentials the trunk challenges for; the password from `password_file`
    /// (preferred) or `password`.
    public var username: String?
    public var password: String?
    public var passwordFile: String?
    public var fromUser: String?
    /// OPTIONS keep-alive interval (default 30000; 0 = none) and how long to wait for an answer.
    public var optionsIntervalMs: Int?
    public var optionsTimeoutMs: Int?
    public var maxChannels: Int?

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }

    enum CodingKeys: String, CodingKey {
        case name, address, username, password
        case passwordFile = "password_file"
        case fromUser = "from_user"
        case optionsIntervalMs = "options_interval_ms"
        case optionsTimeoutMs = "options_timeout_ms"
        case maxChannels = "max_channels"
    }

    func trunk() throws -> Trunks.Trunk {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ConfigError("sip.trunks: name \(name) must be letters, digits, - or _")
        }
        let addr: SocketAddress
        do { addr = try SocketAddress(parsing: address) } catch { throw ConfigError("sip.trunks.\(name).address: \(error)") }
        var creds: DigestClient.Credentials?
        if let username {
            var pw = password
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else { throw ConfigError("sip.trunks.\(name).password_file: cannot read \(passwordFile)") }
                pw = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let pw, !pw.isEmpty else { throw ConfigError("sip.trunks.\(name): username without password_file or password") }
            creds = DigestClient.Credentials(username: username, password: pw)
        }
        return Trunks.Trunk(name: name, address: addr, credentials: creds, fromUser: fromUser, optionsIntervalMs: max(0, optionsIntervalMs ?? 30_000),
                            optionsTimeoutMs: max(100, optionsTimeoutMs ?? 2000), maxChannels: maxChannels)
    }
}

/// One SIP user. Store `ha1_sha256` and `ha1_md5` (print them with
/// `ct-server --hash-credentials USER`); `password` is accepted for development only and is
/// hashed at load, never kept or logged.
public struct SIPUserSettings: Codable, Equatable, Sendable {
    public var user: String
    public var password: String?
    public var ha1Md5: String?
    public var ha1Sha256: String?

    public init(user: String, password: String? = nil) {
        self.user = user
        self.password = password
    }

    enum CodingKeys: String, CodingKey {
        case user, password
        case ha1Md5 = "ha1_md5"
        case ha1Sha256 = "ha1_sha256"
    }

    func credentials(realm: String) throws -> DigestAuthenticator.Credentials {
        if let password { return .fromPassword(user: user, realm: realm, password: password) }
        var h: [Crypto.DigestAlgorithm: String] = [:]
        if let m = ha1Md5 { h[.md5] = m.lowercased() }
        if let s = ha1Sha256 { h[.sha256] = s.lowercased() }
        guard !h.isEmpty else { throw ConfigError("sip user \(user): give ha1_sha256/ha1_md5 (or password)") }
        return DigestAuthenticator.Credentials(ha1: h)
    }
}

/// The `media:` block of ct-server.yaml.
public struct MediaSettings: Codable, Equatable, Sendable {
    /// Where `file:NAME` prompts are found (default "run/prompts").
    public var promptDirectory: String?
    /// Where recordings are written (default "run/recordings").
    public var recordingDirectory: String?
    /// Where espeak-ng output is cached (default "run/tts-cache").
    public var ttsCacheDirectory: String?
    /// Diagnostic numbers: number -> echo | playback | readback (default *43, *44, *45).
    public var diagnostics: [String: String]?
    /// What *44 plays (a WAV path or prompt name); a spoken sentence when unset.
    public var playbackPrompt: String?
    /// How the channel loop moves RTP: `uring` (default: a tick's receives and sends in one
    /// io_uring submission each, falling back when the kernel refuses) or `syscalls` (one
    /// recvmsg/sendmsg per channel).
    public var batchedIO: DatagramBatch.Mode?
    /// Channel loops (threads, each a core's worth of RTP); default the number of cores.
    public var loops: Int?
    /// SCHED_FIFO priority of the channel loops' threads, 1-99 (default 10), so that a tick
    /// runs on time however busy the machine is; 0 for ordinary scheduling. Refused by the
    /// kernel (no CAP_SYS_NICE or RLIMIT_RTPRIO), the loops run ordinarily and say so; a loop
    /// saturated for half a second steps down until calm (`LoopPriority`).
    public var realtimePriority: Int?
    public static let defaultRealtimePriority = 10

    public init() {}

    enum CodingKeys: String, CodingKey {
        case diagnostics
        case batchedIO = "batched_io"
        case loops
        case realtimePriority = "realtime_priority"
        case promptDirectory = "prompt_directory"
        case recordingDirectory = "recording_directory"
        case ttsCacheDirectory = "tts_cache_directory"
        case playbackPrompt = "playback_prompt"
    }
}

extension CTServerConfig: ValidatedConfiguration {
    /// Refuses useless values, naming every key at once (ConfigProblems).
    public func validate() throws {
        var p = ConfigProblems()
        p.logLevel(logLevel)
        flowLink?.validate("flow_link", into: &p)
        p.range(media?.loops, "media.loops", 1...256)
        p.range(media?.realtimePriority, "media.realtime_priority", 0...99)
        if let s = sip {
            for (key, value) in [("sip.listen", s.listen), ("sip.tls_listen", s.tlsListen)] {
                if let value { p.check((try? SocketAddress.split(value)) != nil, key, "\(value) is not host:port") }
            }
            p.range(s.minExpires, "sip.min_expires", 1...86_400)
            p.range(s.maxExpires, "sip.max_expires", 1...604_800)
            if let a = s.minExpires, let b = s.maxExpires { p.check(a <= b, "sip.max_expires", "\(b) is less than min_expires \(a)") }
            p.positive(s.rateLimitPerSource, "sip.rate_limit_per_source")
            p.positive(s.rateLimitBurst, "sip.rate_limit_burst")
            p.range(s.maxTransactions, "sip.max_transactions", 1...10_000_000)
            p.range(s.authMaxFailures, "sip.auth_max_failures", 1...1000)
            p.range(s.authLockoutSeconds, "sip.auth_lockout_seconds", 1...86_400)
            p.range(s.authMaxFailuresPerUser, "sip.auth_max_failures_per_user", 1...100_000)
            p.range(s.authMaxFailuresPerSource, "sip.auth_max_failures_per_source", 1...100_000)
            p.range(s.echoRingMs, "sip.echo_ring_ms", 0...60_000)
            p.range(s.rtpPortMin, "sip.rtp_port_min", 1024...65534)
            p.range(s.rtpPortMax, "sip.rtp_port_max", 1025...65535)
            if let a = s.rtpPortMin, let b = s.rtpPortMax { p.check(a < b, "sip.rtp_port_max", "\(b) is not above rtp_port_min \(a)") }
            p.range(s.overloadLagMs, "sip.overload_lag_ms", 1...60_000)
            p.range(s.maxTCPConnections, "sip.max_tcp_connections", 1...1_000_000)
            p.range(s.maxTCPConnectionsPerSource, "sip.max_tcp_connections_per_source", 1...1_000_000)
            p.range(s.tcpIdleSeconds, "sip.tcp_idle_seconds", 1...86_400)
            p.range(s.tcpPreauthIdleSeconds, "sip.tcp_preauth_idle_seconds", 1...86_400)
            if let e = s.externalAddress { p.check(AdvertisedAddresses.Network.address(e) != nil, "sip.external_address", "\(e) is not a literal IPv4 or IPv6 address") }
            for n in s.localNetworks ?? [] { p.check(AdvertisedAddresses.Network(n) != nil, "sip.local_networks", "\(n) is not an address or CIDR prefix") }
            p.range(s.natKeepaliveSeconds, "sip.nat_keepalive_seconds", 0...3600)
            if let m = s.mediaAddress { p.check(AdvertisedAddresses.Network.address(m) != nil, "sip.media_address", "\(m) is not a literal IPv4 or IPv6 address") }
            for a in s.digestAlgorithms ?? [] { p.check(["MD5", "SHA-256"].contains(a.uppercased()), "sip.digest_algorithms", "\(a) is not MD5 or SHA-256") }
            for (i, t) in (s.trunks ?? []).enumerated() {
                p.check(!t.name.isEmpty, "sip.trunks[\(i)].name", "is empty")
                p.check((try? SocketAddress.split(t.address)) != nil, "sip.trunks[\(i)].address", "\(t.address) is not host:port")
                p.range(t.optionsIntervalMs, "sip.trunks[\(i)].options_interval_ms", 0...3_600_000)
                p.range(t.optionsTimeoutMs, "sip.trunks[\(i)].options_timeout_ms", 100...600_000)
                p.range(t.maxChannels, "sip.trunks[\(i)].max_channels", 1...100_000)
            }
            for (i, u) in (s.users ?? []).enumerated() { p.check(!u.user.isEmpty, "sip.users[\(i)].user", "is empty") }
        }
        try p.throwIfAny()
    }
}
