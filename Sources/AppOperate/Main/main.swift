import AppOperateKit
import ArgumentParser
import Foundation
import Logging
import Protocol

struct ConnectionOptions: ParsableArguments {
    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Flow-Server address, host:port (default \(FlowServerLinkDefaults.defaultAddress)).") var connect: String?
    @Option(help: "Name this client gives in the handshake.") var name: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?
    @Option(help: "Connection attempts before giving up.") var attempts: Int = 3

    func open() throws -> FlowClient {
        let cfg = try loadYAMLConfig(AppOperateConfig.self, path: config) ?? AppOperateConfig()
        ServiceRuntime.bootstrapLogging(level: logLevel ?? cfg.logLevel ?? "warning")
        let link = cfg.flowLink ?? LinkSettings()
        let address = connect ?? link.connect ?? FlowServerLinkDefaults.defaultAddress
        let clientName = name ?? cfg.name ?? "app-operate@\(ProcessInfo.processInfo.hostName)"
        do {
            return try FlowClient(.init(address: address, link: link, name: clientName, attempts: attempts),
                                  logger: Logger(label: "app-operate"))
        } catch {
            FileHandle.standardError.write(Data("app-operate: cannot reach flow-server at \(address): \(error)\n".utf8))
            throw ExitCode(3)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the live topology: the CT-Server, its Flow-Servers and connected clients.")

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        let client = try connection.open()
        defer { client.close() }
        let report = try client.request(TopologyRequest(), expecting: TopologyReport.self)
        print(json ? TopologyFormatter.json(report) : TopologyFormatter.table(report))
    }
}

struct AppOperateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app-operate",
        abstract: "Hotline App-Operate: the operators' client (agent, supervisor, admin, reports).",
        discussion: "Talks only to a Flow-Server. The link secret may come from \(FlowServerLinkDefaults.secretEnvironmentVariable).",
        subcommands: [Status.self])
}

AppOperateCommand.main()
