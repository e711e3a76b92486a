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
        ServiceRuntime.bootstrapLogging(level: cfg.logLevel)
        let logger = Logger(label: "flow-server")
        let loop = try EventLoop()
        let service: FlowService
        do {
            service = try FlowService(loop: loop, config: cfg, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(2)
        }
        try ServiceRuntime.installShutdownHandler(loop: loop, logger: logger) { sig in
            logger.notice("signal \(sig): stopping")
            service.shutdown()
            loop.stop()
        }
        service.start()
        print("flow-server \(service.name) listening app_link=\(service.appListenAddress) ct_link=\(service.ctLink.target)")
        fflushStdout()
        loop.run()
    }
}

FlowServerCommand.main()
