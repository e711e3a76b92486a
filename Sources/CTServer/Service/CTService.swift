import Foundation
import Logging
import Metrics
import Protocol

/// The CT-Server process: the SIP edge (CTSIPCore: transports, transactions, registrar,
/// dialogs, channels) and the channel loop (MediaEngine, its own real-time thread), and the
/// Flow-Server links — channel events out, channel and media commands in, ownership of
/// channels (offers to a Flow-Server, adoption by another when one is lost, hand-over), and
/// the topology (docs/architecture.md).
public final class CTService: RunnableService {
    public let loop: EventLoop
    public let name: String
    public let startedAt: UInt64
    public private(set) var metricsEndpoint: MetricsEndpoint?
    public private(set) var flowListener: Listener!
    public let sip: SIPEndpoint
    public let sipCore: CTSIPCore
    /// The real-time channel loop (its own thread).
    public let media: MediaEngine
    public private(set) var trunks: Trunks!
    public private(set) var sipAddress: SocketAddress?
    private let logger: Logger

    public init(loop: EventLoop, config: CTServerConfig, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        name = config.name ?? "ct-1"
        // Before the channel loop is made: it keeps its histogram handles.
        ServiceMetrics.bootstrap(service: "ct-server", instance: name, catalogue: MetricsCatalogue.ctServer)
        startedAt = loop.now
        let link = config.flowLink ?? LinkSettings()
        let address = try SocketAddress(parsing: link.listen ?? CTServerConfig.defaultListen)
        let configuration = try link.linkConfiguration(secretEnvironmentVariable: CTServerConfig.secretEnvironmentVariable)
        flowListener = try Listener(loop: loop, address: address, configuration: configuration,
                                    identity: LinkIdentity(role: .ctServer, name: name), acceptedRoles: [.flowServer],
                                    tls: try link.serverTLS(), maximumConnections: link.maxConnections ?? 256,
                                    maximumUnauthenticatedPerSource: link.maxUnauthenticatedPerSource ?? 8,
                                    logger: logger)
        let sipSettings = config.sip ?? SIPSettings()
        var endpointConfig = SIPEndpoint.Configuration()
        if let v = sipSettings.rateLimitPerSource { endpointConfig.rateLimitPerSource = v }
        if let v = sipSettings.rateLimitBurst { endpointConfig.rateLimitBurst = v }
        if let v = sipSettings.maxTransactions { endpointConfig.maximumServerTransactions = v }
        endpointConfig.trustedSources = Set(sipSettings.trustedSources ?? [])
        if let v = sipSettings.overloadLagMs { endpointConfig.overloadLagMs = Double(max(0, v)) }
        if let v = sipSettings.maxTCPConnections { endpointConfig.maximumStreamConnections = v }
        if let v = sipSettings.maxTCPConnectionsPerSource { endpointConfig.maximumStreamConnectionsPerSource = v }
        if let v = sipSettings.tcpIdleSeconds { endpointConfig.streamIdleTimeoutMs = v * 1000 }
        if let v = sipSettings.tcpPreauthIdleSeconds { endpointConfig.streamPreAuthIdleTimeoutMs = v * 1000 }
        // Trunks are trusted like trusted_sources: not rate-limited, answered without an
        // amplification budget, their SDP believed.
        let trunkList = try (sipSettings.trunks ?? []).map { try $0.trunk() }
        endpointConfig.trustedSources.formUnion(trunkList.map(\.address.host))
        sip = SIPEndpoint(loop: loop, configuration: endpointConfig, logger: logger)
        let realm = sipSettings.realm ?? SIPSettings.defaultRealm
        var users: [String: DigestAuthenticator.Credentials] = [:]
        for u in sipSettings.users ?? [] { users[u.user] = try u.credentials(realm: realm) }
        var auth = DigestAuthenticator(realm: realm, users: users)
        if let v = sipSettings.authMaxFailures { auth.maximumFailures = v }
        if let v = sipSettings.authMaxFailuresPerUser { auth.maximumUserFailures = v }
        if let v = sipSettings.authMaxFailuresPerSource { auth.maximumSourceFailures = v }
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
        // RTP binds the configured media address, else the SIP listen host (a wildcard binds every
        // interface; SDP then carries, for each peer, the address it is reached through).
        channelSettings.mediaAddress = sipSettings.mediaAddress ?? sipListen.host
        channelSettings.advertiseMediaAddress = sipSettings.mediaAddress != nil
        if let v = sipSettings.rtpPortMin { channelSettings.rtpPortMin = v }
        if let v = sipSettings.rtpPortMax { channelSettings.rtpPortMax = v }
        guard channelSettings.rtpPortMin > 1024, channelSettings.rtpPortMax > channelSettings.rtpPortMin, channelSettings.rtpPortMax <= 65535 else {
            throw ConfigError("sip.rtp_port_min/rtp_port_max must be a range within 1025...65535")
        }
        let mediaSettings = config.media ?? MediaSettings()
        // Defaults live under run/ (deploy/up's folder, ignored by git), never in the source tree.
        let promptDirectory = mediaSettings.promptDirectory ?? "run/prompts"
        channelSettings.recordingDirectory = mediaSettings.recordingDirectory ?? "run/recordings"
        channelSettings.playbackPrompt = mediaSettings.playbackPrompt
        if let d = mediaSettings.diagnostics {
            channelSettings.diagnostics = try d.mapValues { v in
                guard let k = ChannelManager.Diagnostic(rawValue: v) else { throw ConfigError("media.diagnostics: \(v) is not echo, playback or readback") }
                return k
            }
        }
        media = try MediaEngine(logger: logger, batchedIO: mediaSettings.batchedIO ?? .uring, loops: mediaSettings.loops,
                                   realtimePriority: mediaSettings.realtimePriority ?? MediaSettings.defaultRealtimePriority)
        logger.info("channel loops: \(media.loopCount), RTP I/O \(media.ioMode == .uring ? "batched over io_uring" : "one system call per packet")")
        let prompts = PromptStore(promptDirectory: promptDirectory,
                                  cacheDirectory: mediaSettings.ttsCacheDirectory ?? "run/tts-cache")
        sipCore = CTSIPCore(loop: loop, authenticator: auth, channelSettings: channelSettings, media: media, prompts: prompts, logger: logger)
        media.start()
        if let v = sipSettings.minExpires { sipCore.registrar.minimumExpires = v }
        if let v = sipSettings.maxExpires { sipCore.registrar.maximumExpires = v }
        if let v = sipSettings.natKeepaliveSeconds { sipCore.natKeepaliveSeconds = v }
        sipCore.attach(to: sip)
        sipCore.registrationsFile = sipSettings.registrationsFile
        sipCore.restoreRegistrations()
        guard Set(trunkList.map(\.name)).count == trunkList.count else { throw ConfigError("sip.trunks: names must be unique") }
        trunks = Trunks(loop: loop, trunks: trunkList, logger: logger)
        trunks.endpoint = sip
        sip.advertised = AdvertisedAddresses(externalAddress: sipSettings.externalAddress,
                                             localNetworks: sipSettings.localNetworks.map { $0.compactMap(AdvertisedAddresses.Network.init) }
                                                ?? AdvertisedAddresses.Network.privateDefaults)
        sipCore.channels.trunks = trunks
        sipAddress = try sip.listen(udpAndTCP: sipListen).udp
        if let tlsListen = sipSettings.tlsListen {
            guard let tls = sipSettings.tls else { throw ConfigError("sip.tls_listen needs sip.tls (certificate, private_key)") }
            _ = try sip.listen(tls: try SocketAddress(parsing: tlsListen), context: try TLSContext(server: tls))
        }
        flowListener.onAccept = { [weak self] conn in self?.attach(conn) }
        wireChannels()
        sipCore.flowAttached = { [weak self] in !(self?.flowListener.establishedConnections.isEmpty ?? true) }
        scheduleMediaReport()
        trunks.start()
        metricsEndpoint = try ServiceMetrics.serve(config.metrics, defaultListen: nil, logger: logger,
                                                   sample: { [weak self] in self?.sampleMetrics() },
                                                   readiness: { [weak self] in self?.notReadyReason() })
    }

    private lazy var rtpIn = CounterFromTotal("hotline_ct_rtp_packets_received_total")
    private lazy var rtpOut = CounterFromTotal("hotline_ct_rtp_packets_sent_total")
    private lazy var rtpLost = CounterFromTotal("hotline_ct_rtp_packets_lost_total")
    private lazy var rtpLate = CounterFromTotal("hotline_ct_rtp_packets_late_total")
    private lazy var ticksMissed = CounterFromTotal("hotline_ct_ticks_missed_total")
    private let links = LinkStateGauges()

    /// Called by the metrics thread: copies live figures into gauges, on the loop.
    private func sampleMetrics() {
        try? loop.submitAndWait { [self] in
            let t = media.tickStats
            Gauge(label: "hotline_ct_channels").record(sipCore.channels.activeChannelList.count)
            Gauge(label: "hotline_ct_rtp_jitter_seconds").record(Double(t.meanJitterUs) / 1e6)
            Gauge(label: "hotline_ct_registrations").record(sipCore.registrar.bindings.values.reduce(0) { $0 + $1.count })
            rtpIn.update(t.packetsIn)
            rtpOut.update(t.packetsOut)
            rtpLost.update(t.lost)
            rtpLate.update(t.late)
            ticksMissed.update(t.missedTicks)
            links.set(up: flowListener.establishedConnections.map { (role: "flow-server", name: $0.peer?.name ?? "?") })
        }
    }

    /// /readyz: the SIP edge is up by construction; calls need a Flow-Server attached.
    private func notReadyReason() -> String? {
        let attached = (try? loop.submitAndWait { [self] in flowListener.establishedConnections.count }) ?? 0
        return attached > 0 ? nil : "no Flow-Server attached"
    }

    private var lastReportedChannels = 0

    /// Every 5 s while channels are up: the channel loop's figures (bench/media-calls.sh reads them).
    private func scheduleMediaReport() {
        _ = loop.schedule(afterMilliseconds: 5000) { [weak self] in
            guard let self else { return }
            let t = self.media.tickStats
            if t.channels > 0 || self.lastReportedChannels > 0 {
                // The sum over the loops (lateness and work: the worst loop), then each loop.
                self.logger.notice("channel loop: channels=\(t.channels) ticks=\(t.ticks) missed=\(t.missedTicks) late_p50_us=\(t.latenessP50Us) late_p99_us=\(t.latenessP99Us) late_max_us=\(t.latenessMaxUs) work_p99_us=\(t.workP99Us) rtp_in=\(t.packetsIn) rtp_out=\(t.packetsOut) lost=\(t.lost) late=\(t.late) foreign=\(t.foreignDropped) malformed=\(t.malformed) rtp_syscalls=\(t.rtpSystemCalls) loops=\(self.media.loopCount) migrations=\(self.media.channelMigrations) sched=\(t.scheduling) sched_demotions=\(t.priorityDemotions)")
                if self.media.loopCount > 1 {
                    for l in self.media.loopStats {
                        self.logger.notice("channel loop \(l.loop): channels=\(l.channels) missed=\(l.missedTicks) late_p50_us=\(l.latenessP50Us) late_p99_us=\(l.latenessP99Us) late_max_us=\(l.latenessMaxUs) work_p99_us=\(l.workP99Us) rtp_in=\(l.packetsIn) rtp_out=\(l.packetsOut) rtp_syscalls=\(l.rtpSystemCalls) sched=\(l.scheduling)")
                    }
                }
            }
            self.lastReportedChannels = t.channels
            self.scheduleMediaReport()
        }
    }

    public var listenAddress: SocketAddress { flowListener.boundAddress }

    public var readyLine: String {
        "ct-server \(name) listening flow_link=\(listenAddress) sip=\(sipAddress.map { "\($0)" } ?? "-")"
            + (metricsEndpoint.map { " metrics=\($0.scheme)://\($0.boundAddress)/metrics" } ?? "")
    }

    private func attach(_ conn: Connection) {
        conn.onEstablished = { [weak self] c in
            self?.logger.info("flow-server \(c.peer?.name ?? "?") attached from \(c.remoteAddress)")
        }
        conn.onRequest = { [weak self] c, frame in self?.handleRequest(c, frame) }
        conn.onEvent = { [weak self] c, frame in
            guard frame.type == PeerBroadcast.messageType else { return }
            self?.broadcast(c, frame)
        }
        conn.onClose = { [weak self] c, reason in
            guard c.peer != nil else { return }
            self?.logger.notice("flow-server \(c.peer?.name ?? "?") detached: \(reason)")
            self?.ownerLost(c)
        }
    }

    private var nextFlow = 0

    /// A Flow-Server's link is gone: another attached Flow-Server adopts its calls (bridged ones
    /// go on talking and get their records there; calls in IVR restart their flow there; calls
    /// not yet answered are offered again). With no other Flow-Server, they keep talking
    /// unowned (docs/architecture.md).
    private func ownerLost(_ lost: Connection) {
        let survivors = flowListener.establishedConnections.filter { $0.id != lost.id }
        let channels = sipCore.channels
        let orphans = channels.activeChannelList.filter { $0.owner == lost.id }.sorted { $0.createdAt < $1.createdAt }
        guard !survivors.isEmpty, !orphans.isEmpty else {
            channels.ownerLost(lost.id)
            return
        }
        var assigned: [String: Connection] = [:]
        for ch in orphans {
            // A bridged pair goes to one Flow-Server.
            let partner = channels.bridgePartner(of: ch)
            let conn = partner.flatMap { assigned[$0.id] } ?? survivors[nextFlow % survivors.count]
            if partner.flatMap({ assigned[$0.id] }) == nil { nextFlow &+= 1 }
            assigned[ch.id] = conn
            ch.owner = conn.id
            if ch.state == .offered, ch.purpose == .flow {
                conn.sendEvent(event(ch, .offered, 0, ""))
            } else {
                conn.sendEvent(adoptedEvent(ch, partner: partner, cause: "flow-server \(lost.peer?.name ?? "?") lost", from: lost, data: ch.ownerData))
            }
        }
        logger.notice("flow-server \(lost.peer?.name ?? "?") lost: \(orphans.count) channels adopted by \(Set(assigned.values.compactMap { $0.peer?.name }).sorted().joined(separator: ", "))")
    }

    /// The Adopted event for a channel's new owner: what it is bridged to, when it began, and the
    /// data the previous owner kept or passed on (plus who that was and the channel's state).
    private func adoptedEvent(_ ch: SIPChannel, partner: SIPChannel?, cause: String, from: Connection, data: [String: String]) -> ChannelEvent {
        var e = event(ch, .adopted, 0, cause)
        e.bridgedWith = partner?.id ?? ""
        e.createdMs = wallMs(ch.createdAt)
        e.data = data.merging(["from": from.peer?.name ?? "?", "state": ch.state.rawValue]) { _, n in n }
        return e
    }

    /// Wall-clock milliseconds of a loop (monotonic) time.
    private func wallMs(_ t: UInt64) -> UInt64 {
        let ago = Double(loop.now &- t) / 1e9
        return UInt64(max(0, (Date().timeIntervalSince1970 - ago) * 1000))
    }

    /// HandOverChannel: the named Flow-Server becomes the owner of the channel and its partner.
    private func handOver(_ m: HandOverChannel, _ conn: Connection, _ frame: Frame) {
        let channels = sipCore.channels
        guard let ch = channels.channel(id: m.channelID) else { conn.respond(to: frame, error: ProtocolError(.badMessage, "no channel \(m.channelID)")); return }
        guard let target = flowListener.establishedConnections.first(where: { $0.peer?.name == m.flowServer }), target.id != conn.id else {
            conn.respond(to: frame, error: ProtocolError(.unavailable, "flow-server \(m.flowServer) is not attached"))
            return
        }
        let partner = channels.bridgePartner(of: ch)
        for c in [ch] + (partner.map { [$0] } ?? []) { c.owner = target.id; c.ownerData = [:] }
        guard target.sendEvent(adoptedEvent(ch, partner: partner, cause: "handed over by \(conn.peer?.name ?? "?")", from: conn, data: m.data)) else {
            for c in [ch] + (partner.map { [$0] } ?? []) { c.owner = conn.id }
            conn.respond(to: frame, error: ProtocolError(.unavailable, "flow-server \(m.flowServer) is not reading"))
            return
        }
        logger.info("channel \(ch.id): handed over from \(conn.peer?.name ?? "?") to \(m.flowServer)")
        conn.respond(to: frame, with: ChannelCommandResult(channelID: ch.id))
    }

    /// PeerRelay: a request for another Flow-Server, delivered with the sender's authenticated
    /// name in place of the target's, and its answer (or error) returned to the sender.
    private func relay(_ m: PeerRelay, _ conn: Connection, _ frame: Frame) {
        guard let from = conn.peer?.name else { return }
        guard let target = flowListener.establishedConnections.first(where: { $0.peer?.name == m.peer }), target.id != conn.id else {
            conn.respond(to: frame, error: ProtocolError(.unavailable, "flow-server \(m.peer) is not attached"))
            return
        }
        let forwarded = PeerRelay(peer: from, innerType: m.innerType, body: m.body)
        target.requestFrame(Frame(type: PeerRelay.messageType, body: forwarded.encodedBody()), timeoutMs: 10_000) { [weak conn] r in
            guard let conn else { return }
            switch r {
            case .success(let answer):
                conn.send(Frame(type: frame.type, version: frame.version, flags: [.response], correlationID: frame.correlationID, body: answer.body))
            case .failure(let e):
                conn.respond(to: frame, error: e)
            }
        }
    }

    /// PeerBroadcast: the event goes on to every other attached Flow-Server, with the sender's
    /// authenticated name. A malformed one closes only the sender's link.
    private func broadcast(_ conn: Connection, _ frame: Frame) {
        guard let from = conn.peer?.name else { return }
        let m: PeerBroadcast
        do { m = try PeerBroadcast.decode(frame.body) } catch {
            conn.close(ProtocolError(.badMessage, "undecodable PeerBroadcast: \(error)"))
            return
        }
        let out = Frame(type: PeerBroadcast.messageType, body: PeerBroadcast(peer: from, innerType: m.innerType, body: m.body).encodedBody())
        for c in flowListener.establishedConnections where c.id != conn.id { c.send(out) }
    }

    /// Connects the channel layer to the Flow-Server links: offers, events, commands.
    private func wireChannels() {
        let channels = sipCore.channels
        channels.offerToFlow = { [weak self] ch in
            guard let self else { return false }
            let flows = self.flowListener.establishedConnections
            guard !flows.isEmpty else { return false }
            // Round-robin across attached Flow-Servers.
            let conn = flows[self.nextFlow % flows.count]
            self.nextFlow &+= 1
            ch.owner = conn.id
            return conn.sendEvent(self.event(ch, .offered, 0, ""))
        }
        channels.report = { [weak self] ch, kind, code, cause in
            guard let self, let conn = self.ownerConnection(ch) else { return }
            conn.sendEvent(self.event(ch, kind, code, cause))
        }
        channels.reportDigits = { [weak self] ch, digits, source in
            guard let self, let conn = self.ownerConnection(ch) else { return }
            var e = self.event(ch, .digits, 0, source)
            e.digits = digits
            conn.sendEvent(e)
        }
        channels.reportMedia = { [weak self] ch, message in
            self?.ownerConnection(ch)?.sendEvent(message)
        }
        channels.lookupUser = { [weak self] user in
            guard let self else { return [] }
            return self.sipCore.registrar.contacts(of: user, now: self.loop.now)
        }
    }

    /// The established link of the Flow-Server that owns a channel.
    private func ownerConnection(_ ch: SIPChannel) -> Connection? {
        guard let owner = ch.owner, let conn = flowListener.connections[owner], conn.isEstablished else { return nil }
        return conn
    }

    private func event(_ ch: SIPChannel, _ kind: ChannelEvent.Kind, _ code: Int, _ cause: String) -> ChannelEvent {
        var e = plainEvent(ch, kind, code, cause)
        if kind == .transferred, let (to, destination) = ch.transferredTo {
            // The phone transferred its call: the other party now talks to `to`.
            e.bridgedWith = to
            e.data = ["target": destination]
            if let by = ch.replacedBy { e.data["replaced"] = "yes"; e.data["referrer"] = by }
        }
        return e
    }

    private func plainEvent(_ ch: SIPChannel, _ kind: ChannelEvent.Kind, _ code: Int, _ cause: String) -> ChannelEvent {
        ChannelEvent(channelID: ch.id, kind: kind, direction: ch.purpose == .outbound ? .outbound : .inbound, caller: ch.caller,
                     called: ch.called, sipCode: UInt16(clamping: code), cause: cause, timestampMs: UInt64(Date().timeIntervalSince1970 * 1000),
                     line: ch.line, causeCode: ch.clearCause)
            .created(wallMs(ch.createdAt))
            .cleared(by: kind == .cleared || kind == .failed ? ch.machine.clearedBy : .unknown)
    }

    private func commandResult(_ conn: Connection, _ frame: Frame, _ id: String, _ r: Result<Void, ChannelManager.CommandError>) {
        switch r {
        case .success: conn.respond(to: frame, with: ChannelCommandResult(channelID: id))
        case .failure(.noSuchChannel): conn.respond(to: frame, error: ProtocolError(.badMessage, "no channel \(id)"))
        case .failure(.wrongState(let s)): conn.respond(to: frame, error: ProtocolError(.badMessage, "channel \(id) is \(s)"))
        case .failure(.failed(let why)): conn.respond(to: frame, error: ProtocolError(.unavailable, why))
        }
    }

    /// A channel command: decode it, run it, answer with its channel id or the error.
    private func command<M: WireMessage & ChannelAddressed>(_ type: M.Type, _ conn: Connection, _ frame: Frame,
                                                           _ run: (M) -> Result<Void, ChannelManager.CommandError>) {
        guard let m = decode(type, frame, conn) else { return }
        commandResult(conn, frame, m.channelID, run(m))
    }

    private func handleRequest(_ conn: Connection, _ frame: Frame) {
        switch frame.type {
        case TopologyRequest.messageType:
            conn.respond(to: frame, with: topology())
        case AnswerChannel.messageType:
            command(AnswerChannel.self, conn, frame) { sipCore.channels.answer($0.channelID) }
        case RingChannel.messageType:
            command(RingChannel.self, conn, frame) { sipCore.channels.ring($0.channelID) }
        case RejectChannel.messageType:
            command(RejectChannel.self, conn, frame) { sipCore.channels.reject($0.channelID, code: Int($0.sipCode), reason: $0.reason) }
        case HangupChannel.messageType:
            command(HangupChannel.self, conn, frame) { sipCore.channels.hangup($0.channelID, cause: $0.cause.isEmpty ? "hung up" : $0.cause) }
        case RedirectChannel.messageType:
            command(RedirectChannel.self, conn, frame) { sipCore.channels.redirect($0.channelID, target: $0.target, code: Int($0.sipCode)) }
        case TransferChannel.messageType:
            command(TransferChannel.self, conn, frame) { sipCore.channels.transfer($0.channelID, target: $0.target) }
        case ChannelData.messageType:
            guard let m = decode(ChannelData.self, frame, conn) else { return }
            guard let ch = sipCore.channels.channel(id: m.channelID) else { conn.respond(to: frame, error: ProtocolError(.badMessage, "no channel \(m.channelID)")); return }
            guard m.data.count <= 256, m.data.reduce(0, { $0 + $1.key.utf8.count + $1.value.utf8.count }) <= 65_536 else {
                conn.respond(to: frame, error: ProtocolError(.badMessage, "channel data is limited to 256 entries and 64 KiB"))
                return
            }
            ch.ownerData = m.data
            conn.respond(to: frame, with: ChannelCommandResult(channelID: ch.id))
        case HandOverChannel.messageType:
            guard let m = decode(HandOverChannel.self, frame, conn) else { return }
            handOver(m, conn, frame)
        case PeerRelay.messageType:
            guard let m = decode(PeerRelay.self, frame, conn) else { return }
            relay(m, conn, frame)
        case Originate.messageType:
            guard let m = decode(Originate.self, frame, conn) else { return }
            switch sipCore.channels.originate(destination: m.destination, callerID: m.callerID, timeoutMs: Int(m.timeoutMs), owner: conn.id, trunk: m.trunk, autoAnswer: m.autoAnswer) {
            case .success(let ch): conn.respond(to: frame, with: ChannelCommandResult(channelID: ch.id))
            case .failure(let e): commandResult(conn, frame, "", .failure(e))
            }
        case PlayMedia.messageType:
            command(PlayMedia.self, conn, frame) { sipCore.channels.play($0) }
        case StopMedia.messageType:
            command(StopMedia.self, conn, frame) { sipCore.channels.stopMedia($0) }
        case CollectDigits.messageType:
            command(CollectDigits.self, conn, frame) { sipCore.channels.collect($0) }
        case RecordChannel.messageType:
            command(RecordChannel.self, conn, frame) { sipCore.channels.record($0).map { _ in () } }
        case RecordingControl.messageType:
            command(RecordingControl.self, conn, frame) { sipCore.channels.recordingControl($0) }
        case BridgeChannels.messageType:
            command(BridgeChannels.self, conn, frame) { sipCore.channels.bridge($0.channelID, $0.otherChannelID) }
        case UnbridgeChannel.messageType:
            command(UnbridgeChannel.self, conn, frame) { sipCore.channels.unbridge($0.channelID) }
        case ConferenceLeave.messageType:
            command(ConferenceLeave.self, conn, frame) { sipCore.channels.unbridge($0.channelID) }
        case ConferenceJoin.messageType:
            command(ConferenceJoin.self, conn, frame) { sipCore.channels.conferenceJoin($0) }
        case MonitorChannel.messageType:
            command(MonitorChannel.self, conn, frame) { sipCore.channels.monitor($0) }
        case SendDTMF.messageType:
            command(SendDTMF.self, conn, frame) { sipCore.channels.sendDTMF($0.channelID, digits: $0.digits) }
        default:
            conn.respond(to: frame, error: ProtocolError(.unknownMessage, "ct-server does not handle \(frame.type)"))
        }
    }

    private func decode<M: WireMessage>(_ type: M.Type, _ frame: Frame, _ conn: Connection) -> M? {
        do { return try M.decode(frame.body) } catch let e as ProtocolError {
            conn.respond(to: frame, error: e)
        } catch {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(error)"))
        }
        return nil
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
        metricsEndpoint?.stop()
        flowListener.close(reason: "ct-server shutting down")
        sipCore.channels.hangupAll(cause: "ct-server shutting down")
        sipCore.shutdown()
        sip.close()
        media.stop()
    }
}
