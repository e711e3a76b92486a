import Foundation
import Logging
import Protocol

/// The Flow-Server process: keeps its link to the CT-Server up and serves App-Operate clients.
///
/// Flows, ACD, agents and storage (issues #5–#7) plug in here.
public final class FlowService: RunnableService {
    public let loop: EventLoop
    public let name: String
    public let startedAt: UInt64
    public let ctLink: Dialer
    public private(set) var appListener: Listener!
    private let logger: Logger
    /// Call records on their way to PostgreSQL (nil when no database is configured).
    public let records: RecordWriter?
    private var recorder: CallRecorder!

    public init(loop: EventLoop, config: FlowServerConfig, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        name = config.name ?? "flow-1"
        startedAt = loop.now
        let env = ProcessInfo.processInfo.environment
        if let url = env[FlowServerConfig.databaseURLEnvironmentVariable] ?? config.database?.url {
            let spool = URL(fileURLWithPath: config.database?.spoolDirectory ?? "run/spool/\(config.name ?? "flow-1")")
            records = try RecordWriter(databaseURL: url, spoolDirectory: spool, migrator: try Migrator.bundled(), logger: logger)
        } else {
            records = nil
            logger.warning("no database configured (database.url or \(FlowServerConfig.databaseURLEnvironmentVariable)): call records are not kept")
        }
        let writer = records
        recorder = CallRecorder(flowServer: config.name ?? "flow-1") { writer?.submit($0) }
        let identity = LinkIdentity(role: .flowServer, name: name)

        let ct = config.ctLink ?? LinkSettings()
        let (host, port) = try SocketAddress.split(ct.connect ?? FlowServerConfig.defaultConnect)
        ctLink = Dialer(loop: loop, host: host, port: port,
                        configuration: try ct.linkConfiguration(secretEnvironmentVariable: FlowServerConfig.ctSecretEnvironmentVariable),
                        identity: identity, expectedPeerRoles: [.ctServer], tls: try ct.clientTLS(), backoff: ct.backoff,
                        logger: logger)
        ctLink.onEstablished = { [weak self] c in self?.logger.notice("attached to ct-server \(c.peer?.name ?? "?") at \(c.remoteAddress)") }
        ctLink.onConnection = { [weak self] c in
            c.onEvent = { conn, frame in self?.handleCTEvent(conn, frame) }
        }
        ctLink.onDisconnected = { [weak self] reason in self?.logger.warning("lost ct-server link: \(reason)") }

        let app = config.appLink ?? LinkSettings()
        appListener = try Listener(loop: loop, address: try SocketAddress(parsing: app.listen ?? FlowServerConfig.defaultListen),
                                   configuration: try app.linkConfiguration(secretEnvironmentVariable: FlowServerConfig.appSecretEnvironmentVariable),
                                   identity: identity, acceptedRoles: [.appOperate], tls: try app.serverTLS(),
                                   maximumConnections: app.maxConnections ?? 4096, logger: logger)
        appListener.onAccept = { [weak self] conn in
            conn.onRequest = { c, frame in self?.handleAppRequest(c, frame) }
        }
    }

    public var appListenAddress: SocketAddress { appListener.boundAddress }

    public var readyLine: String { "flow-server \(name) listening app_link=\(appListenAddress) ct_link=\(ctLink.target)" }

    /// Calls offered by the CT-Server. Until flows and mapping tables exist (issue #5) no DNIS is
    /// mapped, so every offered call is rejected with 480 and the reason — the behaviour of a
    /// Flow-Server whose mapping table has no entry for the number.
    public private(set) var callsOffered = 0

    private func handleCTEvent(_ conn: Connection, _ frame: Frame) {
        guard frame.type == ChannelEvent.messageType else { return }
        guard let e = try? ChannelEvent.decode(frame.body) else {
            logger.warning("undecodable ChannelEvent from ct-server")
            return
        }
        logger.info("channel \(e.channelID): \(e.kind) \(e.direction == .inbound ? "inbound" : "outbound") to \(e.called)\(e.cause.isEmpty ? "" : " (\(e.cause))")")
        recorder.event(e)
        guard e.kind == .offered else { return }
        callsOffered += 1
        recorder.dispose(e.channelID, disposition: "rejected", cause: "no flow mapped for \(e.called)", sipCode: 480)
        conn.request(RejectChannel(channelID: e.channelID, sipCode: 480, reason: "no flow mapped for \(e.called)"),
                     expecting: ChannelCommandResult.self) { [weak self] r in
            if case .failure(let err) = r { self?.logger.warning("reject \(e.channelID) failed: \(err)") }
        }
    }

    public func start() {
        records?.start()
        ctLink.start()
    }

    private func handleAppRequest(_ conn: Connection, _ frame: Frame) {
        switch frame.type {
        case TopologyRequest.messageType:
            topology { report in conn.respond(to: frame, with: report) }
        default:
            conn.respond(to: frame, error: ProtocolError(.unknownMessage, "flow-server does not handle \(frame.type)"))
        }
    }

    /// The CT-Server's view (itself and its Flow-Servers) plus this server's own clients.
    /// When the CT link is down, reports the CT-Server as down with the last error.
    public func topology(_ completion: @escaping (TopologyReport) -> Void) {
        guard let ct = ctLink.established else {
            var nodes = [NodeInfo(role: .ctServer, name: "?", address: ctLink.target, software: "", protocolVersion: 0,
                                  uptimeSeconds: 0, attachedTo: "",
                                  state: "unreachable: \(ctLink.state)\(ctLink.lastError.map { " (\($0))" } ?? "")"),
                         selfNode(attachedTo: "")]
            nodes += clientNodes()
            completion(TopologyReport(nodes: nodes))
            return
        }
        ct.request(TopologyRequest(), expecting: TopologyReport.self) { [weak self] result in
            guard let self else { return }
            var nodes: [NodeInfo]
            switch result {
            case .success(let report):
                // Our own entry from the CT's view shows link uptime; replace it with ours.
                nodes = report.nodes.map { $0.role == .flowServer && $0.name == self.name ? self.selfNode(attachedTo: $0.attachedTo, state: $0.state) : $0 }
            case .failure(let e):
                nodes = [NodeInfo(role: .ctServer, name: ct.peer?.name ?? "?", address: ct.remoteAddress, software: ct.peer?.software ?? "",
                                  protocolVersion: ct.peer?.version ?? 0, uptimeSeconds: 0, attachedTo: "", state: "no answer: \(e)"),
                         self.selfNode(attachedTo: ct.peer?.name ?? "")]
            }
            nodes += self.clientNodes()
            completion(TopologyReport(nodes: nodes))
        }
    }

    private func selfNode(attachedTo: String, state: String = "up") -> NodeInfo {
        NodeInfo(role: .flowServer, name: name, address: appListenAddress.description, software: HotlineVersion.software,
                 protocolVersion: ProtocolVersion.current, uptimeSeconds: (loop.now - startedAt) / 1_000_000_000,
                 attachedTo: attachedTo, state: state)
    }

    private func clientNodes() -> [NodeInfo] {
        let now = loop.now
        return appListener.establishedConnections.compactMap { c in
            guard let p = c.peer else { return nil }
            return NodeInfo(role: p.role, name: p.name, address: c.remoteAddress, software: p.software, protocolVersion: p.version,
                            uptimeSeconds: (now - (c.establishedAt ?? now)) / 1_000_000_000, attachedTo: name,
                            state: "up (\(c.security))")
        }
    }

    public func shutdown() {
        logger.notice("flow-server \(name) shutting down")
        appListener.close(reason: "flow-server shutting down")
        ctLink.stop(reason: "flow-server shutting down")
        records?.stop()
    }
}
