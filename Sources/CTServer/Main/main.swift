import ArgumentParser
import Foundation
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
    @Option(name: [.customLong("link-listen"), .customLong("listen")], help: "Address for Flow-Server links, host:port.") var linkListen: String?
    @Option(help: "SIP address (UDP and TCP on the same port), host:port.") var sipListen: String?
    @Option(help: "Serve /metrics, /healthz and /readyz on this host:port (metrics.listen; \"off\": none).") var metricsListen: String?
    @Option(help: "Print the digest HA1 values for USER (password read from stdin) and exit.") var hashCredentials: String?
    @Option(help: "Digest realm for --hash-credentials.") var realm: String = SIPSettings.defaultRealm
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?
    @Flag(help: "Check the configuration (file and flags), print the effective one (secrets hidden) and exit.") var checkConfig = false

    func run() throws {
        var cfg = try loadYAMLConfig(CTServerConfig.self, path: config) ?? CTServerConfig()
        let configDirectory = config.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        cfg.flowLink?.configDirectory = configDirectory
        if let name { cfg.name = name }
        if let logLevel { cfg.logLevel = logLevel }
        if let metricsListen { cfg.metrics = MetricsSettings(listen: metricsListen, tls: cfg.metrics?.tls) }
        if let user = hashCredentials {
            let password = (readLine(strippingNewline: true) ?? "")
            let c = DigestAuthenticator.Credentials.fromPassword(user: user, realm: realm, password: password)
            print("- user: \"\(user)\"\n  ha1_sha256: \(c.ha1[.sha256]!)\n  ha1_md5: \(c.ha1[.md5]!)")
            return
        }
        if let linkListen {
            var link = cfg.flowLink ?? LinkSettings()
            link.listen = linkListen
            cfg.flowLink = link
        }
        if let sipListen {
            var sip = cfg.sip ?? SIPSettings()
            sip.listen = sipListen
            cfg.sip = sip
        }
        guard try configurationReady(cfg, checkOnly: checkConfig) else { return }
        do {
            try ServiceRuntime.run(label: "ct-server", logLevel: cfg.logLevel) { loop, logger in
                try CTService(loop: loop, config: cfg, logger: logger)
            }
        } catch is ServiceStartFailed {
            throw ExitCode(2)
        }
    }
}

CTServerCommand.main()
