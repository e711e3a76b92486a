import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// Outbound campaigns and do-not-call lists (supervisor or admin; checked by the Flow-Server).
struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Outbound campaigns: create, import a call list, start, pause, resume, stop, list, report; do-not-call lists.",
        subcommands: [Create.self, Import.self, Control.self, List.self, Report.self, DNC.self])

    static func send(_ connection: ConnectionOptions, _ r: CampaignRequest) throws {
        let client = try connection.open()
        defer { client.close() }
        do {
            let reply = try client.request(r, expecting: CampaignReply.self, timeoutMs: 300_000)
            if reply.columns.isEmpty { print(reply.summary) } else {
                print(ChargeFormatter.table(ChargingReport(summary: reply.summary, columns: reply.columns, rows: reply.rows)))
            }
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("campaign \(r.action): \(e.reason)\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a campaign.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var name: String
        @Option(help: "preview, progressive or predictive.") var mode: String = "progressive"
        @Option(help: "The agents' queue.") var queue: String
        @Option(help: "The caller ID the callees see.") var callerId: String
        @Option(help: "Calling window in the callee's local time.") var window: String = "09:00-21:00"
        @Option(help: "The callees' time zone when the list has none (IANA name).") var timezone: String?
        @Option(help: "Abandon-rate cap (fraction of answered calls).") var abandonCap: String = "0.03"
        @Option(help: "What a callee hears when no agent is free (a play item: tts:en:…, file:…).") var message: String?
        @Option(help: "Retry rules, OUTCOME=ATTEMPTS/SECONDS,… (default busy=3/600,no-answer=3/3600,failed=2/1800,abandoned=2/3600).") var retries: String?
        func run() throws {
            var a = ["name": name, "mode": mode, "queue": queue, "caller_id": callerId, "window": window, "abandon_cap": abandonCap]
            if let retries { a["retries"] = retries }
            if let timezone { a["timezone"] = timezone }
            if let message { a["message"] = message }
            try CampaignCommand.send(connection, CampaignRequest(action: "create", arguments: a))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a call list (CSV with a number column; other columns are customer fields; timezone optional).")
        @OptionGroup var connection: ConnectionOptions
        @Argument var name: String
        @Argument var file: String
        func run() throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file) as UTF-8") }
            try CampaignCommand.send(connection, CampaignRequest(action: "import", arguments: ["name": name], csv: text))
        }
    }

    struct Control: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "control", abstract: "start, pause, resume or stop a campaign: campaign control ACTION NAME.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "start, pause, resume or stop.") var action: String
        @Argument var name: String
        func run() throws {
            guard ["start", "pause", "resume", "stop"].contains(action) else { throw ValidationError("start, pause, resume or stop") }
            try CampaignCommand.send(connection, CampaignRequest(action: action, arguments: ["name": name]))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every campaign with its progress.")
        @OptionGroup var connection: ConnectionOptions
        func run() throws { try CampaignCommand.send(connection, CampaignRequest(action: "list")) }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A campaign's attempts by outcome, answered, abandoned and the abandon rate.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var name: String
        func run() throws { try CampaignCommand.send(connection, CampaignRequest(action: "report", arguments: ["name": name])) }
    }

    struct DNC: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dnc", abstract: "Do-not-call lists: dnc add|remove NUMBER [--campaign NAME], dnc list.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "add, remove or list.") var action: String
        @Argument var number: String?
        @Option(help: "A campaign's own list (default: the global list).") var campaign: String = ""
        @Option var reason: String = ""
        func run() throws {
            switch action {
            case "list": try CampaignCommand.send(connection, CampaignRequest(action: "dnc-list"))
            case "add", "remove":
                guard let number else { throw ValidationError("dnc \(action) NUMBER") }
                try CampaignCommand.send(connection, CampaignRequest(action: "dnc-\(action)", arguments: ["number": number, "name": campaign, "reason": reason]))
            default: throw ValidationError("add, remove or list")
            }
        }
    }
}

/// Scheduled calls (reminders, wake-up calls): placed by the system at a time, running a flow
/// when answered; they survive restarts (agents, supervisors and admins).
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Calls placed at a set time running a flow: schedule add NUMBER --flow F (--at HH:MM|YYYY-MM-DDTHH:MM | --in SECONDS), list, cancel ID.",
        subcommands: [Add.self, List.self, Cancel.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Schedule a call.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var number: String
        @Option(help: "The flow the called party hears.") var flow: String
        @Option(help: "HH:MM (the next such time) or YYYY-MM-DDTHH:MM, local time.") var at: String?
        @Option(name: .customLong("in"), help: "Seconds from now.") var inSeconds: Int?
        @Option(help: "The caller ID to show.") var callerId: String?
        @Option(name: .customLong("var"), help: "NAME=VALUE: a flow variable (repeatable).") var variables: [String] = []
        func run() throws {
            guard (at == nil) != (inSeconds == nil) else { throw ValidationError("give --at or --in") }
            var a = ["number": number, "flow": flow]
            if let at { a["at"] = at }
            if let inSeconds { a["in_seconds"] = String(inSeconds) }
            if let callerId { a["caller_id"] = callerId }
            for v in variables {
                guard let eq = v.firstIndex(of: "=") else { throw ValidationError("--var is NAME=VALUE") }
                a["var." + v[..<eq]] = String(v[v.index(after: eq)...])
            }
            try CampaignCommand.send(connection, CampaignRequest(action: "schedule-add", arguments: a))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pending calls, and those of the last day.")
        @OptionGroup var connection: ConnectionOptions
        func run() throws { try CampaignCommand.send(connection, CampaignRequest(action: "schedule-list")) }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending call.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String
        func run() throws { try CampaignCommand.send(connection, CampaignRequest(action: "schedule-cancel", arguments: ["id": id])) }
    }
}
