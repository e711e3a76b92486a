import Protocol

/// ct-server's YAML configuration (deploy/config/ct-server.yaml documents every key).
public struct CTServerConfig: Codable, Equatable, Sendable {
    /// This CT-Server's name in topology reports and logs.
    public var name: String?
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel: String?
    /// Where Flow-Servers attach (`listen`, secret, TLS, heartbeat, limits).
    public var flowLink: LinkSettings?

    public init(name: String? = nil, logLevel: String? = nil, flowLink: LinkSettings? = nil) {
        self.name = name
        self.logLevel = logLevel
        self.flowLink = flowLink
    }

    enum CodingKeys: String, CodingKey {
        case name
        case logLevel = "log_level"
        case flowLink = "flow_link"
    }

    public static let secretEnvironmentVariable = "HOTLINE_FLOW_LINK_SECRET"
    public static let defaultListen = "127.0.0.1:7100"
}
