import AppOperateKit
import ArgumentParser
import Foundation
import Logging
import Protocol

struct ConnectionOptions: ParsableArguments {
    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Flow-Server address, host:port (default \(FlowServerLinkDefaults.defaultAddress)).") var connect: String?
    @Option(name: .customLong("client-name"), help: "Name this client gives in the handshake.") var name: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String?
    @Option(help: "Connection attempts before giving up.") var attempts: Int = 3
    @Option(help: "Your work code (or HOTLINE_OPERATOR_CODE); every command but status needs a login.") var code: String?
    @Option(help: "Read the password from this file (or HOTLINE_OPERATOR_PASSWORD; else it is asked for, without echo).") var passwordFile: String?

    var workCode: String? { code ?? ProcessInfo.processInfo.environment["HOTLINE_OPERATOR_CODE"] }

    func password() throws -> String {
        if let f = passwordFile {
            guard let t = try? String(contentsOfFile: f, encoding: .utf8) else { throw ValidationError("cannot read \(f)") }
            return t.trimmingCharacters(in: .newlines)
        }
        if let p = ProcessInfo.processInfo.environment["HOTLINE_OPERATOR_PASSWORD"] { return p }
        guard let p = Terminal.readPassword(prompt: "password for \(workCode ?? "?"): "), !p.isEmpty else { throw ValidationError("no password given") }
        return p
    }

    /// Connects, and logs in when a work code is given.
    /// A one-shot command's connection: an agent logged in elsewhere (its console, a watcher)
    /// joins that session rather than being refused.
    func open() throws -> FlowClient { try openSession(login: OperatorLogin(workCode: "", password: "", attach: true)).client }

    /// Connects and logs in when a work code is given (`login` carries the agent's extension,
    /// mode and attach); the session is nil without a work code.
    func openSession(login: OperatorLogin? = nil) throws -> (client: FlowClient, session: OperatorSession?) {
        let client = try dial()
        guard let code = workCode else { return (client, nil) }
        var m = login ?? OperatorLogin(workCode: code, password: "")
        m.workCode = code
        m.password = try password()
        do {
            return (client, try client.request(m, expecting: OperatorSession.self, timeoutMs: 15_000))
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("app-operate: login refused: \(e.reason)\n".utf8))
            client.close()
            throw ExitCode(5)
        }
    }

    var address: String {
        let cfg = (try? loadYAMLConfig(AppOperateConfig.self, path: config)) ?? nil
        return connect ?? cfg?.flowLink?.connect ?? FlowServerLinkDefaults.defaultAddress
    }

    func dial() throws -> FlowClient {
        guard (1...100).contains(attempts) else { throw ValidationError("--attempts is 1 to 100") }
        let cfg = try loadYAMLConfig(AppOperateConfig.self, path: config) ?? AppOperateConfig()
        ServiceRuntime.bootstrapLogging(level: logLevel ?? cfg.logLevel ?? "warning")
        var link = cfg.flowLink ?? LinkSettings()
        link.configDirectory = config.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let address = connect ?? link.connect ?? FlowServerLinkDefaults.defaultAddress
        let clientName = name ?? cfg.name ?? "app-operate@\(ProcessInfo.processInfo.hostName)"
        do {
            return try FlowClient(.init(address: address, link: link, name: clientName, attempts: attempts),
                                  logger: Logger(label: "app-operate"))
        } catch let e as ConfigError {
            // A configuration mistake, not the network: say so (exit 2, like a usage error).
            FileHandle.standardError.write(Data("app-operate: configuration error: \(e)\n".utf8))
            throw ExitCode(2)
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
        let client = try connection.dial()
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
    @Option(help: "Also write an SVG bar chart to this file (one bar per interval; the first key's rows).") var chart: String?
    @Option(help: "The charted figure: service_level (%), offered, answered, abandoned, asa, aht.") var chartOf: String = "service_level"

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
        guard ["service_level", "offered", "answered", "abandoned", "asa", "aht"].contains(chartOf) else {
            throw ValidationError("--chart-of is service_level, offered, answered, abandoned, asa or aht")
        }
        let zone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let start = try from.map { try parse($0, zone: zone) } ?? cal.startOfDay(for: Date())
        let end = try to.map { try parse($0, zone: zone) } ?? Date()
        // Records begin in 1970: an earlier time is refused here, not converted with a trap.
        guard start.timeIntervalSince1970 >= 0, end.timeIntervalSince1970 >= 0 else {
            throw ValidationError("--from and --to are from 1970-01-01 on")
        }
        guard end > start else { throw ValidationError("--to must come after --from") }
        let offset = zone.secondsFromGMT(for: start)
        let client = try connection.open()
        defer { client.close() }
        let report = try client.request(StatisticsRequest(fromMs: UInt64(start.timeIntervalSince1970 * 1000), toMs: UInt64(end.timeIntervalSince1970 * 1000),
                                                          interval: interval, grouping: by, utcOffsetSeconds: Int64(offset)),
                                        expecting: StatisticsReport.self, timeoutMs: 60_000)
        if let chart {
            try ReportFormatter.chart(report, figure: chartOf, utcOffset: offset, interval: interval, grouping: by)
                .write(toFile: chart, atomically: true, encoding: .utf8)
        }
        switch format {
        case "csv": print(ReportFormatter.csv(report, utcOffset: offset))
        case "json": print(ReportFormatter.json(report))
        default: print(ReportFormatter.table(report, utcOffset: offset))
        }
    }
}

struct CustomerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "customer", abstract: "Customer records (客户资料): find, add, edit, history.",
                                                    subcommands: [Find.self, Add.self, Edit.self, History.self])

    static func print(_ list: CustomerList) {
        if list.customers.isEmpty { Swift.print("no customer found"); return }
        for c in list.customers {
            Swift.print("#\(c.id)  \(c.name)\(c.account.isEmpty ? "" : "  account \(c.account)")  phones \(c.phones.joined(separator: ", "))")
            for (k, v) in c.fields.sorted(by: { $0.key < $1.key }) { Swift.print("    \(k): \(v)") }
        }
    }

    static func fields(_ kv: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for f in kv {
            let p = f.split(separator: "=", maxSplits: 1)
            guard p.count == 2, !p[0].isEmpty else { throw ValidationError("--field is KEY=VALUE, got \(f)") }
            out[String(p[0])] = String(p[1])
        }
        return out
    }

    struct Find: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find customers by phone number, account or id.")
        @OptionGroup var connection: ConnectionOptions
        @Option var phone: String?
        @Option var account: String?
        @Option var id: UInt64?
        func run() throws {
            guard phone != nil || account != nil || id != nil else { throw ValidationError("give --phone, --account or --id") }
            let client = try connection.open()
            defer { client.close() }
            CustomerCommand.print(try client.request(CustomerLookup(phone: phone ?? "", account: account ?? "", id: id ?? 0), expecting: CustomerList.self))
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a customer.")
        @OptionGroup var connection: ConnectionOptions
        @Option var name: String
        @Option var account: String?
        @Option(help: "A phone number (repeat for several).") var phone: [String] = []
        @Option(help: "KEY=VALUE (repeat for several).") var field: [String] = []
        func run() throws {
            let client = try connection.open()
            defer { client.close() }
            let c = CustomerMessage(account: account ?? "", name: name, phones: phone, fields: try CustomerCommand.fields(field))
            CustomerCommand.print(try client.request(CustomerSave(customer: c), expecting: CustomerList.self))
        }
    }

    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a customer: name, account, phones, fields.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: UInt64
        @Option var name: String?
        @Option var account: String?
        @Option(help: "Add a phone number.") var addPhone: [String] = []
        @Option(help: "Remove a phone number.") var removePhone: [String] = []
        @Option(help: "KEY=VALUE to set (empty VALUE removes).") var field: [String] = []
        func run() throws {
            let client = try connection.open()
            defer { client.close() }
            guard var c = try client.request(CustomerLookup(id: id), expecting: CustomerList.self).customers.first else {
                throw ValidationError("no customer #\(id)")
            }
            if let name { c.name = name }
            if let account { c.account = account }
            c.phones = c.phones.filter { p in !removePhone.contains { $0.filter(\.isNumber) == p.filter(\.isNumber) } } + addPhone
            for (k, v) in try CustomerCommand.fields(field) { c.fields[k] = v.isEmpty ? nil : v }
            CustomerCommand.print(try client.request(CustomerSave(customer: c), expecting: CustomerList.self))
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A customer's calls, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: UInt64
        @Option var limit: UInt32 = 50
        func run() throws {
            let client = try connection.open()
            defer { client.close() }
            let calls = try client.request(CustomerHistory(id: id, limit: limit), expecting: CustomerCalls.self).calls
            if calls.isEmpty { Swift.print("no calls"); return }
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd HH:mm:ss"
            for c in calls {
                Swift.print("\(f.string(from: Date(timeIntervalSince1970: Double(c.arrivedMs) / 1000)))  \(c.caller) -> \(c.called)  \(c.disposition)"
                    + "\(c.queue.isEmpty ? "" : "  queue \(c.queue)")\(c.agent.isEmpty ? "" : "  agent \(c.agent)")  \(c.durationMs / 1000) s")
            }
        }
    }
}

/// flow|mapping validate/publish/list/show/rollback, answered by the Flow-Server.
struct FlowAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flow", abstract: "Flows: validate, publish (a new version), list, show (text or Graphviz), roll back.",
                                                    subcommands: [Validate.self, Publish.self, List.self, Show.self, Rollback.self])

    static func send(_ connection: ConnectionOptions, _ r: FlowAdminRequest) throws {
        let client = try connection.open()
        defer { client.close() }
        do {
            print(try client.request(r, expecting: FlowAdminResult.self, timeoutMs: 30_000).text)
        } catch let e as ProtocolError {
            FileHandle.standardError.write(Data("\(e.reason)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func read(_ file: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
        return text
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check flow files without publishing them: on the Flow-Server, or --offline (no server needed: for a flow repository's CI).",
            discussion: """
            Offline, the same validation runs here: every problem with its line and column. Flows a file calls (subflow,
            transfer to a flow) must be among the files given; file: prompts are checked under --prompts when given.
            Exit status 1 when any file is refused.
            """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Flow files (one with the server; any number offline).") var files: [String]
        @Flag(help: "Validate here, with no Flow-Server.") var offline = false
        @Option(help: "Offline: the prompt folder file: prompts must exist in.") var prompts: String?
        func run() throws {
            guard !files.isEmpty else { throw ValidationError("give a flow file") }
            if offline || connection.workCode == nil {
                try OfflineFlowValidation.run(files, prompts: prompts)
                return
            }
            guard files.count == 1 else { throw ValidationError("one file at a time with the server (or --offline)") }
            try FlowAdminCommand.send(connection, FlowAdminRequest(action: "validate", source: try FlowAdminCommand.read(files[0])))
        }
    }
    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish a flow file as the flow's next version (new calls start on it).")
        @OptionGroup var connection: ConnectionOptions
        @Argument var file: String
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "publish", source: try FlowAdminCommand.read(file))) }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Published flows and their current versions.")
        @OptionGroup var connection: ConnectionOptions
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "list")) }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A flow as a graph (text), as Graphviz DOT (--dot; an SVG with --svg FILE when dot is installed), or its source.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var name: String
        @Option var version: UInt32 = 0
        @Flag var dot = false
        @Flag var source = false
        @Option(help: "Write an SVG of the graph here (needs graphviz's dot).") var svg: String?
        func run() throws {
            guard let svg else {
                try FlowAdminCommand.send(connection, FlowAdminRequest(action: "show", name: name, version: version, format: dot ? "dot" : source ? "source" : "text"))
                return
            }
            let client = try connection.open()
            defer { client.close() }
            let text = try client.request(FlowAdminRequest(action: "show", name: name, version: version, format: "dot"), expecting: FlowAdminResult.self).text
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dot") else { throw ValidationError("graphviz is not installed (apt-get install graphviz); use --dot") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/dot")
            p.arguments = ["-Tsvg", "-o", svg]
            let pipe = Pipe()
            p.standardInput = pipe
            try p.run()
            pipe.fileHandleForWriting.write(Data(text.utf8))
            pipe.fileHandleForWriting.closeFile()
            p.waitUntilExit()
            print("wrote \(svg)")
        }
    }
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an earlier version of a flow current again.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var name: String
        @Argument var version: UInt32
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "rollback", name: name, version: version)) }
    }
}

struct MappingAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mapping", abstract: "The mapping table (which flow answers a call): validate, publish, show, roll back.",
                                                    subcommands: [Validate.self, Publish.self, Show.self, Rollback.self])
    struct Validate: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var file: String
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "validate", kind: "mapping", source: try FlowAdminCommand.read(file))) }
    }
    struct Publish: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var file: String
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "publish", kind: "mapping", source: try FlowAdminCommand.read(file))) }
    }
    struct Show: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Option var version: UInt32 = 0
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "show", kind: "mapping", version: version)) }
    }
    struct Rollback: ParsableCommand {
        @OptionGroup var connection: ConnectionOptions
        @Argument var version: UInt32
        func run() throws { try FlowAdminCommand.send(connection, FlowAdminRequest(action: "rollback", kind: "mapping", version: version)) }
    }
}

/// The agent console, and every agent operation as a one-shot command for scripts.
struct AgentCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Agent console (interactive), or one agent operation: app-operate agent ACTION [KEY=VALUE…].",
        discussion: """
        Without an action: the interactive console (log in, then single keys; ? shows them).
        Actions: ready [password=…], not-ready reason=… [lock=…], answer, reject, hangup, hold, retrieve,
        transfer to=agent:CODE|queue:NAME|flow:NAME|NUMBER, consult to=…, complete, cancel, conference,
        call to=agent:CODE|NUMBER, return [node=…] [var.NAME=…], status, queue [queue=…], logout;
        record do=start|pause|resume|stop (your call's recording: pause it while a card number is given);
        supervisors: board, monitor agent=… mode=listen|whisper|barge, stop-monitor, intercept agent=…,
        force-release agent=… [reason=…], force-ready agent=…, force-logout agent=…, force-not-ready agent=… reason=…
        (the same as app-operate supervise; the agent may be on any Flow-Server),
        record agent=CODE do=start|stop|pause|resume [max_minutes=N].
        watch: log in and print every event as it comes (with --auto-ready, and --hangup-after N to end
        each call N seconds after it connects: a scripted agent).
        A one-shot action joins the agent's existing session (the console's or a watcher's).
        """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The action (none: the interactive console).") var action: String?
    @Argument(help: "KEY=VALUE arguments.") var arguments: [String] = []
    @Option(help: "The phone to ring (default: the operator's SIP extension).") var sipExtension: String?
    @Option(help: "phone: calls ring your phone; console: answer here, the phone answers by itself.") var mode: String = "phone"
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "watch: go ready after login and after each call.") var autoReady = false
    @Option(help: "watch: hang up each call this many seconds after it connects.") var hangupAfter: Double?
    @Option(help: "watch: answer each offered call after this many seconds (console mode: the phone answers by itself).") var answerAfter: Double?
    @Option(help: "watch: transfer the first call to this target after --transfer-after seconds.") var transferTo: String?
    @Option(help: "watch: seconds after connecting to transfer.") var transferAfter: Double = 3

    static func jsonText(_ value: Any) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }

    func run() throws {
        guard connection.workCode != nil else { throw ValidationError("give --code (or HOTLINE_OPERATOR_CODE)") }
        var args: [String: String] = [:]
        for a in arguments {
            guard let eq = a.firstIndex(of: "=") else { throw ValidationError("arguments are KEY=VALUE, got \(a)") }
            args[String(a[..<eq])] = String(a[a.index(after: eq)...])
        }
        let oneShot = action != nil && action != "watch"
        let (client, opened) = try connection.openSession(login: OperatorLogin(workCode: "", password: "", sipExtension: sipExtension ?? "", mode: mode, attach: oneShot))
        defer { client.close() }
        guard let session = opened else { throw ExitCode(5) }
        switch action {
        case nil:
            guard Terminal().isTTY else { throw ValidationError("the console needs a terminal; use an action for scripts") }
            throw ExitCode(AgentConsole(client: client, session: session, server: connection.address).run())
        case "watch":
            try watch(client, session)
        case let action?:
            do {
                let r = try client.request(AgentCommand(action: action, arguments: args), expecting: AgentReply.self)
                if json {
                    print(Self.jsonText(["state": r.state, "text": r.text, "fields": r.fields, "rows": r.rows] as [String: Any]))
                } else {
                    print(r.text + (r.state.isEmpty ? "" : "  [\(r.state)]"))
                    for (k, v) in r.fields.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
                    for row in r.rows { print("  " + row.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
                }
            } catch let e as ProtocolError {
                if json { print(Self.jsonText(["error": e.reason])) } else { FileHandle.standardError.write(Data("\(action): \(e.reason)\n".utf8)) }
                throw ExitCode(1)
            }
        }
    }

    /// A scripted agent: prints events as JSON lines; optionally goes ready and ends calls.
    func watch(_ client: FlowClient, _ session: OperatorSession) throws {
        print(Self.jsonText(["kind": "login", "state": session.state, "agent": session.workCode, "roles": session.roles] as [String: Any]))
        fflush(stdout)
        let closed = DispatchSemaphore(value: 0)
        let work = DispatchQueue(label: "watch")
        nonisolated(unsafe) var transferred = false
        func send(_ action: String, _ args: [String: String] = [:]) {
            do {
                let r = try client.request(AgentCommand(action: action, arguments: args), expecting: AgentReply.self)
                print(Self.jsonText(["kind": "reply", "action": action, "state": r.state, "text": r.text] as [String: Any]))
            } catch let e as ProtocolError {
                print(Self.jsonText(["kind": "refused", "action": action, "error": e.reason]))
            } catch {}
            fflush(stdout)
        }
        client.onEvent { frame in
            guard frame.type == AgentEventMessage.messageType, let e = try? AgentEventMessage.decode(frame.body) else { return }
            print(Self.jsonText(["kind": e.kind, "state": e.state, "fields": e.fields] as [String: Any]))
            fflush(stdout)
            work.async {
                if e.kind == "offered", let after = answerAfter {
                    Thread.sleep(forTimeInterval: after)
                    send("answer")
                }
                if e.kind == "connected" {
                    if let to = transferTo, !transferred {
                        transferred = true
                        Thread.sleep(forTimeInterval: transferAfter)
                        send("transfer", ["to": to])
                    } else if let after = hangupAfter {
                        Thread.sleep(forTimeInterval: after)
                        send("hangup")
                    }
                }
                if autoReady, e.kind == "state", e.state == "not-ready", e.fields["reason"] == "login" { send("ready") }
            }
        }
        client.onClose { _ in closed.signal() }
        if autoReady { work.async { send("ready") } }
        closed.wait()
    }
}

struct AppOperateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app-operate",
        abstract: "Hotline App-Operate: the operators' client (agent, supervisor, admin, reports).",
        discussion: "Talks only to a Flow-Server. The link secret may come from \(FlowServerLinkDefaults.secretEnvironmentVariable).",
        subcommands: [Status.self, AgentCLI.self, Report.self, CustomerCommand.self, FlowAdminCommand.self, MappingAdminCommand.self,
                      AdminCommand.self, RateCommand.self, BillCommand.self, ChargesCommand.self, RecordingsCommand.self,
                      SuperviseCommand.self, BoardCommand.self, CampaignCommand.self, ScheduleCommand.self, ServeCommand.self])
}

AppOperateCommand.main()
