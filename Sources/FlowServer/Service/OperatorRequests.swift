import Foundation
import Logging
import Protocol

/// Who is logged in on each App-Operate connection, what each role may do, and the agent
/// commands (docs/protocol.md §16). Every request but the topology query and the login itself
/// needs a logged-in operator with a role that allows it.
final class OperatorRequests {
    /// The roles that may send each request (by message type, and for agent commands by action).
    static let agentActions: Set<String> = ["ready", "not-ready", "logout", "answer", "reject", "hangup", "hold", "retrieve", "transfer", "consult",
                                            "complete", "cancel", "conference", "call", "return", "status", "queue",
                                            "conf-open", "conf-add", "conf-floor", "conf-remove", "conf-hand", "conf-roster"]
    /// `board`, and the supervisor actions as AgentCommand words (`monitor` takes mode=listen|whisper|barge).
    static let supervisorActions: Set<String> = Set(["board", "monitor"]).union(SupervisorCommand.Action.allCases.map(\.word))

    let distributor: CallDistributor
    let supervision: SupervisorRequests
    let logger: Logger
    /// Checks a work code and password off the loop (nil: wrong code or password).
    var authenticate: ((_ code: String, _ password: String, _ done: @escaping (Result<Operator?, Error>) -> Void) -> Void)?
    private var operators: [ObjectIdentifier: Operator] = [:]
    /// Operators logged in on App-Operate links (metrics).
    var sessionCount: Int { operators.count }
    /// An agent logged in or out (agent_presence is written at once).
    var changed: (() -> Void)?
    /// Calls running flows on this server (for the board).
    var callsInFlows: (() -> Int)?
    /// Failed logins per connection: the connection is closed after 5.
    private var failures: [ObjectIdentifier: Int] = [:]

    init(distributor: CallDistributor, logger: Logger) {
        self.distributor = distributor
        self.supervision = SupervisorRequests(distributor: distributor, logger: logger)
        self.logger = logger
    }

    /// SupervisorCommand from App-Operate: the role checked here, then carried out on the
    /// agent's Flow-Server (this one or another).
    func supervise(_ m: SupervisorCommand, _ conn: Connection, _ frame: Frame) {
        guard require(["supervisor", "admin"], conn, frame, what: m.action.word), let op = loggedIn(conn) else { return }
        supervision.request(m, from: op) { [weak conn] r in
            guard let conn else { return }
            switch r {
            case .success(let reply): conn.respond(to: frame, with: reply)
            case .failure(let e): conn.respond(to: frame, error: e)
            }
        }
    }

    func loggedIn(_ conn: Connection) -> Operator? { operators[ObjectIdentifier(conn)] }

    /// Whether the connection's operator has one of `roles`; if not, answers the request with the reason.
    func require(_ roles: Set<String>, _ conn: Connection, _ frame: Frame, what: String) -> Bool {
        guard let op = loggedIn(conn) else {
            conn.respond(to: frame, error: ProtocolError(.forbidden, "permission denied: log in first (\(what))"))
            return false
        }
        guard !op.roles.isDisjoint(with: roles) else {
            logger.notice("operator \(op.workCode) (\(op.roles.sorted().joined(separator: ","))) refused: \(what) needs \(roles.sorted().joined(separator: " or "))")
            conn.respond(to: frame, error: ProtocolError(.forbidden, "permission denied: \(what) needs the \(roles.sorted().joined(separator: " or ")) role"))
            return false
        }
        return true
    }

    func closed(_ conn: Connection) {
        operators.removeValue(forKey: ObjectIdentifier(conn))
        failures.removeValue(forKey: ObjectIdentifier(conn))
        distributor.connectionClosed(conn)
    }

    func login(_ m: OperatorLogin, _ conn: Connection, _ frame: Frame) {
        guard let authenticate else {
            conn.respond(to: frame, error: ProtocolError(.unavailable, "this flow-server has no database configured: nobody can log in"))
            return
        }
        let mode: CallDistributor.Mode
        switch m.mode {
        case "", "phone": mode = .phone
        case "console": mode = .console
        default: conn.respond(to: frame, error: ProtocolError(.badMessage, "mode is phone or console")); return
        }
        let id = ObjectIdentifier(conn)
        authenticate(m.workCode, m.password) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let e):
                conn.respond(to: frame, error: ProtocolError(.unavailable, "cannot check the password now: \(e)"))
            case .success(nil):
                let n = (self.failures[id] ?? 0) + 1
                self.failures[id] = n
                self.logger.notice("login refused for work code \(m.workCode) from \(conn.remoteAddress) (\(n) on this connection)")
                conn.respond(to: frame, error: ProtocolError(.authenticationFailed, "wrong work code or password"))
                if n >= 5 { conn.close(ProtocolError(.badMessage, "too many failed logins")) }
            case .success(let op?):
                var state = ""
                if op.roles.contains("agent") {
                    do {
                        let ext = m.sipExtension.isEmpty ? (op.sipExtension ?? "") : m.sipExtension
                        let a = try self.distributor.login(op, sipExtension: ext, mode: mode, conn: conn, attach: m.attach)
                        state = a.machine.state.name
                    } catch {
                        conn.respond(to: frame, error: ProtocolError(.badMessage, "\(error)"))
                        return
                    }
                }
                self.operators[id] = op
                self.failures[id] = nil
                self.changed?()
                self.logger.info("operator \(op.workCode) logged in (\(op.roles.sorted().joined(separator: ","))) from \(conn.remoteAddress)")
                conn.respond(to: frame, with: OperatorSession(workCode: op.workCode, name: op.name, roles: op.roles.sorted(), state: state))
            }
        }
    }

    func command(_ m: AgentCommand, _ conn: Connection, _ frame: Frame) {
        let d = distributor
        let args = m.arguments
        if Self.supervisorActions.contains(m.action) {
            guard require(["supervisor", "admin"], conn, frame, what: m.action) else { return }
            switch m.action {
            case "board":
                var b = d.board()
                b.fields["in_flows"] = String(callsInFlows?() ?? 0)
                conn.respond(to: frame, with: AgentReply(state: "", text: "\(b.rows.count) agents, \(b.fields["waiting"] ?? "0") waiting", fields: b.fields, rows: b.rows))
            default:
                // The same as SupervisorCommand (`monitor` mode=… is listen, whisper or barge).
                let word = m.action == "monitor" ? (args["mode"] ?? "listen") : m.action
                guard let action = SupervisorCommand.Action(word: word), m.action != "monitor" || action.monitorMode != nil else {
                    conn.respond(to: frame, error: ProtocolError(.badMessage, "monitor needs agent=CODE and mode=listen|whisper|barge"))
                    return
                }
                guard action == .stopMonitor || !(args["agent"] ?? "").isEmpty else {
                    conn.respond(to: frame, error: ProtocolError(.badMessage, "\(m.action) needs agent=CODE"))
                    return
                }
                supervise(SupervisorCommand(action: action, agent: args["agent"] ?? "", sipExtension: args["extension"] ?? "", reason: args["reason"] ?? ""), conn, frame)
            }
            return
        }
        guard Self.agentActions.contains(m.action) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "unknown action \(m.action) (\((Self.agentActions.union(Self.supervisorActions)).sorted().joined(separator: ", ")))"))
            return
        }
        guard require(["agent"], conn, frame, what: m.action), let op = loggedIn(conn) else { return }
        guard let a = d.agents[op.workCode] else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(op.workCode) has no agent session (logged out): log in again"))
            return
        }
        var text = "ok"
        var fields: [String: String] = [:]
        var rows: [[String: String]] = []
        do {
            switch m.action {
            case "ready":
                if let why = d.handle(a, .ready(password: args["password"])) { throw CallDistributor.CommandError(message: why) }
                text = "ready"
            case "not-ready":
                let reason = args["reason"].flatMap { $0.isEmpty ? nil : $0 } ?? "break"
                if let why = d.handle(a, .notReady(reason: reason, lockPassword: args["lock"].flatMap { $0.isEmpty ? nil : $0 })) {
                    throw CallDistributor.CommandError(message: why)
                }
                text = "not ready (\(reason))"
            case "logout":
                try d.logout(a)
                operators.removeValue(forKey: ObjectIdentifier(conn))
                changed?()
                text = "logged out"
            case "answer": try d.answer(a); text = "answering: your phone answers by itself"
            case "reject": try d.reject(a); text = "rejected: the call goes to the next agent"
            case "hangup": try d.hangup(a); text = "hung up"
            case "hold":
                try d.hold(a)
                text = "caller on hold"
            case "retrieve":
                try d.retrieve(a)
                text = "caller back"
            case "transfer":
                guard let to = args["to"] else { throw CallDistributor.CommandError(message: "transfer needs to") }
                try d.transfer(a, to: to)
                text = "transferred to \(to)"
            case "consult":
                guard let to = args["to"] else { throw CallDistributor.CommandError(message: "consult needs to") }
                try d.consult(a, to: to)
                text = "consulting \(to); the caller is held"
            case "complete": try d.complete(a); text = "transfer completed"
            case "cancel": try d.cancelConsult(a); text = "consultation cancelled"
            case "conference": try d.conference(a); text = "three-way call"
            case "call":
                guard let to = args["to"] else { throw CallDistributor.CommandError(message: "call needs to") }
                try d.placeCall(a, to: to)
                text = "calling \(to): your phone answers by itself, then \(to) rings"
            case "return":
                var vars: [String: String] = [:]
                for (k, v) in args where k.hasPrefix("var.") { vars[String(k.dropFirst(4))] = v }
                try d.returnToFlow(a, node: args["node"], variables: vars)
                text = "returned to the flow"
            case "conf-open": text = try d.openConference(a)
            case "conf-add":
                guard let to = args["to"], let kind = AgentConference.Kind(rawValue: args["as"] ?? "talker") else {
                    throw CallDistributor.CommandError(message: "conf-add needs to=agent:CODE|ext:NNNN|NUMBER and as=talker|listener")
                }
                text = try d.conferenceAdd(a, to: to, kind: kind)
            case "conf-floor", "conf-remove":
                guard let party = args["party"].flatMap(Int.init) else { throw CallDistributor.CommandError(message: "\(m.action) needs party=N (see conf-roster)") }
                if m.action == "conf-remove" {
                    text = try d.conferenceRemove(a, party: party)
                } else {
                    guard let how = args["do"], how == "grant" || how == "revoke" else { throw CallDistributor.CommandError(message: "conf-floor needs do=grant|revoke") }
                    text = try d.conferenceFloor(a, party: party, grant: how == "grant")
                }
            case "conf-hand":
                guard let to = args["to"] else { throw CallDistributor.CommandError(message: "conf-hand needs to=CODE (an agent in the conference)") }
                text = try d.conferenceHand(a, to: to.hasPrefix("agent:") ? String(to.dropFirst(6)) : to)
            case "conf-roster":
                rows = try d.conferenceRoster(a)
                text = "\(rows.count) in the conference"
            case "status":
                fields = d.statusFields(a)
                text = "\(a.code): \(a.machine.state.name)"
            case "queue":
                let qs: Set<String> = args["queue"].map { [$0] } ?? a.queues
                rows = d.queueRows(qs)
                text = "\(rows.count) waiting"
            default:
                break
            }
        } catch {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(error)"))
            return
        }
        conn.respond(to: frame, with: AgentReply(state: a.machine.state.name, text: text, fields: fields, rows: rows))
    }
}
