import Logging
import Protocol

/// Supervisors' actions on agents of any Flow-Server (docs/protocol.md §17). The Flow-Server a
/// supervisor is logged in to checks the role and routes: an agent logged in here is acted on
/// here; an agent of another Flow-Server (agent_presence) gets the command through the
/// CT-Server (PeerRelay), and that Flow-Server carries it out and answers. A supervisor's
/// monitoring leg lives on the agent's Flow-Server, so stop-monitor goes where the monitor went.
final class SupervisorRequests {
    let distributor: CallDistributor
    let logger: Logger
    /// The CT link, for relaying (nil while it is down).
    var ctConnection: (() -> Connection?)?
    /// Agents logged in to other Flow-Servers: code → Flow-Server (from agent_presence).
    var remoteAgents: [String: String] = [:]
    /// Supervisors whose monitoring leg is on another Flow-Server: code → Flow-Server.
    private var monitoringElsewhere: [String: String] = [:]

    init(distributor: CallDistributor, logger: Logger) {
        self.distributor = distributor
        self.logger = logger
    }

    /// A command from this server's App-Operate, the role already checked; the operator fills in
    /// the supervisor and, when not given, the phone.
    func request(_ m: SupervisorCommand, from op: Operator, reply: @escaping (Result<AgentReply, ProtocolError>) -> Void) {
        var m = m
        m.supervisor = op.workCode
        if m.sipExtension.isEmpty { m.sipExtension = op.sipExtension ?? "" }
        let server: String?
        if m.action == .stopMonitor {
            server = distributor.monitorLegs.values.contains { $0.supervisor == op.workCode } ? nil : monitoringElsewhere[op.workCode]
        } else if distributor.agents[m.agent] != nil {
            server = nil
        } else if let remote = remoteAgents[m.agent] {
            server = remote
        } else {
            reply(.failure(ProtocolError(.badMessage, "agent \(m.agent) is not logged in")))
            return
        }
        guard let server else {
            reply(Self.run(m, on: distributor))
            return
        }
        guard let ct = ctConnection?() else {
            reply(.failure(ProtocolError(.unavailable, "agent \(m.agent) is on flow-server \(server), and the ct-server link is down")))
            return
        }
        logger.info("supervisor \(m.supervisor): \(m.action.word) \(m.agent) relayed to \(server)")
        let relay = PeerRelay(peer: server, m)
        ct.requestFrame(Frame(type: PeerRelay.messageType, body: relay.encodedBody()), timeoutMs: 12_000) { [weak self] r in
            switch r {
            case .success(let frame):
                do {
                    let outer = try PeerRelayReply.decode(frame.body)
                    let answer = try AgentReply.decode(outer.body)
                    self?.relayed(m, to: server)
                    reply(.success(answer))
                } catch let e as ProtocolError {
                    reply(.failure(e))
                } catch {
                    reply(.failure(ProtocolError(.badMessage, "\(error)")))
                }
            case .failure(let e):
                reply(.failure(e))
            }
        }
    }

    private func relayed(_ m: SupervisorCommand, to server: String) {
        switch m.action {
        case .listen, .whisper, .barge: monitoringElsewhere[m.supervisor] = server
        case .stopMonitor, .intercept: monitoringElsewhere[m.supervisor] = nil
        default: break
        }
    }

    /// A PeerRelay from another Flow-Server (through the CT-Server): its supervisor's command on
    /// an agent of this one. The sending Flow-Server checked the role; the link is authenticated.
    func peerRequest(_ conn: Connection, _ frame: Frame) {
        let relay: PeerRelay
        let m: SupervisorCommand
        do {
            relay = try PeerRelay.decode(frame.body)
            guard relay.innerType == SupervisorCommand.messageType else {
                conn.respond(to: frame, error: ProtocolError(.unknownMessage, "flow-server does not take \(relay.innerType) from a peer"))
                return
            }
            m = try SupervisorCommand.decode(relay.body)
        } catch let e as ProtocolError {
            conn.respond(to: frame, error: e)
            return
        } catch {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(error)"))
            return
        }
        guard !m.supervisor.isEmpty else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "a relayed supervisor command names its supervisor"))
            return
        }
        logger.info("supervisor \(m.supervisor) on \(relay.peer): \(m.action.word) \(m.agent)")
        switch Self.run(m, on: distributor) {
        case .success(let r): conn.respond(to: frame, with: PeerRelayReply(r))
        case .failure(let e): conn.respond(to: frame, error: e)
        }
    }

    static func run(_ m: SupervisorCommand, on d: CallDistributor) -> Result<AgentReply, ProtocolError> {
        do {
            let text = try d.supervise(m)
            return .success(AgentReply(state: d.agents[m.agent]?.machine.state.name ?? (m.action == .forceLogout ? "logged-out" : ""), text: text))
        } catch {
            return .failure(ProtocolError(.badMessage, "\(error)"))
        }
    }
}
