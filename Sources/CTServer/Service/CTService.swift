import Logging
import Protocol

/// The CT-Server process: accepts Flow-Server links and answers their requests.
///
/// The SIP edge and the channel loop (issues #3 and #4) plug in here; today the service
/// keeps the table of attached Flow-Servers and reports the topology.
public final class CTService {
    public let loop: EventLoop
    public let name: String
    public let startedAt: UInt64
    public private(set) var flowListener: Listener!
    public let sip: SIPEndpoint
    public let sipCore: CTSIPCore
    public private(set) var sipAddress: SocketAddress?
    private let logger: Logger

    public init(loop: EventLoop, config: CTServerConfig, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        name = config.name ?? "ct-1"
        startedAt = loop.now
        let link = config.flowLink ?? LinkSettings()
        let address = try SocketAddress(parsing: link.listen ?? CTServerConfig.defaultListen)
        let configuration = try link.linkConfiguration(secretEnvironmentVariable: CTServerConfig.secretEnvironmentVariable)
        flowListener = try Listener(loop: loop, address: address, configuration: configuration,
                                    identity: LinkIdentity(role: .ctServer, name: name), acceptedRoles: [.flowServer],
                                    tls: try link.serverTLS(), maximumConnections: link.maxConnections ?? 256,
                                    logger: logger)
        let sipSettings = config.sip ?? SIPSettings()
        var endpointConfig = SIPEndpoint.Configuration()
        if let v = sipSettings.rateLimitPerSource { endpointConfig.rateLimitPerSource = v }
        if let v = sipSettings.rateLimitBurst { endpointConfig.rateLimitBurst = v }
        if let v = sipSettings.maxTransactions { endpointConfig.maximumServerTransactions = v }
        endpointConfig.trustedSources = Set(sipSettings.trustedSources ?? [])
        sip = SIPEndpoint(loop: loop, configuration: endpointConfig, logger: logger)
        let realm = sipSettings.realm ?? SIPSettings.defaultRealm
        var users: [String: DigestAuthenticator.Credentials] = [:]
        for u in sipSettings.users ?? [] { users[u.user] = try u.credentials(realm: realm) }
        var auth = DigestAuthenticator(realm: realm, users: users)
        if let v = sipSettings.authMaxFailures { auth.maximumFailures = v }
        if let v = sipSettings.authLockoutSeconds { auth.lockoutSeconds = UInt64(v) }
        if let names = sipSettings.digestAlgorithms {
            auth.algorithms = try names.map { n in
                guard let a = Crypto.DigestAlgorithm(rawValue: n.uppercased()) else { throw ConfigError("sip.digest_algorithms: unknown \(n)") }
                return a
            }
            guard !auth.algorithms.isEmpty else { throw ConfigError("sip.digest_algorithms is empty") }
        }
        let sipListen = try SocketAddress(parsing: sipSettings.listen ?? SIPSettings.defaultListen)
        var channelSettings = ChannelManager.Settings()
        if let v = sipSettings.echoNumber { channelSettings.echoNumber = v }
        if let v = sipSettings.echoRingMs { channelSettings.echoRingMs = max(0, v) }
        channelSettings.mediaAddress = sipSettings.mediaAddress ?? (sipListen.host == "0.0.0.0" || sipListen.host == "::" ? "127.0.0.1" : sipListen.host)
        if let v = sipSettings.rtpPortMin { channelSettings.rtpPortMin = v }
        if let v = sipSettings.rtpPortMax { channelSettings.rtpPortMax = v }
        guard channelSettings.rtpPortMin > 1024, channelSettings.rtpPortMax > channelSettings.rtpPortMin, channelSettings.rtpPortMax <= 65535 else {
            throw ConfigError("sip.rtp_port_min/rtp_port_max must be a range within 1025...65535")
        }
        sipCore = CTSIPCore(loop: loop, authenticator: auth, channelSettings: channelSettings, logger: logger)
        if let v = sipSettings.minExpires { sipCore.registrar.minimumExpires = v }
        if let v = sipSettings.maxExpires { sipCore.registrar.maximumExpires = v }
        sipCore.attach(to: sip)
        sipAddress = try sip.listen(udpAndTCP: sipListen).udp
        if let tlsListen = sipSettings.tlsListen {
            guard let tls = sipSettings.tls else { throw ConfigError("sip.tls_listen needs sip.tls (certificate, private_key)") }
            _ = try sip.listen(tls: try SocketAddress(parsing: tlsListen), context: try TLSContext(server: tls))
        }
        flowListener.onAccept = { [weak self] conn in self?.attach(conn) }
        sipCore.flowAttached = { [weak self] in !(self?.flowListener.establishedConnections.isEmpty ?? true) }
    }

    public var listenAddress: SocketAddress { flowListener.boundAddress }

    private func attach(_ conn: Connection) {
        conn.onEstablished = { [weak self] c in
            self?.logger.info("flow-server \(c.peer?.name ?? "?") attached from \(c.remoteAddress)")
        }
        conn.onRequest = { [weak self] c, frame in self?.handleRequest(c, frame) }
        conn.onClose = { [weak self] c, reason in
            guard c.peer != nil else { return }
            self?.logger.notice("flow-server \(c.peer?.name ?? "?") detached: \(reason)")
        }
    }

    private func handleRequest(_ conn: Connection, _ frame: Frame) {
        switch frame.type {
        case TopologyRequest.messageType:
            conn.respond(to: frame, with: topology())
        default:
            conn.respond(to: frame, error: ProtocolError(.unknownMessage, "ct-server does not handle \(frame.type)"))
        }
    }

    /// This CT-Server and every attached Flow-Server.
    public func topology() -> TopologyReport {
        let now = loop.now
        var nodes = [NodeInfo(role: .ctServer, name: name, address: listenAddress.description, software: HotlineVersion.software,
                              protocolVersion: ProtocolVersion.current, uptimeSeconds: (now - startedAt) / 1_000_000_000,
                              attachedTo: "", state: "up")]
        for c in flowListener.establishedConnections {
            guard let p = c.peer else { continue }
            nodes.append(NodeInfo(role: p.role, name: p.name, address: c.remoteAddress, software: p.software,
                                  protocolVersion: p.version, uptimeSeconds: (now - (c.establishedAt ?? now)) / 1_000_000_000,
                                  attachedTo: name, state: "up (\(c.security))"))
        }
        return TopologyReport(nodes: nodes)
    }

    public func shutdown() {
        logger.notice("ct-server \(name) shutting down")
        flowListener.close(reason: "ct-server shutting down")
        sipCore.channels.hangupAll(cause: "ct-server shutting down")
        sipCore.shutdown()
        sip.close()
    }
}
