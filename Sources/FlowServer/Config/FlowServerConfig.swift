import Protocol

/// flow-server's YAML configuration (deploy/config/flow-server.yaml documents every key).
public struct FlowServerConfig: Codable, Equatable, Sendable {
    public var name: String?
    public var logLevel: String?
    /// The link to the CT-Server (`connect`, secret, TLS, backoff).
    public var ctLink: LinkSettings?
    /// Where App-Operate clients attach (`listen`, secret, TLS, limits).
    public var appLink: LinkSettings?
    /// PostgreSQL and the spool records pass through.
    public var database: DatabaseSettings?
    /// Where flows (*.yaml) and the mapping table (mapping.yaml) are read from.
    public var flowsDirectory: String?
    /// The CT-Server's prompt folder, when it is visible from here (checks file: prompts).
    public var promptDirectory: String?
    /// The recording folder as seen from here (download, play, delete, retention).
    public var recordings: RecordingSettings?
    /// Prometheus metrics, /healthz and /readyz over HTTP (`listen`; none when absent).
    public var metrics: MetricsSettings?

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
        case database
        case flowsDirectory = "flows_directory"
        case promptDirectory = "prompt_directory"
        case recordings
        case metrics
    }

    public static let ctSecretEnvironmentVariable = "HOTLINE_FLOW_LINK_SECRET"
    public static let appSecretEnvironmentVariable = "HOTLINE_APP_LINK_SECRET"
    public static let defaultConnect = "127.0.0.1:7100"
    public static let defaultListen = "127.0.0.1:7200"
    public static let databaseURLEnvironmentVariable = "HOTLINE_DATABASE_URL"
}

/// The `recordings:` block of flow-server.yaml: the CT-Server's recording folder as mounted on
/// this host (the same folder: local, NFS or a mounted bucket) and the retention in days.
public struct RecordingSettings: Codable, Equatable, Sendable {
    public var directory: String?
    /// Recordings older than this many days are deleted (files and catalogue rows) once a day.
    public var retentionDays: Int?
    public init(directory: String? = nil, retentionDays: Int? = nil) {
        self.directory = directory
        self.retentionDays = retentionDays
    }
    enum CodingKeys: String, CodingKey {
        case directory
        case retentionDays = "retention_days"
    }
}

/// The `database:` block of flow-server.yaml.
public struct DatabaseSettings: Codable, Equatable, Sendable {
    /// A `postgresql://` URL or libpq connection string (HOTLINE_DATABASE_URL beats it).
    public var url: String?
    /// Where records wait until PostgreSQL has them (default run/spool/NAME).
    public var spoolDirectory: String?

    public init(url: String? = nil, spoolDirectory: String? = nil) {
        self.url = url
        self.spoolDirectory = spoolDirectory
    }

    enum CodingKeys: String, CodingKey {
        case url
        case spoolDirectory = "spool_directory"
    }
}

extension FlowServerConfig: ValidatedConfiguration {
    /// Refuses useless values, naming every key at once; a database URL libpq cannot parse is
    /// refused here (it used to spool forever).
    public func validate() throws {
        var p = ConfigProblems()
        p.logLevel(logLevel)
        ctLink?.validate("ct_link", into: &p)
        appLink?.validate("app_link", into: &p)
        if let d = recordings?.retentionDays { p.check(d >= 1 && d <= 36_500, "recordings.retention_days", "1–36500 days") }
        if let url = database?.url { p.check(PostgresConnection.parses(url), "database.url", "libpq cannot read it (postgresql://user@host/db, or key=value pairs)") }
        try p.throwIfAny()
    }
}
