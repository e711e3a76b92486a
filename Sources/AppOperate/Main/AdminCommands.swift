import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// `app-operate admin operator …`: operators managed from App-Operate (admin role, checked by
/// the Flow-Server; every change audited there). New passwords come from a file or standard
/// input, never from the command line.
struct OperatorAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Operators: list, add, edit, disable, enable, passwd (admin).",
        subcommands: [List.self, Add.self, Edit.self, Disable.self, Enable.self, Passwd.self])

    static func send(_ connection: ConnectionOptions, _ r: AdminRequest) throws {
        let client = try connection.open()
        defer { client.close() }
        do {
            let reply = try client.request(r, expecting: AdminReply.self, timeoutMs: 60_000)
            print(reply.columns.isEmpty ? reply.summary : ChargeFormatter.table(ChargingReport(summary: reply.summary, columns: reply.columns, rows: reply.rows)))
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("\(r.action): \(e.reason)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func newPassword(_ file: String) throws -> String {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : (FileManager.default.contents(atPath: file) ?? Data())
        let p = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard p.count >= 8 else { throw ValidationError("the new password (from \(file)) needs at least 8 characters") }
        return p
    }

    struct Fields: ParsableArguments {
        @Option var name: String?
        @Option(help: "agent,supervisor,admin") var roles: String?
        @Option(help: "NAME:LEVEL,… (levels 1–10)") var skills: String?
        @Option(help: "Queues served, A,B") var queues: String?
        @Option(name: .customLong("extension"), help: "The SIP extension calls ring.") var sipExtension: String?
        @Option(help: "yes or no: may call outside numbers.") var external: String?
        var map: [String: String] {
            var m: [String: String] = [:]
            if let name { m["name"] = name }
            if let roles { m["roles"] = roles }
            if let skills { m["skills"] = skills }
            if let queues { m["queues"] = queues }
            if let sipExtension { m["extension"] = sipExtension }
            if let external { m["external"] = external }
            return m
        }
    }

    struct List: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        func run() throws { try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-list")) }
    }
    struct Add: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var workCode: String
        @OptionGroup var fields: Fields
        @Option(help: "The new operator's password: a file, or - for standard input.") var newPasswordFile: String
        func run() throws {
            try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-add", arguments: fields.map.merging(["work_code": workCode]) { $1 },
                                                                   password: try OperatorAdminCommand.newPassword(newPasswordFile)))
        }
    }
    struct Edit: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var workCode: String
        @OptionGroup var fields: Fields
        func run() throws {
            try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-edit", arguments: fields.map.merging(["work_code": workCode]) { $1 }))
        }
    }
    struct Disable: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var workCode: String
        func run() throws { try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-disable", arguments: ["work_code": workCode])) }
    }
    struct Enable: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var workCode: String
        func run() throws { try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-enable", arguments: ["work_code": workCode])) }
    }
    struct Passwd: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var workCode: String
        @Option(help: "The new password: a file, or - for standard input.") var newPasswordFile: String
        func run() throws {
            try OperatorAdminCommand.send(connection, AdminRequest(action: "operator-passwd", arguments: ["work_code": workCode],
                                                                   password: try OperatorAdminCommand.newPassword(newPasswordFile)))
        }
    }
}

/// `app-operate admin queue show|set`: queue settings (queues.yaml) from App-Operate — checked
/// by the Flow-Server with the file's own rules, audited, applied on every Flow-Server at once.
struct QueueAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Queues: show the settings, set them (admin; applied without restart).",
        subcommands: [Show.self, Set.self])

    struct Show: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Only this queue.") var queue: String?
        func run() throws {
            try OperatorAdminCommand.send(connection, AdminRequest(action: "queue-show", arguments: queue.map { ["queue": $0] } ?? [:]))
        }
    }
    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change settings: QUEUE KEY=VALUE … (VALUE is YAML: 30, longest-idle, '{sales: 3}', '[mon, tue]'; - removes the key). "
                + "ring_timeout_ms, wrap_up_seconds, disconnect_grace_seconds and sticky_window_seconds are global: give - as QUEUE.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The queue (- for global settings only).") var queue: String
        @Argument(help: "KEY=VALUE settings.") var settings: [String]
        @Flag(help: "Add QUEUE as a new queue.") var create = false
        func validate() throws {
            guard !settings.isEmpty else { throw ValidationError("give at least one KEY=VALUE") }
            for s in settings where !s.contains("=") { throw ValidationError("\(s): expected KEY=VALUE") }
        }
        func run() throws {
            var args: [String: String] = [:]
            for s in settings {
                let kv = s.split(separator: "=", maxSplits: 1).map(String.init)
                args[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            if queue != "-" { args["queue"] = queue }
            if create { args["create"] = "yes" }
            try OperatorAdminCommand.send(connection, AdminRequest(action: "queue-set", arguments: args))
        }
    }
}
