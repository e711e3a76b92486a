import Protocol

/// flow-server's YAML configuration (deploy/config/flow-server.yaml documents every key).
public struct FlowServerConfig: Codable, Equatable, Sendable {
    public var name: String?
    public var logLevel: String?
    /// The link to the CT-Server (`connect`, secret, TLS, backoff).
    public var ctLink: LinkSettings?
    /// Where App-Operate clients attach (`listen`, secret, TLS, limits).
    public var appLink: LinkSettings?

    public init(name: String? = nil, logLevel: String? = nil, ctLink: LinkSettings? = nil, appLink: LinkSettings? = nil) {
        self.name = name
        self.logLevel = logLevel
        self.ctLink = ctLink
        self.appLink = appLink
    }

    enum CodingKeys: String, CodingKey {
        case name
        case logLevel = "log_level"
        case ctLink = "ct_link"
        case appLink = "app_link"
    }

    public static let ctSecretEnvironmentVariable = "HOTLINE_FLOW_LINK_SECRET"
    public static let appSecretEnvironmentVariable = "HOTLINE_APP_LINK_SECRET"
    public static let defaultConnect = "127.0.0.1:7100"
    public static let defaultListen = "127.0.0.1:7200"
}
