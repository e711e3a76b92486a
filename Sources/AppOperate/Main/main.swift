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

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print call statistics from the database: offered, answered, abandoned, ASA, service level, AHT, occupancy …",
        discussion: "Times are local (the machine's time zone) unless --utc. FROM and TO are dates (2026-11-22) or times (2026-11-22T08:00).")

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Start of the range (default: today 00:00).") var from: String?
    @Option(help: "End of the range, exclusive (default: now).") var to: String?
    @Option(help: "Interval: 15m, hour or day.") var interval: String = "hour"
    @Option(help: "Group by: total, queue, agent or flow.") var by: String = "total"
    @Option(help: "Output: table, csv or json.") var format: String = "table"
    @Flag(help: "Use UTC instead of the local time zone.") var utc = false

    func parse(_ s: String, zone: TimeZone) throws -> Date {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        for pattern in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            f.dateFormat = pattern
            if let d = f.date(from: s) { return d }
        }
        throw ValidationError("cannot read the time \(s): use 2026-11-22 or 2026-11-22T08:00")
    }

    func run() throws {
        guard ["15m", "hour", "day"].contains(interval) else { throw ValidationError("--interval is 15m, hour or day") }
        guard ["total", "queue", "agent", "flow"].contains(by) else { throw ValidationError("--by is total, queue, agent or flow") }
        guard ["table", "csv", "json"].contains(format) else { throw ValidationError("--format is table, csv or json") }
        let zone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let start = try from.map { try parse($0, zone: zone) } ?? cal.startOfDay(for: Date())
        let end = try to.map { try parse($0, zone: zone) } ?? Date()
        let offset = zone.secondsFromGMT(for: start)
        let client = try connection.open()
        defer { client.close() }
        let report = try client.request(StatisticsRequest(fromMs: UInt64(start.timeIntervalSince1970 * 1000), toMs: UInt64(end.timeIntervalSince1970 * 1000),
                                                          interval: interval, grouping: by, utcOffsetSeconds: Int64(offset)),
                                        expecting: StatisticsReport.self, timeoutMs: 60_000)
        switch format {
        case "csv": print(ReportFormatter.csv(report, utcOffset: offset))
        case "json": print(ReportFormatter.json(report))
        default: print(ReportFormatter.table(report, utcOffset: offset))
        }
    }
}

struct AppOperateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app-operate",
        abstract: "Hotline App-Operate: the operators' client (agent, supervisor, admin, reports).",
        discussion: "Talks only to a Flow-Server. The link secret may come from \(FlowServerLinkDefaults.secretEnvironmentVariable).",
        subcommands: [Status.self, Report.self])
}

AppOperateCommand.main()
