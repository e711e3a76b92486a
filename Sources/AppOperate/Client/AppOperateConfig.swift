import Protocol

/// app-operate's YAML configuration (deploy/config/app-operate.yaml documents every key).
public struct AppOperateConfig: Codable, Equatable, Sendable {
    public var name: String?
    public var logLevel: String?
    /// The Flow-Server to talk to (`connect`, secret, TLS).
    public var flowLink: LinkSettings?
    /// `app-operate serve`: the browser desktop (listen, TLS, session settings).
    public var web: WebSettings?
    /// `app-operate serve`: Prometheus metrics, /healthz and /readyz over HTTP.
    public var metrics: MetricsSettings?

    public init(name: String? = nil, logLevel: String? = nil, flowLink: LinkSettings? = nil) {
        self.name = name
        self.logLevel = logLevel
        self.flowLink = flowLink
    }

    enum CodingKeys: String, CodingKey {
        case name
        case logLevel = "log_level"
        case flowLink = "flow_link"
        case web, metrics
    }
}

/// The `web:` block of app-operate.yaml: where `app-operate serve` listens and how.
public struct WebSettings: Codable, Equatable, Sendable {
    /// host:port (default 127.0.0.1:8080).
    public var listen: String?
    /// HTTPS: a PEM certificate chain and its private key (plain HTTP when absent).
    public var certificate: String?
    public var privateKey: String?
    /// A browser session ends after this many idle minutes (default 480).
    public var sessionIdleMinutes: Int?
    public init(listen: String? = nil, certificate: String? = nil, privateKey: String? = nil, sessionIdleMinutes: Int? = nil) {
        self.listen = listen
        self.certificate = certificate
        self.privateKey = privateKey
        self.sessionIdleMinutes = sessionIdleMinutes
    }
    enum CodingKeys: String, CodingKey {
        case listen, certificate
        case privateKey = "private_key"
        case sessionIdleMinutes = "session_idle_minutes"
    }
}
