import AppOperateKit
import ArgumentParser
import Foundation
import Protocol

/// The recording catalogue from the command line: find, download (checked against the
/// catalogue's SHA-256), play on your phone, delete, score, the quality report, the retention
/// run. Roles are the Flow-Server's to check; every play, download and delete is audited there.
struct RecordingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recordings", abstract: "Call recordings: find, download, play, delete, score, report (CSAT and scores), purge.",
        subcommands: [Find.self, Download.self, Play.self, Delete.self, Score.self, QualityReport.self, Purge.self])

    static func send(_ connection: ConnectionOptions, _ r: RecordingRequest) throws -> RecordingReply {
        let client = try connection.open()
        defer { client.close() }
        do {
            return try client.request(r, expecting: RecordingReply.self, timeoutMs: 600_000)
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("\(e.reason)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func show(_ r: RecordingReply, format: String) {
        let report = ChargingReport(summary: r.summary, columns: r.columns, rows: r.rows)
        print(format == "csv" ? ChargeFormatter.csv(report) : ChargeFormatter.table(report))
    }

    struct Find: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recordings that started in a period (default: today), by agent, caller, queue or call.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var range: ChargingRange
        @Option var agent: String = ""
        @Option var caller: String = ""
        @Option var queue: String = ""
        @Option(help: "A call id (uuid).") var call: String = ""
        @Option var limit: UInt32 = 100
        @Flag(help: "Every recording ever (ignores --from/--to).") var all = false
        @Option(help: "Output: table, csv or json.") var format: String = "table"
        func run() throws {
            guard ["table", "csv", "json"].contains(format) else { throw ValidationError("--format is table, csv or json") }
            var from: UInt64 = 0, to: UInt64 = 0
            if !all {
                let (s, e, _) = try range.range()
                from = UInt64(s.timeIntervalSince1970 * 1000)
                to = UInt64(e.timeIntervalSince1970 * 1000)
            }
            let r = try RecordingsCommand.send(connection, RecordingRequest(action: "find", fromMs: from, toMs: to, agent: agent, caller: caller, queue: queue,
                                                                            callID: call, limit: limit))
            if format == "json" {
                for row in r.rows { print(AgentCLI.jsonText(Dictionary(uniqueKeysWithValues: zip(r.columns, row)))) }
            } else {
                RecordingsCommand.show(r, format: format)
            }
        }
    }

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a recording (in chunks) and check it against the catalogue's SHA-256.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The recording's id (recordings find).") var id: UInt64
        @Option(name: .shortAndLong, help: "The file to write.") var output: String
        func run() throws {
            let client = try connection.open()
            defer { client.close() }
            var data = [UInt8](), total: UInt64 = 1, sha = ""
            while UInt64(data.count) < total {
                let r: RecordingReply
                do {
                    r = try client.request(RecordingRequest(action: "download", id: id, offset: UInt64(data.count)), expecting: RecordingReply.self, timeoutMs: 60_000)
                } catch let e as ProtocolError {
                    FileHandle.standardError.write(Data("\(e.reason)\n".utf8))
                    throw ExitCode(1)
                }
                total = r.totalBytes
                sha = r.sha256
                if r.data.isEmpty { break }
                data += r.data
            }
            try Data(data).write(to: URL(fileURLWithPath: output))
            let digest = Crypto.sha256(file: output)?.hex ?? ""
            guard sha.isEmpty || digest == sha else {
                FileHandle.standardError.write(Data("downloaded \(data.count) bytes but SHA-256 \(digest) differs from the catalogue's \(sha)\n".utf8))
                throw ExitCode(2)
            }
            print("recording \(id): \(data.count) bytes to \(output), SHA-256 \(digest) as catalogued")
        }
    }

    struct Play: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ring your phone and play a recording there.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: UInt64
        @Option(help: "The phone to ring (default: your SIP extension).") var sipExtension: String = ""
        func run() throws { print(try RecordingsCommand.send(connection, RecordingRequest(action: "play", id: id, sipExtension: sipExtension)).summary) }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a recording's file and catalogue row (supervisor or admin; audited).")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: UInt64
        func run() throws { print(try RecordingsCommand.send(connection, RecordingRequest(action: "delete", id: id)).summary) }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Score a recording (0–100) with a comment (supervisor or admin).")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: UInt64
        @Argument var score: UInt8
        @Argument var comment: String = ""
        func run() throws { print(try RecordingsCommand.send(connection, RecordingRequest(action: "score", id: id, score: score, comment: comment)).summary) }
    }

    struct QualityReport: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "report", abstract: "CSAT (post-call survey) by agent and queue, and supervisors' average score per agent.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var range: ChargingRange
        @Option(help: "Output: table or csv.") var format: String = "table"
        func run() throws {
            let (s, e, _) = try range.range()
            let r = try RecordingsCommand.send(connection, RecordingRequest(action: "report", fromMs: UInt64(s.timeIntervalSince1970 * 1000),
                                                                            toMs: UInt64(e.timeIntervalSince1970 * 1000)))
            RecordingsCommand.show(r, format: format)
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the retention now (admin): delete recordings older than recordings.retention_days.")
        @OptionGroup var connection: ConnectionOptions
        func run() throws {
            let r = try RecordingsCommand.send(connection, RecordingRequest(action: "purge"))
            print(r.summary)
            for row in r.rows { print("  deleted \(row.first ?? "")") }
        }
    }
}
