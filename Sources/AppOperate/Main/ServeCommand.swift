import AppOperateKit
import AppOperateWeb
import ArgumentParser
import Foundation
import Logging
import Protocol

/// `app-operate serve`: the web desktop (agents, supervisors, administrators in a browser) and
/// this App-Operate's metrics. Each browser login is its own link to the Flow-Server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the operators' desktop to browsers (HTTP/HTTPS and WebSocket).",
        discussion: "Settings: web.listen, web.certificate, web.private_key, web.session_idle_minutes and metrics.listen in --config; flags override them.")

    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Flow-Server address, host:port (default \(FlowServerLinkDefaults.defaultAddress)).") var connect: String?
    @Option(help: "Where browsers connect, host:port (default 127.0.0.1:8080).") var listen: String?
    @Option(help: "HTTPS: PEM certificate chain (with --private-key).") var certificate: String?
    @Option(help: "HTTPS: PEM private key.") var privateKey: String?
    @Option(help: "Serve /metrics, /healthz and /readyz on this host:port (metrics.listen).") var metricsListen: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?

    func run() throws {
        let cfg = try loadYAMLConfig(AppOperateConfig.self, path: config) ?? AppOperateConfig()
        ServiceRuntime.bootstrapLogging(level: logLevel ?? cfg.logLevel ?? "info")
        let logger = Logger(label: "app-operate")
        var link = cfg.flowLink ?? LinkSettings()
        link.configDirectory = config.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let address = connect ?? link.connect ?? FlowServerLinkDefaults.defaultAddress
        let web = cfg.web ?? WebSettings()
        let cert = certificate ?? web.certificate, key = privateKey ?? web.privateKey
        guard (cert == nil) == (key == nil) else { throw ValidationError("HTTPS needs both a certificate and a private key") }
        let options = WebDesktop.Options(listen: listen ?? web.listen ?? "127.0.0.1:8080",
                                         flow: .init(address: address, link: link, name: cfg.name ?? "app-operate-web@\(ProcessInfo.processInfo.hostName)", attempts: 1),
                                         certificate: cert, privateKey: key, sessionIdleMinutes: web.sessionIdleMinutes ?? 480)
        ServiceMetrics.bootstrap(service: "app-operate", instance: cfg.name ?? "web", catalogue: MetricsCatalogue.appOperate)
        let desktop = try WebDesktop(options, logger: logger)
        let metrics = try ServiceMetrics.serve(metricsListen.map { MetricsSettings(listen: $0, tls: cfg.metrics?.tls) } ?? cfg.metrics, defaultListen: nil, logger: logger,
                                               sample: { desktop.sampleMetrics() }, readiness: { desktop.notReadyReason() })
        let done = DispatchSemaphore(value: 0)
        var failure: Error?
        Task {
            do {
                try await desktop.run { url in
                    print("app-operate web listening \(url) flow=\(address)" + (metrics.map { " metrics=\($0.scheme)://\($0.boundAddress)/metrics" } ?? ""))
                    fflushStdout()
                }
            } catch {
                failure = error
            }
            done.signal()
        }
        done.wait()
        metrics?.stop()
        if let failure {
            logger.critical("web desktop stopped: \(failure)")
            throw ExitCode(2)
        }
    }
}
