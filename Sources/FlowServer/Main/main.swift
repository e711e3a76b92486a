import Foundation
import ArgumentParser
import FlowServerKit
import Logging
import Protocol

struct FlowServerRoot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow-server",
        abstract: "Hotline Flow-Server: flows, ACD, agents and records.",
        subcommands: [FlowServerCommand.self, OperatorCommand.self, RecordingsImportCommand.self],
        defaultSubcommand: FlowServerCommand.self)
}

/// Operators (agents, supervisors, admins) written straight into the database: the first
/// admin, and the sample agents of deploy/up. The password is read from standard input.
struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "operator", abstract: "Create operators in the database.",
                                                    subcommands: [Add.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an operator; the password is read from standard input (one line).")
        @Argument(help: "Work code (login name).") var workCode: String
        @Option(help: "Display name.") var name: String = ""
        @Option(help: "Role: agent, supervisor or admin (repeat for several).") var role: [String] = []
        @Option(help: "Skill and level, SKILL:LEVEL (1–10; repeat).") var skill: [String] = []
        @Option(help: "A queue this operator serves (repeat).") var queue: [String] = []
        @Option(help: "SIP extension (the agent's phone).") var sipExtension: String?
        @Flag(help: "May call outside numbers.") var external = false
        @Flag(help: "Do nothing (and succeed) when the work code exists.") var ifMissing = false
        @Option(help: "PostgreSQL URL; HOTLINE_DATABASE_URL beats it.") var databaseURL: String?
        @Option(help: "Read the password from this file instead of standard input.") var passwordFile: String?

        func run() throws {
            guard let url = ProcessInfo.processInfo.environment[FlowServerConfig.databaseURLEnvironmentVariable] ?? databaseURL else {
                throw ValidationError("give --database-url or \(FlowServerConfig.databaseURLEnvironmentVariable)")
            }
            var skills: [String: Int] = [:]
            for s in skill {
                let p = s.split(separator: ":")
                guard p.count == 2, let l = Int(p[1]) else { throw ValidationError("skill \(s): SKILL:LEVEL") }
                skills[String(p[0])] = l
            }
            let db = try PostgresConnection(url: url)
            try Migrator.bundled().migrate(db)
            if ifMissing, try UserStore.load(workCode: workCode, db) != nil {
                print("operator \(workCode) exists")
                return
            }
            let given = try passwordFile.map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .newlines) } ?? readLine(strippingNewline: true)
            guard let password = given, !password.isEmpty else { throw ValidationError("no password given (standard input or --password-file)") }
            let id = try UserStore.create(Operator(workCode: workCode, name: name, roles: Set(role), skills: skills, queues: Set(queue),
                                                   sipExtension: sipExtension, mayCallExternal: external), password: password, db)
            print("operator \(workCode) created (id \(id), roles \(role.sorted().joined(separator: ",")))")
        }
    }
}

/// Catalogues recordings from the CT-Server's sidecars (`NAME.wav.json`): those whose
/// RecordDone reached no Flow-Server, or a recording folder restored without its rows.
struct RecordingsImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recordings-import",
                                                    abstract: "Catalogue every recording under a folder whose sidecar has no row yet (idempotent).")
    @Option(help: "The recording folder (as recordings.directory).") var directory: String = "run/recordings"
    @Option(help: "PostgreSQL URL; HOTLINE_DATABASE_URL beats it.") var databaseURL: String?
    func run() throws {
        guard let url = ProcessInfo.processInfo.environment[FlowServerConfig.databaseURLEnvironmentVariable] ?? databaseURL else {
            throw ValidationError("give --database-url or \(FlowServerConfig.databaseURLEnvironmentVariable)")
        }
        let db = try PostgresConnection(url: url)
        try Migrator.bundled().migrate(db)
        let r = try RecordingCatalogue.importSidecars(db, directory: directory)
        print("recordings-import: \(r.found) sidecars under \(directory), \(r.added) catalogued now, \(r.found - r.added - r.bad.count) already there")
        for b in r.bad { print("  unreadable sidecar: \(b)") }
        if !r.bad.isEmpty { throw ExitCode(1) }
    }
}

struct FlowServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Hotline Flow-Server: flows, ACD, agents and records; attaches to a CT-Server and serves App-Operate.",
        discussion: "Settings come from --config (YAML; see deploy/config/flow-server.yaml), then flags override them. "
            + "Link secrets may come from \(FlowServerConfig.ctSecretEnvironmentVariable) and \(FlowServerConfig.appSecretEnvironmentVariable).")

    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Name of this Flow-Server in topology reports.") var name: String?
    @Option(help: "CT-Server address to attach to, host:port.") var ct: String?
    @Option(help: "Address for App-Operate clients, host:port.") var listen: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?
    @Option(help: "PostgreSQL URL (postgresql://…); HOTLINE_DATABASE_URL beats it.") var databaseURL: String?
    @Option(help: "Spool folder for records on their way to PostgreSQL.") var spool: String?
    @Option(help: "Folder of flows (*.yaml) and mapping.yaml.") var flows: String?
    @Option(help: "The CT-Server's recording folder as seen from here (recordings.directory).") var recordings: String?
    @Option(help: "Delete recordings older than this many days (recordings.retention_days).") var retentionDays: Int?
    @Option(help: "Serve /metrics, /healthz and /readyz on this host:port (metrics.listen; \"off\": none).") var metricsListen: String?
    @Flag(help: "Check the configuration (file, flags, environment), print the effective one (secrets hidden) and exit.") var checkConfig = false

    func run() throws {
        var cfg = try loadYAMLConfig(FlowServerConfig.self, path: config) ?? FlowServerConfig()
        let configDirectory = config.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        cfg.ctLink?.configDirectory = configDirectory
        cfg.appLink?.configDirectory = configDirectory
        if let metricsListen { cfg.metrics = MetricsSettings(listen: metricsListen, tls: cfg.metrics?.tls) }
        if let name { cfg.name = name }
        if let logLevel { cfg.logLevel = logLevel }
        if let ct {
            var l = cfg.ctLink ?? LinkSettings()
            l.connect = ct
            cfg.ctLink = l
        }
        if let listen {
            var l = cfg.appLink ?? LinkSettings()
            l.listen = listen
            cfg.appLink = l
        }
        if let flows { cfg.flowsDirectory = flows }
        if recordings != nil || retentionDays != nil {
            var r = cfg.recordings ?? RecordingSettings()
            if let recordings { r.directory = recordings }
            if let retentionDays { r.retentionDays = retentionDays }
            cfg.recordings = r
        }
        // An empty URL would make libpq fall back to its default socket: refused, not guessed.
        let env = ProcessInfo.processInfo.environment[FlowServerConfig.databaseURLEnvironmentVariable]
        for (what, value) in [("--database-url", databaseURL), (FlowServerConfig.databaseURLEnvironmentVariable, env), ("database.url", cfg.database?.url)] {
            if let value, value.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("\(what) is empty: give a postgresql:// URL, or leave it out to run without records") }
        }
        if databaseURL != nil || spool != nil {
            var d = cfg.database ?? DatabaseSettings()
            if let databaseURL { d.url = databaseURL }
            if let spool { d.spoolDirectory = spool }
            cfg.database = d
        }
        if let env = ProcessInfo.processInfo.environment[FlowServerConfig.databaseURLEnvironmentVariable] {
            var d = cfg.database ?? DatabaseSettings()
            d.url = env
            cfg.database = d
        }
        guard try configurationReady(cfg, checkOnly: checkConfig) else { return }
        do {
            try ServiceRuntime.run(label: "flow-server", logLevel: cfg.logLevel) { loop, logger in
                try FlowService(loop: loop, config: cfg, logger: logger)
            }
        } catch is ServiceStartFailed {
            throw ExitCode(2)
        }
    }
}

FlowServerRoot.main()
