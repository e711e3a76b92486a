import ArgumentParser
import CTServerKit
import Logging
import Protocol

struct CTServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ct-server",
        abstract: "Hotline CT-Server: the telephony edge (SIP, RTP, channel loop) that Flow-Servers attach to.",
        discussion: "Settings come from --config (YAML; see deploy/config/ct-server.yaml), then flags override them. "
            + "The Flow-Server link secret may come from \(CTServerConfig.secretEnvironmentVariable).")

    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Name of this CT-Server in topology reports.") var name: String?
    @Option(help: "Address for Flow-Server links, host:port.") var listen: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?

    func run() throws {
        var cfg = try loadYAMLConfig(CTServerConfig.self, path: config) ?? CTServerConfig()
        if let name { cfg.name = name }
        if let logLevel { cfg.logLevel = logLevel }
        if let listen {
            var link = cfg.flowLink ?? LinkSettings()
            link.listen = listen
            cfg.flowLink = link
        }
        ServiceRuntime.bootstrapLogging(level: cfg.logLevel)
        let logger = Logger(label: "ct-server")
        let loop = try EventLoop()
        let service: CTService
        do {
            service = try CTService(loop: loop, config: cfg, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(2)
        }
        try ServiceRuntime.installShutdownHandler(loop: loop, logger: logger) { sig in
            logger.notice("signal \(sig): stopping")
            service.shutdown()
            loop.stop()
        }
        // Machine-readable line for scripts and tests that start us on port 0.
        print("ct-server \(service.name) listening flow_link=\(service.listenAddress)")
        fflushStdout()
        loop.run()
    }
}

CTServerCommand.main()
