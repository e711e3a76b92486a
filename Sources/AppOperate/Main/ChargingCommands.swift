import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// Charging from the command line: tariffs (admin), re-rating, bills, charge reports and charts.
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admin", abstract: "Administration (admin role, checked by the Flow-Server).",
                                                    subcommands: [TariffCommand.self, OperatorAdminCommand.self, QueueAdminCommand.self])
}

struct TariffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tariff", abstract: "Tariffs: validate, publish (a new version, audited), list, show.",
                                                    subcommands: [Validate.self, Publish.self, List.self, Show.self])
    struct Validate: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The tariff YAML file.") var file: String
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "validate", kind: "tariff", source: try FlowAdminCommand.read(file))) }
    }
    struct Publish: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The tariff YAML file.") var file: String
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "publish", kind: "tariff", source: try FlowAdminCommand.read(file))) }
    }
    struct List: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "list", kind: "tariff")) }
    }
    struct Show: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option var version: UInt32 = 0
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "show", kind: "tariff", version: version)) }
    }
}

/// Shared: a range of local dates/times, sent as a ChargingRequest.
struct ChargingRange: ParsableArguments {
    @Option(help: "Start (2026-12-01 or 2026-12-01T08:00), local time.") var from: String?
    @Option(help: "End, exclusive.") var to: String?
    @Option(help: "A month instead of --from/--to: 2026-12.") var month: String?
    @Flag(help: "Use UTC instead of the local time zone.") var utc = false

    var zone: TimeZone { utc ? TimeZone(identifier: "UTC")! : TimeZone.current }

    func range() throws -> (Date, Date, String) {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        func parse(_ s: String) throws -> Date {
            for p in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
                f.dateFormat = p
                if let d = f.date(from: s) { return d }
            }
            throw ValidationError("cannot read the time \(s): use 2026-12-01 or 2026-12-01T08:00")
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let start: Date, end: Date, label: String
        if let month {
            f.dateFormat = "yyyy-MM"
            guard let m = f.date(from: month) else { throw ValidationError("--month is yyyy-MM, e.g. 2026-12") }
            start = m
            end = cal.date(byAdding: .month, value: 1, to: m)!
            label = month
        } else {
            start = try from.map(parse) ?? cal.startOfDay(for: Date())
            end = try to.map(parse) ?? Date()
            label = "\(from ?? "today") – \(to ?? "now")"
        }
        guard start.timeIntervalSince1970 >= 0, end > start else { throw ValidationError("the range must start in 1970 or later and end after it starts") }
        return (start, end, label)
    }

    func request(_ action: String, caller: String = "", grouping: String = "service") throws -> (ChargingRequest, String) {
        let (s, e, label) = try range()
        return (ChargingRequest(action: action, fromMs: UInt64(s.timeIntervalSince1970 * 1000), toMs: UInt64(e.timeIntervalSince1970 * 1000),
                                caller: caller, grouping: grouping, utcOffsetSeconds: Int64(zone.secondsFromGMT(for: s))), label)
    }

    static func send(_ connection: ConnectionOptions, _ r: ChargingRequest) throws -> ChargingReport {
        let client = try connection.open()
        defer { client.close() }
        do {
            return try client.request(r, expecting: ChargingReport.self, timeoutMs: 600_000)
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("\(e.reason)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct RateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rate", abstract: "Re-rate the calls of a period under the tariffs as they are now (admin; idempotent, audited).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var range: ChargingRange
    func run() throws {
        let (r, _) = try range.request("rate")
        print(try ChargingRange.send(connection, r).summary)
    }
}

struct BillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bill", abstract: "A caller number's bill: every rated call of the period and the total.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var range: ChargingRange
    @Option(help: "The calling number.") var caller: String
    @Option(help: "Output: table or csv.") var format: String = "table"
    @Option(help: "Also write a printable HTML bill to this file.") var html: String?
    func run() throws {
        guard ["table", "csv"].contains(format) else { throw ValidationError("--format is table or csv") }
        let (r, label) = try range.request("bill", caller: caller)
        let report = try ChargingRange.send(connection, r)
        print(format == "csv" ? ChargeFormatter.csv(report) : ChargeFormatter.table(report))
        if let html { try ChargeFormatter.htmlBill(report, caller: caller, period: label).write(toFile: html, atomically: true, encoding: .utf8) }
    }
}

struct ChargesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "charges", abstract: "Charges of a period by service, caller, line (trunk), queue, line per day, day or hour, with an optional SVG chart.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var range: ChargingRange
    @Option(help: "Group by: service, caller, line (trunk), queue, line-day, day or hour.") var by: String = "service"
    @Option(help: "Output: table or csv.") var format: String = "table"
    @Option(help: "Write an SVG bar chart of revenue (or --chart-of calls) to this file.") var chart: String?
    @Option(help: "The charted column: total_fen, calls, seconds, basic_fen, info_fee_fen.") var chartOf: String = "total_fen"
    func run() throws {
        guard ["service", "caller", "line", "queue", "line-day", "day", "hour"].contains(by) else {
            throw ValidationError("--by is service, caller, line, queue, line-day, day or hour")
        }
        guard ["table", "csv"].contains(format) else { throw ValidationError("--format is table or csv") }
        let (r, label) = try range.request("charges", grouping: by)
        let report = try ChargingRange.send(connection, r)
        print(format == "csv" ? ChargeFormatter.csv(report) : ChargeFormatter.table(report))
        if let chart {
            guard report.columns.contains(chartOf) else { throw ValidationError("--chart-of is one of \(report.columns.dropFirst().joined(separator: ", "))") }
            try ChargeFormatter.svgChart(report, value: chartOf, title: "\(chartOf) by \(by), \(label)").write(toFile: chart, atomically: true, encoding: .utf8)
        }
    }
}
