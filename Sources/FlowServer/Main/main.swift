import ArgumentParser
import FlowServerKit
import Logging
import Protocol

struct FlowServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow-server",
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

    func run() throws {
        var cfg = try loadYAMLConfig(FlowServerConfig.self, path: config) ?? FlowServerConfig()
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
        if databaseURL != nil || spool != nil {
            var d = cfg.database ?? DatabaseSettings()
            if let databaseURL { d.url = databaseURL }
            if let spool { d.spoolDirectory = spool }
            cfg.database = d
        }
        do {
            try ServiceRuntime.run(label: "flow-server", logLevel: cfg.logLevel) { loop, logger in
                try FlowService(loop: loop, config: cfg, logger: logger)
            }
        } catch is ServiceStartFailed {
            throw ExitCode(2)
        }
    }
}

FlowServerCommand.main()
