import Foundation
import Logging
import Protocol

/// The Flow-Server process: keeps its link to the CT-Server up and serves App-Operate clients.
/// Channel events go to the ACD (CallDistributor), the flows (FlowCalls) and the records
/// (CallRecorder, RecordWriter to PostgreSQL through a spool); App-Operate requests are
/// role-checked (OperatorRequests) and answered here, database work off the loop
/// (docs/architecture.md).
public final class FlowService: RunnableService {
    public let loop: EventLoop
    public let name: String
    public let startedAt: UInt64
    public let ctLink: Dialer
    public private(set) var appListener: Listener!
    let logger: Logger
    /// Call records on their way to PostgreSQL (nil when no database is configured).
    public let records: RecordWriter?
    private var recorder: CallRecorder!
    /// Calls running flows (nil when no flows folder is configured).
    var flowCalls: FlowCalls?
    /// Phones calling extensions directly (the mapping table's `extensions:`).
    private let extensions: ExtensionCalls
    /// The ACD: queues, agents and offers.
    let distributor: CallDistributor
    /// Calls' recordings: policy, operators' control, the catalogue.
    let recordings: CallRecordings
    /// The live wallboard of every Flow-Server (FlowService+Board.swift).
    let board: BoardPublisher
    /// Outbound campaigns running here (CampaignRequests.swift).
    let campaigns: CampaignRunner
    /// Scheduled calls being placed here: channel → (id, attempt) (ScheduledCalls.swift).
    var scheduledChannels: [String: (String, Int)] = [:]
    /// Where the recording files are seen from here (shared with the CT-Server), and how long they are kept.
    let recordingDirectory: String
    let retentionDays: Int?
    /// Calls ringing an operator's phone to play a recording there: channel → file.
    var playbacks: [String: String] = [:]
    /// Logged-in operators, role checks and agent commands.
    let operators: OperatorRequests
    /// queues.yaml beside the flows (ACD settings), and when it was last read.
    let queuesFile: URL?
    private var queuesFileDate: Date?
    /// /metrics, /healthz, /readyz (FlowService+Metrics.swift); nil when not configured.
    var metricsEndpoint: MetricsEndpoint?

    public init(loop: EventLoop, config: FlowServerConfig, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        name = config.name ?? "flow-1"
        startedAt = loop.now
        ServiceMetrics.bootstrap(service: "flow-server", instance: name, catalogue: MetricsCatalogue.flowServer)
        let env = ProcessInfo.processInfo.environment
        // A URL, or else libpq's own environment (PGHOST, PGDATABASE …) when it is set.
        databaseURL = env[FlowServerConfig.databaseURLEnvironmentVariable] ?? config.database?.url
            ?? (env["PGHOST"] != nil || env["PGDATABASE"] != nil || env["PGSERVICE"] != nil ? "" : nil)
        if let url = databaseURL {
            let spool = URL(fileURLWithPath: config.database?.spoolDirectory ?? "run/spool/\(config.name ?? "flow-1")")
            records = try RecordWriter(databaseURL: url, spoolDirectory: spool, migrator: try Migrator.bundled(), logger: logger)
        } else {
            records = nil
            logger.warning("no database configured (database.url or \(FlowServerConfig.databaseURLEnvironmentVariable)): call records are not kept")
        }
        let writer = records
        let tap = RecordTap()
        recorder = CallRecorder(flowServer: config.name ?? "flow-1") { writer?.submit($0); tap.tap?($0) }
        distributor = CallDistributor(loop: loop, recorder: recorder, submit: { writer?.submit($0) }, logger: logger)
        board = BoardPublisher(server: name, distributor: distributor, logger: logger)
        campaigns = CampaignRunner(distributor: distributor, server: name, logger: logger)
        recordings = CallRecordings(recorder: recorder, submit: { writer?.submit($0) }, logger: logger)
        recordings.queuePolicy = { [distributor] q in distributor.settings.queues[q]?.recording ?? RecordingPolicy() }
        distributor.recordings = recordings
        recordingDirectory = config.recordings?.directory ?? "run/recordings"
        retentionDays = config.recordings?.retentionDays
        extensions = ExtensionCalls(recorder: recorder, logger: logger)
        extensions.keepPaired = { [distributor] a, b, conn in distributor.pairAdopted(a, b, conn: CTLink(conn)) }
        operators = OperatorRequests(distributor: distributor, logger: logger)
        queuesFile = config.flowsDirectory.map { URL(fileURLWithPath: $0).appendingPathComponent("queues.yaml") }
        if let dir = config.flowsDirectory {
            let library = FlowLibrary(directory: URL(fileURLWithPath: dir), databaseURL: databaseURL, promptDirectory: config.promptDirectory, logger: logger)
            library.reload()
            flowCalls = FlowCalls(library: library, recorder: recorder, loop: loop, logger: logger)
            flowCalls?.distributor = distributor
            flowCalls?.recordings = recordings
        }
        let identity = LinkIdentity(role: .flowServer, name: name)

        let ct = config.ctLink ?? LinkSettings()
        let (host, port) = try SocketAddress.split(ct.connect ?? FlowServerConfig.defaultConnect)
        ctLink = Dialer(loop: loop, host: host, port: port,
                        configuration: try ct.linkConfiguration(secretEnvironmentVariable: FlowServerConfig.ctSecretEnvironmentVariable),
                        identity: identity, expectedPeerRoles: [.ctServer], tls: try ct.clientTLS(), backoff: ct.backoff,
                        logger: logger)
        distributor.ctLink = { [weak self] in
            guard let c = self?.ctLink.connection, c.isEstablished else { return nil }
            return CTLink(c)
        }
        operators.supervision.ctConnection = { [weak self] in self?.ctLink.connection.flatMap { $0.isEstablished ? $0 : nil } }
        tap.tap = { [weak self] in self?.boardRecord($0) }
        ctLink.onEstablished = { [weak self] c in self?.logger.notice("attached to ct-server \(c.peer?.name ?? "?") at \(c.remoteAddress)") }
        ctLink.onConnection = { [weak self] c in
            c.onEvent = { conn, frame in self?.handleCTEvent(conn, frame) }
            c.onRequest = { conn, frame in
                guard frame.type == PeerRelay.messageType else {
                    conn.respond(to: frame, error: ProtocolError(.unknownMessage, "flow-server does not handle \(frame.type) from the ct-server"))
                    return
                }
                self?.operators.supervision.peerRequest(conn, frame)
            }
        }
        ctLink.onDisconnected = { [weak self] reason in self?.ctLinkLost(reason) }

        let app = config.appLink ?? LinkSettings()
        appListener = try Listener(loop: loop, address: try SocketAddress(parsing: app.listen ?? FlowServerConfig.defaultListen),
                                   configuration: try app.linkConfiguration(secretEnvironmentVariable: FlowServerConfig.appSecretEnvironmentVariable),
                                   identity: identity, acceptedRoles: [.appOperate], tls: try app.serverTLS(),
                                   maximumConnections: app.maxConnections ?? 4096,
                                   maximumUnauthenticatedPerSource: app.maxUnauthenticatedPerSource ?? 16, logger: logger)
        appListener.onAccept = { [weak self] conn in
            conn.onRequest = { c, frame in self?.handleAppRequest(c, frame) }
            conn.onClose = { c, _ in
                self?.operators.closed(c)
                self?.board.unwatch(c)
            }
        }
        reloadQueues()
        try startMetrics(config.metrics)
    }

    public var appListenAddress: SocketAddress { appListener.boundAddress }

    public var readyLine: String {
        "flow-server \(name) listening app_link=\(appListenAddress) ct_link=\(ctLink.target)"
            + (metricsEndpoint.map { " metrics=\($0.scheme)://\($0.boundAddress)/metrics" } ?? "")
    }

    /// Calls offered by the CT-Server. Until flows and mapping tables exist (issue #5) no DNIS is
    /// mapped, so every offered call is rejected with 480 and the reason — the behaviour of a
    /// Flow-Server whose mapping table has no entry for the number.
    public private(set) var callsOffered = 0

    private func handleCTEvent(_ conn: Connection, _ frame: Frame) {
        if frame.type == PeerBroadcast.messageType { peerBroadcast(frame); return }
        if frame.type == MediaEventMessage.messageType {
            guard let m = try? MediaEventMessage.decode(frame.body) else { return }
            if playbackDone(m, conn) { return }
            if campaigns.mediaEvent(m, conn: conn) { return }
            if m.kind == .talkingStarted || m.kind == .talkingStopped {
                distributor.conferenceTalking(m.channelID, on: m.kind == .talkingStarted)
                return
            }
            if m.kind == .recordDone, m.tag == CallRecordings.tag {
                recordings.recordDone(m) { [distributor] ch in
                    let call = distributor.entry(forChannel: ch)?.call
                    return (call?.agent, call?.queue)
                }
            } else {
                flowCalls?.mediaEvent(m)
            }
            return
        }
        guard frame.type == ChannelEvent.messageType else { return }
        guard let e = try? ChannelEvent.decode(frame.body) else {
            logger.warning("undecodable ChannelEvent from ct-server")
            return
        }
        logger.info("channel \(e.channelID): \(e.kind) \(e.direction == .inbound ? "inbound" : "outbound") to \(e.called)\(e.cause.isEmpty ? "" : " (\(e.cause))")")
        if playbackEvent(e, conn) { return }
        if e.kind == .established, campaigns.owns(e.channelID) {
            // A callee answered: its record first, then it goes into the campaign's queue.
            recorder.event(e)
            campaigns.channelEvent(e, conn: conn)
            return
        }
        campaigns.channelEvent(e, conn: conn)
        if !scheduledChannels.isEmpty { scheduledChannelEvent(e) }
        distributor.channelEvent(e)
        if e.kind == .cleared || e.kind == .failed { flowCalls?.channelEvent(e) }
        recorder.event(e)
        if e.kind == .cleared || e.kind == .failed { recordings.callEnded(e.channelID) }
        if extensions.owns(e.channelID) {
            extensions.channelEvent(e)
            return
        }
        if e.kind == .adopted {
            if let flowCalls { flowCalls.adopted(e, conn: conn) }
            else if !e.bridgedWith.isEmpty { distributor.pairAdopted(e.channelID, e.bridgedWith, conn: CTLink(conn)) }
            return
        }
        if e.kind != .offered && e.kind != .cleared && e.kind != .failed { flowCalls?.channelEvent(e) }
        guard e.kind == .offered else { return }
        callsOffered += 1
        if let mapping = flowCalls?.library.mapping, mapping.isExtensionCall(caller: e.caller, called: e.called, line: e.line.isEmpty ? "sip" : e.line) {
            extensions.offered(e, conn: conn)
            return
        }
        if let flowCalls, flowCalls.offered(e, conn: conn) { return }
        recorder.dispose(e.channelID, disposition: "rejected", cause: "no flow mapped for \(e.called)", sipCode: 480)
        conn.request(RejectChannel(channelID: e.channelID, sipCode: 480, reason: "no flow mapped for \(e.called)"),
                     expecting: ChannelCommandResult.self) { [weak self] r in
            if case .failure(let err) = r { self?.logger.warning("reject \(e.channelID) failed: \(err)") }
        }
    }

    /// The CT-Server link is gone (the CT-Server died, restarted, or the network failed): this
    /// server owns none of its calls any more — the CT-Server hands them to another Flow-Server
    /// if it lives on, and has lost them if it died. Every call still open here gets its record
    /// now (disposition `lost`), the ACD frees its agents, and the flows stop; a Flow-Server that
    /// adopts a call writes its full record over this one (one row per call either way).
    private func ctLinkLost(_ reason: ProtocolError) {
        let acd = distributor.linkLost()
        recordings.linkLost()
        let flows = (flowCalls?.linkLost() ?? 0) + extensions.linkLost()
        let records = recorder.closeAll(cause: "ct-server link lost: \(reason.reason)", at: Date().timeIntervalSince1970)
        logger.warning("lost ct-server link: \(reason); \(records) open calls recorded as lost (\(flows) in flows, \(acd) in the ACD)")
    }

    /// Database work for App-Operate requests runs here, off the Flow-Server's loop.
    let queries = DispatchQueue(label: "flow-server.queries")
    private var queryConnection: PostgresConnection?
    let databaseURL: String?

    /// validate, publish, list, show and rollback of flows and the mapping table.
    private func flowAdmin(_ m: FlowAdminRequest, _ conn: Connection, _ frame: Frame) {
        let library = flowCalls?.library ?? FlowLibrary(directory: nil, promptDirectory: nil, logger: logger)
        if m.kind == "tariff" { tariffAdmin(m, conn, frame); return }
        let mapping = m.kind == "mapping"
        guard m.kind == "flow" || mapping else { conn.respond(to: frame, error: ProtocolError(.badMessage, "kind is flow or mapping")); return }
        func invalid(_ e: FlowErrors) -> ProtocolError { ProtocolError(.badMessage, "refused:\n" + e.description) }
        switch m.action {
        case "validate", "publish":
            var flowName = FlowStore.mappingName
            if mapping {
                do {
                    let t = try MappingTable.parse(m.source)
                    let unknown = (t.entries.map(\.flow) + [t.defaultFlow].compactMap { $0 }).filter { library.flow(named: $0) == nil }
                    guard unknown.isEmpty else { conn.respond(to: frame, error: ProtocolError(.badMessage, "refused: unknown flows \(unknown.joined(separator: ", "))")); return }
                } catch {
                    conn.respond(to: frame, error: ProtocolError(.badMessage, "refused: \(error)"))
                    return
                }
            } else {
                switch library.validate(m.source) {
                case .failure(let e): conn.respond(to: frame, error: invalid(e)); return
                case .success(let def):
                    flowName = def.name
                    if m.action == "validate" {
                        conn.respond(to: frame, with: FlowAdminResult(text: "ok: flow \(def.name), \(def.nodes.count) nodes, start \(def.start)"))
                        return
                    }
                }
            }
            if m.action == "validate" { conn.respond(to: frame, with: FlowAdminResult(text: "ok: mapping table")); return }
            let who = conn.peer?.name ?? "app-operate"
            database(conn, frame) { db in
                let v = try FlowStore.publish(db, name: flowName, source: m.source, by: who, mapping: mapping)
                DispatchQueue.global().async { library.reload() }
                return FlowAdminResult(text: "published \(mapping ? "mapping table" : "flow \(flowName)") v\(v)", version: UInt32(clamping: v))
            }
        case "rollback":
            guard m.version > 0 else { conn.respond(to: frame, error: ProtocolError(.badMessage, "rollback needs a version")); return }
            let name = mapping ? FlowStore.mappingName : m.name
            database(conn, frame) { db in
                try FlowStore.rollback(db, name: name, version: Int(m.version), mapping: mapping)
                DispatchQueue.global().async { library.reload() }
                return FlowAdminResult(text: "\(mapping ? "mapping table" : "flow \(name)") is now v\(m.version)", version: m.version)
            }
        case "list":
            database(conn, frame) { db in
                let rows = try FlowStore.list(db, mapping: mapping)
                let text = rows.isEmpty ? "nothing published" : rows.map { "\($0.0)  v\($0.1) current of \($0.2)" }.joined(separator: "\n")
                return FlowAdminResult(text: text)
            }
        case "show":
            let name = mapping ? FlowStore.mappingName : m.name
            database(conn, frame) { db in
                guard let p = try FlowStore.version(db, name: name, version: m.version == 0 ? nil : Int(m.version), mapping: mapping) else {
                    throw PostgresError(message: "no \(mapping ? "mapping table" : "flow \(name)")\(m.version == 0 ? "" : " v\(m.version)")", sqlState: "P0002")
                }
                if mapping { return FlowAdminResult(text: "mapping table v\(p.version)\n\(p.source)", version: UInt32(clamping: p.version)) }
                let def = try FlowParser().parse(p.source).get()
                let text = m.format == "dot" ? FlowGraph.dot(def, version: p.version) : m.format == "source" ? p.source : FlowGraph.text(def, version: p.version)
                return FlowAdminResult(text: text, version: UInt32(clamping: p.version))
            }
        default:
            conn.respond(to: frame, error: ProtocolError(.badMessage, "action is validate, publish, list, show or rollback"))
        }
    }

    func decodeRequest<M: WireMessage>(_ type: M.Type, _ conn: Connection, _ frame: Frame) -> M? {
        do { return try M.decode(frame.body) } catch {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "\(error)"))
            return nil
        }
    }

    /// Runs `work` on the shared query connection (call on `queries`); a lost connection is
    /// dropped so that the next request reconnects.
    func withQueryConnection<R>(_ url: String, _ work: (PostgresConnection) throws -> R) -> Result<R, Error> {
        let result = Result { () throws -> R in
            if queryConnection?.isConnected != true { queryConnection = try PostgresConnection(url: url) }
            return try work(queryConnection!)
        }
        if case .failure(let e as PostgresError) = result, e.isConnectionError { queryConnection = nil }
        return result
    }

    /// Runs `work` against the database off the loop and answers with its result or the error.
    func database<R: WireMessage>(_ conn: Connection, _ frame: Frame, _ work: @escaping (PostgresConnection) throws -> R) {
        guard let url = databaseURL else {
            conn.respond(to: frame, error: ProtocolError(.unavailable, "this flow-server has no database configured"))
            return
        }
        let loop = self.loop
        queries.async { [weak self] in
            guard let self else { return }
            let result = self.withQueryConnection(url, work)
            loop.execute {
                switch result {
                case .success(let r): conn.respond(to: frame, with: r)
                case .failure(let e as PostgresError) where e.sqlState == "23505":
                    conn.respond(to: frame, error: ProtocolError(.badMessage, "already exists: \(e.message)"))
                case .failure(let e as PostgresError) where e.sqlState == "P0002":
                    conn.respond(to: frame, error: ProtocolError(.badMessage, e.message))
                case .failure(let e): conn.respond(to: frame, error: ProtocolError(.unavailable, "database: \(e)"))
                }
            }
        }
    }

    private func statistics(_ conn: Connection, _ frame: Frame) {
        guard let req = decodeRequest(StatisticsRequest.self, conn, frame) else { return }
        guard let interval = Statistics.Interval(rawValue: req.interval), let grouping = Statistics.Grouping(rawValue: req.grouping) else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "interval is 15m, hour or day; grouping is total, queue, agent or flow"))
            return
        }
        guard req.toMs > req.fromMs, req.toMs - req.fromMs <= 400 * 86_400_000 else {
            conn.respond(to: frame, error: ProtocolError(.badMessage, "the range must be positive and at most 400 days"))
            return
        }
        database(conn, frame) { db in
            let (calls, periods) = try Statistics.load(db, from: Double(req.fromMs) / 1000, to: Double(req.toMs) / 1000)
            let rows = Statistics.compute(calls: calls, periods: periods, grouping: grouping, interval: interval, utcOffset: Double(req.utcOffsetSeconds))
            return StatisticsReport(rows: rows.map {
                StatisticsRowMessage(startMs: UInt64(max(0, $0.start * 1000)), key: $0.key, offered: UInt32(clamping: $0.offered), answered: UInt32(clamping: $0.answered),
                                     abandoned: UInt32(clamping: $0.abandoned), shortAbandoned: UInt32(clamping: $0.shortAbandoned), abandonRate: $0.abandonRate,
                                     asaSeconds: $0.asaSeconds, serviceLevel: $0.serviceLevel, ahtSeconds: $0.ahtSeconds, talkSeconds: $0.talkSeconds,
                                     longestWaitSeconds: $0.longestWaitSeconds, occupancy: $0.occupancy ?? -1)
            })
        }
    }

    /// Hot reload: the flows folder is read again every 2 s; a changed file that validates becomes
    /// the next version for new calls (calls in progress keep theirs); one that does not is refused.
    private func scheduleFlowReload(_ library: FlowLibrary) {
        _ = loop.schedule(afterMilliseconds: 2000) { [weak self] in
            guard self != nil else { return }
            DispatchQueue.global(qos: .utility).async {
                library.reload()
                self?.loop.execute {
                    self?.reloadQueues()
                    self?.scheduleFlowReload(library)
                }
            }
        }
    }

    /// Reads queues.yaml when it changed; a broken file is refused and the settings stay as they were.
    func reloadQueues(force: Bool = false) {
        guard let f = queuesFile, let date = (try? FileManager.default.attributesOfItem(atPath: f.path))?[.modificationDate] as? Date,
              force || date != queuesFileDate else { return }
        queuesFileDate = date
        do {
            let s = try QueueSettings.parse(try String(contentsOf: f, encoding: .utf8))
            distributor.apply(settings: s)
            board.setConfiguredQueues(Set(s.queues.keys))
            logger.notice("queues: \(s.queues.keys.sorted().joined(separator: ", ")) (ring timeout \(s.ringTimeoutMs) ms, wrap-up \(Int(s.wrapUpSeconds)) s)")
            // The queues table carries what reports need (service level, strategy, maximum wait).
            if let url = databaseURL {
                let queues = Array(s.queues.values)
                queries.async { [weak self] in
                    guard let self else { return }
                    let r = self.withQueryConnection(url) { db in
                        for q in queues {
                            try db.execute("""
                                INSERT INTO queues (name, strategy, service_level_seconds, max_wait_seconds) VALUES ($1, $2, $3::integer, $4::integer)
                                ON CONFLICT (name) DO UPDATE SET strategy = EXCLUDED.strategy, service_level_seconds = EXCLUDED.service_level_seconds,
                                    max_wait_seconds = EXCLUDED.max_wait_seconds
                                """, [q.name, q.strategy.rawValue, String(q.serviceLevelSeconds), q.maxWaitSeconds.map(String.init)])
                        }
                    }
                    if case .failure(let e) = r { self.logger.warning("queues not written to the database: \(e)") }
                }
            }
        } catch {
            logger.error("queues.yaml refused, settings unchanged: \(error)")
        }
    }

    /// Checks an operator's work code and password against the users table, off the loop.
    private func authenticate(code: String, password: String, done: @escaping (Result<Operator?, Error>) -> Void) {
        guard let url = databaseURL else { done(.success(nil)); return }
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db in try UserStore.authenticate(workCode: code, password: password, db) }
            self.loop.execute { done(r) }
        }
    }

    /// The flow `lookup` node: the customer by phone number or account, as flat fields.
    private func customerLookup(phone: String?, account: String?, done: @escaping ([String: String]?) -> Void) {
        guard let url = databaseURL else { done(nil); return }
        queries.async { [weak self] in
            guard let self else { return }
            let found = self.withQueryConnection(url) { db -> Customer? in
                try account.map { try CustomerStore.find(account: $0, db) } ?? (try phone.map { try CustomerStore.find(phone: $0, db).first } ?? nil)
            }
            switch found {
            case .success(let c?):
                self.customerLookupsFailing(false, nil)
                var fields = c.fields
                fields["id"] = c.id.map { String($0) } ?? ""
                fields["name"] = c.name
                fields["account"] = c.account ?? ""
                done(fields)
            case .success(nil):
                self.customerLookupsFailing(false, nil)
                done(nil)
            case .failure(let error):
                self.customerLookupsFailing(true, error)
                done(nil)
            }
        }
    }

    /// Customer look-ups log a change of state — failing, working again — not one line per call
    /// (an outage used to write one warning per caller).
    private func customerLookupsFailing(_ failing: Bool, _ error: Error?) {
        lookupLock.lock()
        let changed = lookupFailing != failing
        lookupFailing = failing
        if failing { lookupFailures += 1 }
        let n = lookupFailures
        if !failing { lookupFailures = 0 }
        lookupLock.unlock()
        guard changed else { return }
        if failing { logger.warning("customer look-ups failing: \(error.map { "\($0)" } ?? "?") (calls go on without the customer's record)") }
        else { logger.notice("customer look-ups working again after \(n) failed") }
    }
    private let lookupLock = NSLock()
    private var lookupFailing = false
    private var lookupFailures = 0

    public func start() {
        flowCalls?.lookup = { [weak self] phone, account, done in self?.customerLookup(phone: phone, account: account, done: done) }
        if databaseURL != nil {
            operators.authenticate = { [weak self] code, password, done in self?.authenticate(code: code, password: password, done: done) }
            operators.changed = { [weak self] in self?.syncPresence() }
            operators.callsInFlows = { [weak self] in self?.flowCalls?.calls.count ?? 0 }
            syncPresence()
            schedulePresence()
        }
        if let library = flowCalls?.library { scheduleFlowReload(library) }
        records?.start()
        scheduleRetention()
        startBoard()
        startCampaigns()
        startScheduledCalls()
        ctLink.start()
    }

    private func handleAppRequest(_ conn: Connection, _ frame: Frame) {
        switch frame.type {
        case TopologyRequest.messageType:
            topology { report in conn.respond(to: frame, with: report) }
        case OperatorLogin.messageType:
            guard let m = decodeRequest(OperatorLogin.self, conn, frame) else { return }
            operators.login(m, conn, frame)
        case AgentCommand.messageType:
            guard let m = decodeRequest(AgentCommand.self, conn, frame) else { return }
            if m.action == "record" { recordCommand(m, conn, frame); return }
            if m.action.hasPrefix("campaign-") { campaignAgentCommand(m, conn, frame); return }
            if m.action == "calls-today" { callsToday(m, conn, frame); return }
            operators.command(m, conn, frame)
        case AdminRequest.messageType:
            guard let m = decodeRequest(AdminRequest.self, conn, frame) else { return }
            adminRequest(m, conn, frame)
        case CampaignRequest.messageType:
            guard let m = decodeRequest(CampaignRequest.self, conn, frame) else { return }
            if m.action.hasPrefix("schedule-") {
                guard operators.require(["agent", "supervisor", "admin"], conn, frame, what: m.action) else { return }
                scheduleRequest(m, conn, frame)
                return
            }
            guard operators.require(["supervisor", "admin"], conn, frame, what: "campaign \(m.action)") else { return }
            campaignRequest(m, conn, frame)
        case BoardRequest.messageType:
            guard let m = decodeRequest(BoardRequest.self, conn, frame) else { return }
            boardRequest(m, conn, frame)
        case SupervisorCommand.messageType:
            guard let m = decodeRequest(SupervisorCommand.self, conn, frame) else { return }
            operators.supervise(m, conn, frame)
        case StatisticsRequest.messageType:
            guard operators.require(["supervisor", "admin"], conn, frame, what: "reports") else { return }
            statistics(conn, frame)
        case RecordingRequest.messageType:
            guard let m = decodeRequest(RecordingRequest.self, conn, frame) else { return }
            recordingRequest(m, conn, frame)
        case ChargingRequest.messageType:
            guard let m = decodeRequest(ChargingRequest.self, conn, frame) else { return }
            // Re-rating changes charges: admin only; bills and reports: supervisors too.
            guard operators.require(m.action == "rate" ? ["admin"] : ["supervisor", "admin"], conn, frame, what: "charging \(m.action)") else { return }
            charging(m, conn, frame)
        case FlowAdminRequest.messageType:
            guard let m = decodeRequest(FlowAdminRequest.self, conn, frame) else { return }
            let changes = m.action == "publish" || m.action == "rollback"
            guard operators.require(changes ? ["admin"] : ["supervisor", "admin"], conn, frame, what: "\(m.kind) \(m.action)") else { return }
            flowAdmin(m, conn, frame)
        case CustomerLookup.messageType, CustomerSave.messageType, CustomerHistory.messageType:
            customerRequest(conn, frame)
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
        metricsEndpoint?.stop()
        appListener.close(reason: "flow-server shutting down")
        ctLink.stop(reason: "flow-server shutting down")
        records?.stop()
    }
}
