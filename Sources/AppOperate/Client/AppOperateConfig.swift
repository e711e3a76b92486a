import Protocol

/// app-operate's YAML configuration (deploy/config/app-operate.yaml documents every key).
public struct AppOperateConfig: Codable, Equatable, Sendable {
    public var name: String?
    public var logLevel: String?
    /// The Flow-Server to talk to (`connect`, secret, TLS).
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
}
