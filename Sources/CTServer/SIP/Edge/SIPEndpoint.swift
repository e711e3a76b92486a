import Logging
import Protocol

/// The transaction user above the endpoint: the CT-Server's SIP core.
public protocol SIPCore: AnyObject {
    /// A new request (not ACK, not a retransmission). Answer through `transaction`.
    func requestReceived(_ request: SIPMessage, transaction: ServerTransactionHandle)
    /// An ACK that matched no server transaction: the ACK of a 2xx, for the dialog layer.
    func ackReceived(_ ack: SIPMessage, from: SIPPeer)
    /// A CANCEL matched this pending INVITE; the endpoint already answered the CANCEL with 200.
    /// The core should answer the INVITE with 487.
    func inviteCancelled(_ transaction: ServerTransactionHandle)
}

/// A server transaction as the core sees it.
public final class ServerTransactionHandle {
    public let key: ServerTransactionKey
    public let request: SIPMessage
    public let source: SIPPeer
    weak var endpoint: SIPEndpoint?
    public internal(set) var finalSent = false
    /// Our To tag for responses of this transaction (generated once).
    public lazy var toTag: String = SIPEndpoint.randomToken(10)

    init(key: ServerTransactionKey, request: SIPMessage, source: SIPPeer, endpoint: SIPEndpoint) {
        self.key = key
        self.request = request
        self.source = source
        self.endpoint = endpoint
    }

    /// Sends `code` (adding our To tag to final and provisional non-100 responses).
    public func respond(_ code: Int, _ reason: String? = nil, headers: [SIPHeader] = [], body: [UInt8] = [], contentType: String? = nil) {
        let r = request.makeResponse(code, reason ?? SIPMessage.reasonPhrase(code), toTag: code == 100 ? nil : toTag,
                                     extraHeaders: headers, body: body, contentType: contentType)
        respond(r)
    }

    /// The request proved its sender (digest): see `SIPEndpoint.sourceAuthenticated`.
    public func sourceAuthenticated() { endpoint?.sourceAuthenticated(source) }

    public func respond(_ response: SIPMessage) {
        if let c = response.statusCode, c >= 200 { finalSent = true }
        endpoint?.transactionResponded(key, response)
    }
}

/// The SIP edge of the CT-Server: transports in, parse, screen, Via stamping (RFC 3261
/// §18.2.1, RFC 3581), the transaction tables (§17) and responses out to the packet's source
/// address — never to a host name resolved from Via.
public final class SIPEndpoint: SIPTransportDelegate {
    public struct Configuration: Sendable {
        public var timers = SIPTimerValues()
        public var maximumServerTransactions = 20_000
        public var rateLimitPerSource: Double = 1000
        public var rateLimitBurst: Double = 2000
        /// Sources never rate-limited (trunks, a dispatcher in front of us).
        public var trustedSources: Set<String> = []
        public var maximumMessageSize = 65535
        // No version: scanners (svmap) fingerprint it.
        public var serverHeader = "Hotline"
        /// Loop lateness (ms) above which new requests get 503 (0 = never).
        public var overloadLagMs: Double = 200
        /// SIP over TCP/TLS: connections in all and from one address, and idle timeouts
        /// before and after a connection carries an authenticated request.
        public var maximumStreamConnections = 4096
        public var maximumStreamConnectionsPerSource = 64
        public var streamIdleTimeoutMs = 300_000
        public var streamPreAuthIdleTimeoutMs = 30_000
        /// Anti-amplification (after RFC 9000 §8): to a UDP source that has not proven it
        /// receives our packets, one request's provisional responses and retransmissions total
        /// at most this many times the bytes it sent; its first final response always goes.
        public var amplificationFactor = 3
        /// More Via values than this (a message that looped through 70 proxies is already dead
        /// by Max-Forwards) and the request is dropped before any transaction exists.
        public var maximumVias = 70
        public init() {}

        var streamLimits: TCPTransport.Limits {
            TCPTransport.Limits(maximumConnections: maximumStreamConnections, maximumPerSource: maximumStreamConnectionsPerSource,
                                idleTimeoutMs: streamIdleTimeoutMs, preAuthIdleTimeoutMs: streamPreAuthIdleTimeoutMs,
                                trustedSources: trustedSources)
        }
    }

    public struct Counters: Sendable {
        public var messagesIn = 0
        public var requestsIn = 0
        public var responsesIn = 0
        public var rejectedStateless = 0
        public var dropped = 0
        public var throttled = 0
        public var retransmissionsAbsorbed = 0
        public var overloaded = 0
        /// Responses not sent to an unverified UDP source: they would have exceeded its
        /// amplification budget.
        public var amplificationCapped = 0
    }

    public let loop: EventLoop
    public weak var core: SIPCore?
    public private(set) var counters = Counters()
    let configuration: Configuration
    let parser: SIPParser
    var screen = SIPRequestScreen()
    private var limiter: SourceRateLimiter
    /// What we advertise to each peer (wildcard listening, external address behind NAT).
    public var advertised = AdvertisedAddresses(externalAddress: nil)
    private var udp: [UDPTransport] = []
    private var tcp: [TCPTransport] = []
    private let logger: Logger

    private struct ServerEntry {
        var machine: ServerTransaction
        let handle: ServerTransactionHandle
        var timers: [TransactionTimer: TimerID]
        /// Anti-amplification budget left for an unverified UDP source (nil: unlimited).
        var budget: Int?
        var finalSent = false
    }
    private var servers: [ServerTransactionKey: ServerEntry] = [:]
    /// Live requests by (Call-ID, From tag, CSeq): a second copy with another branch is a merged
    /// request (it forked and came back) and gets 482 (RFC 3261 §8.2.2.2).
    private var liveRequests: [String: ServerTransactionKey] = [:]

    private struct ClientEntry {
        var machine: ClientTransaction
        let peer: SIPPeer
        var timers: [TransactionTimer: TimerID]
        let onResponse: (SIPMessage) -> Void
        let onTimeout: () -> Void
    }
    private var clients: [ClientTransactionKey: ClientEntry] = [:]

    public init(loop: EventLoop, configuration: Configuration = Configuration(), logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        parser = SIPParser(maximumMessageSize: configuration.maximumMessageSize)
        limiter = SourceRateLimiter(ratePerSecond: configuration.rateLimitPerSource, burst: configuration.rateLimitBurst)
        screen.maximumVias = configuration.maximumVias
        overload = OverloadMonitor(highWaterMs: configuration.overloadLagMs, lowWaterMs: max(5, configuration.overloadLagMs / 10))
        if configuration.overloadLagMs > 0 { probeLoop(expected: loop.now + 20_000_000) }
    }

    public private(set) var overload: OverloadMonitor

    /// A 20 ms probe: how late it fires is how far behind the loop is.
    private func probeLoop(expected: UInt64) {
        _ = loop.schedule(afterMilliseconds: 20) { [weak self] in
            guard let self else { return }
            let now = self.loop.now
            let lag = now > expected ? Double(now - expected) / 1_000_000 : 0
            if let shedding = self.overload.observe(lagMs: lag) {
                if shedding {
                    self.logger.warning("SIP: loop overloaded (\(Int(self.overload.smoothedLagMs)) ms behind): new requests get 503")
                } else {
                    self.logger.notice("SIP: loop recovered; accepting new requests")
                }
            }
            self.probeLoop(expected: now + 20_000_000)
        }
    }

    // MARK: transports

    /// Listens for SIP on UDP and TCP at `address` (same port). Returns the bound addresses.
    @discardableResult
    public func listen(udpAndTCP address: SocketAddress) throws -> (udp: SocketAddress, tcp: SocketAddress) {
        // Port 0: TCP takes the same port UDP got; if another socket already holds that TCP
        // port (an ephemeral port of some outgoing connection), try another pair.
        var attempt = 0
        var pair: (UDPTransport, TCPTransport)?
        while pair == nil {
            attempt += 1
            let u = try UDPTransport(loop: loop, address: address, logger: logger)
            let tcpAddress = address.port == 0 ? try SocketAddress(host: address.host, port: u.localAddress.port) : address
            do {
                pair = (u, try TCPTransport(loop: loop, address: tcpAddress, tls: nil, parser: parser, limits: configuration.streamLimits, logger: logger))
            } catch {
                u.close()
                if address.port != 0 || attempt >= 20 { throw error }
            }
        }
        let (u, t) = pair!
        u.delegate = self
        udp.append(u)
        t.delegate = self
        tcp.append(t)
        logger.info("SIP listening on udp:\(u.localAddress) tcp:\(t.localAddress)")
        return (u.localAddress, t.localAddress)
    }

    public func listen(tls address: SocketAddress, context: TLSContext) throws -> SocketAddress {
        let t = try TCPTransport(loop: loop, address: address, tls: context, parser: parser, limits: configuration.streamLimits, logger: logger)
        t.delegate = self
        tcp.append(t)
        logger.info("SIP listening on tls:\(t.localAddress)")
        return t.localAddress
    }

    public func close() {
        for u in udp { u.close() }
        for t in tcp { t.close() }
        udp.removeAll()
        tcp.removeAll()
        for e in servers.values { for t in e.timers.values { loop.cancel(t) } }
        servers.removeAll()
        liveRequests.removeAll()
        for e in clients.values { for t in e.timers.values { loop.cancel(t) } }
        clients.removeAll()
    }

    // MARK: verified sources

    /// Which source hosts proved their address or authenticated.
    private var proofs = SourceProofs()

    /// A request from `peer` passed digest authentication: its stream connection keeps its
    /// slot and the long idle timeout; its host is proven and authenticated for an hour.
    public func sourceAuthenticated(_ peer: SIPPeer) {
        if let id = peer.connectionID { for t in tcp where t.kind == peer.transport { t.authenticated(connectionID: id) } }
        proofs.authenticated(peer.address.host, now: loop.now)
    }

    /// `peer` showed it receives our packets (it ACKed a 2xx carrying our To tag): responses to
    /// it are no longer held to the amplification budget. Its SDP is still not believed.
    public func sourceProven(_ peer: SIPPeer) { proofs.proved(peer.address.host, now: loop.now) }

    /// Whether responses to `peer` may exceed the amplification budget: a stream (the TCP
    /// handshake proved the address), a trusted source, or a proven host.
    public func isVerified(_ peer: SIPPeer) -> Bool {
        peer.reliable || configuration.trustedSources.contains(peer.address.host) || proofs.isProven(peer.address.host, now: loop.now)
    }

    /// Whether `peer`'s SDP may be believed before its RTP arrives: a trusted source, or a host
    /// that passed digest authentication within the hour.
    public func isAuthenticated(_ peer: SIPPeer) -> Bool {
        configuration.trustedSources.contains(peer.address.host) || proofs.isAuthenticated(peer.address.host, now: loop.now)
    }

    /// The SIP TCP/TLS slot policy and refusal counts (for tests and the health snapshot).
    public var streamRefusals: UInt64 { tcp.reduce(0) { $0 + $1.refusals.total } }
    public var streamConnectionCount: Int { tcp.reduce(0) { $0 + $1.connections.count } }

    // MARK: receiving

    func datagramReceived(_ bytes: [UInt8], from: SIPPeer) { received(bytes, from: from, framing: .datagram) }
    func streamMessageReceived(_ bytes: [UInt8], from: SIPPeer) { received(bytes, from: from, framing: .stream) }

    func streamFramingFailed(_ error: SIPParseError, from: SIPPeer) {
        counters.messagesIn += 1
        handle(screen.screen(.failure(error)), from: from)
    }

    private func received(_ bytes: [UInt8], from: SIPPeer, framing: SIPParser.Framing) {
        counters.messagesIn += 1
        // A lone CRLF keep-alive over UDP.
        if framing == .datagram, bytes.allSatisfy({ $0 == 13 || $0 == 10 }) { return }
        guard configuration.trustedSources.contains(from.address.host) || limiter.allow(from.address.host, now: loop.now) else {
            counters.throttled += 1
            if counters.throttled % 1000 == 1 { logger.warning("SIP: throttling \(from.address.host) (\(counters.throttled) messages throttled so far)") }
            return
        }
        handle(screen.screen(parser.parse(bytes, framing: framing)), from: from, size: bytes.count)
    }

    private func handle(_ verdict: SIPRequestScreen.Verdict, from: SIPPeer, size: Int = 0) {
        switch verdict {
        case .drop(let why):
            counters.dropped += 1
            logger.debug("SIP: dropped from \(from): \(why)")
        case .reject(let request, let code, let reason, let headers):
            counters.rejectedStateless += 1
            let stamped = stampVia(request, from: from)
            var r = stamped.makeResponse(code, reason, toTag: Self.randomToken(10), extraHeaders: headers)
            r.add(.server, configuration.serverHeader)
            logger.debug("SIP: \(code) to \(from): \(reason)")
            let bytes = r.serialized()
            guard isVerified(from) || bytes.count <= max(size, 1) * configuration.amplificationFactor else {
                counters.amplificationCapped += 1
                return
            }
            sendResponse(bytes, to: from, via: r.topVia)
        case .accept(let message):
            if message.isRequest {
                counters.requestsIn += 1
                CTMetrics.requestReceived(message.method)
                requestAccepted(stampVia(message, from: from), from: from, size: size)
            } else {
                counters.responsesIn += 1
                responseAccepted(message, from: from)
            }
        }
    }

    /// RFC 3261 §18.2.1 and RFC 3581 §4: note where the request really came from in its top Via.
    func stampVia(_ request: SIPMessage, from: SIPPeer) -> SIPMessage {
        guard let i = request.firstIndex(of: .via), let top = request.value(.via) else { return request }
        var elements = splitHeaderList(Substring(top))
        guard let first = elements.first, var via = try? SIPVia(parsing: first) else { return request }
        let host = from.address.host
        var changed = false
        if via.host.trimmingCharacters(in: ["[", "]"]) != host { via.parameters.set("received", host); changed = true }
        if via.parameters.has("rport") {
            via.parameters.set("rport", String(from.address.port))
            via.parameters.set("received", host)
            changed = true
        }
        guard changed else { return request }
        elements[0] = Substring(via.description)
        var m = request
        m.replaceValue(at: i, with: elements.joined(separator: ", "))
        return m
    }

    private func requestAccepted(_ request: SIPMessage, from: SIPPeer, size: Int) {
        guard let key = ServerTransactionKey(request) else { counters.dropped += 1; return }
        let budget = isVerified(from) ? nil : max(size, 1) * configuration.amplificationFactor
        if request.method == "ACK" {
            if var e = servers[key] {
                let actions = e.machine.ackReceived()
                servers[key] = e
                run(actions, key: key)
                if !actions.isEmpty { return }
            }
            core?.ackReceived(request, from: from)
            return
        }
        if var e = servers[key] {
            counters.retransmissionsAbsorbed += 1
            if let b = e.budget, let more = budget { e.budget = b + more }
            let actions = e.machine.requestRetransmitted()
            servers[key] = e
            run(actions, key: key)
            return
        }
        if request.method == "CANCEL" {
            handleCancel(request, key: key, from: from)
            return
        }
        guard servers.count < configuration.maximumServerTransactions, !(overload.shedding && request.to?.tag == nil && request.method != "ACK") else {
            counters.overloaded += 1
            var r = request.makeResponse(503, "Service Unavailable", toTag: Self.randomToken(10),
                                         extraHeaders: [SIPHeader(name: .retryAfter, value: "5")])
            r.add(.server, configuration.serverHeader)
            sendResponse(r, to: from)
            return
        }
        let mergeKey = "\(request.callID ?? "")|\(request.from?.tag ?? "")|\(request.value(.cseq) ?? "")"
        if request.to?.tag == nil, let other = liveRequests[mergeKey], other != key, servers[other] != nil {
            var r = request.makeResponse(482, "Loop Detected", toTag: Self.randomToken(10))
            r.add(.server, configuration.serverHeader)
            sendResponse(r, to: from)
            return
        }
        let handle = ServerTransactionHandle(key: key, request: request, source: from, endpoint: self)
        let machine = ServerTransaction(request: request, reliable: from.reliable, timers: configuration.timers)
        servers[key] = ServerEntry(machine: machine, handle: handle, timers: [:], budget: budget)
        liveRequests[mergeKey] = key
        if request.method == "INVITE" {
            // Quench retransmissions at once (RFC 3261 §17.2.1).
            transactionResponded(key, request.makeResponse(100, "Trying"))
        }
        guard let core else {
            handle.respond(503, "Service Unavailable")
            return
        }
        core.requestReceived(request, transaction: handle)
    }

    /// CANCEL (RFC 3261 §9.2): matches the INVITE server transaction with the same branch.
    private func handleCancel(_ cancel: SIPMessage, key: ServerTransactionKey, from: SIPPeer) {
        let inviteKey = ServerTransactionKey(branch: key.branch, sentBy: key.sentBy, method: "INVITE")
        let cancelHandle = ServerTransactionHandle(key: key, request: cancel, source: from, endpoint: self)
        servers[key] = ServerEntry(machine: ServerTransaction(request: cancel, reliable: from.reliable, timers: configuration.timers),
                                   handle: cancelHandle, timers: [:])
        guard let invite = servers[inviteKey], !invite.handle.finalSent else {
            cancelHandle.respond(481)
            return
        }
        cancelHandle.respond(200)
        if let core { core.inviteCancelled(invite.handle) } else { invite.handle.respond(487) }
    }

    private func responseAccepted(_ response: SIPMessage, from: SIPPeer) {
        guard let key = ClientTransactionKey(response: response), var e = clients[key] else {
            // Matches no client transaction: discarded (RFC 3261 §18.1.2).
            counters.dropped += 1
            logger.debug("SIP: stray response \(response.statusCode ?? 0) from \(from)")
            return
        }
        let actions = e.machine.responseReceived(response)
        clients[key] = e
        runClient(actions, key: key)
    }

    // MARK: client transactions

    /// Sends a request in a new client transaction (RFC 3261 §17.1): adds our Via with a fresh
    /// branch, retransmits over UDP, and reports every response (provisional and final) or a
    /// timeout. Over a stream the request goes on the peer's existing connection.
    @discardableResult
    public func sendRequest(_ request: SIPMessage, to peer: SIPPeer, branch: String? = nil, onResponse: @escaping (SIPMessage) -> Void,
                            onTimeout: @escaping () -> Void) -> SIPMessage {
        var r = request
        let branch = branch ?? "z9hG4bK" + Self.randomToken(16)
        let local = localAddress(for: peer)
        r.prepend(.via, "SIP/2.0/\(peer.transport.rawValue) \(local);branch=\(branch);rport")
        if r.count(.userAgent) == 0 { r.add(.userAgent, configuration.serverHeader) }
        let key = ClientTransactionKey(branch: branch, method: r.method ?? "")
        let machine = ClientTransaction(request: r, reliable: peer.reliable, timers: configuration.timers)
        clients[key] = ClientEntry(machine: machine, peer: peer, timers: [:], onResponse: onResponse, onTimeout: onTimeout)
        runClient(machine.start(), key: key)
        return r
    }

    /// Sends a request outside any transaction: the ACK of a 2xx (RFC 3261 §13.2.2.4).
    public func sendStateless(_ request: SIPMessage, to peer: SIPPeer) {
        var r = request
        r.prepend(.via, "SIP/2.0/\(peer.transport.rawValue) \(localAddress(for: peer));branch=z9hG4bK\(Self.randomToken(16));rport")
        _ = sendRequestBytes(r, to: peer)
    }

    /// Our `host:port` as `peer` must see it (Via, Contact): the listening socket's port, and the
    /// advertised host for that peer (never a wildcard; the external address behind NAT).
    func localAddress(for peer: SIPPeer) -> String {
        guard let bound = boundAddress(for: peer) else { return "127.0.0.1" }
        return advertised.hostPort(toward: peer.address, bound: bound)
    }

    /// The host (no port) to advertise to `peer`, e.g. in SDP.
    public func advertisedHost(for peer: SIPPeer) -> String {
        guard let bound = boundAddress(for: peer) else { return "127.0.0.1" }
        return advertised.host(toward: peer.address, bound: bound)
    }

    private func boundAddress(for peer: SIPPeer) -> SocketAddress? {
        switch peer.transport {
        case .udp: return (udp.first { $0.localAddress.family == peer.address.family } ?? udp.first)?.localAddress
        case .tcp, .tls: return (tcp.first { $0.kind == peer.transport })?.localAddress
        }
    }

    private func runClient(_ actions: [TransactionAction], key: ClientTransactionKey) {
        for a in actions {
            guard let e = clients[key] else { return }
            switch a {
            case .send(let m):
                if !sendRequestBytes(m, to: e.peer) {
                    var entry = e
                    let more = entry.machine.transportError()
                    clients[key] = entry
                    runClient(more, key: key)
                    return
                }
            case .passToTU(let m):
                e.onResponse(m)
            case .startTimer(let t, let ms):
                let id = loop.schedule(afterMilliseconds: ms) { [weak self] in self?.clientTimerFired(key, t) }
                clients[key]?.timers[t] = id
            case .cancelTimer(let t):
                if let id = clients[key]?.timers.removeValue(forKey: t) { loop.cancel(id) }
            case .timeout:
                e.onTimeout()
            case .terminate:
                if let entry = clients.removeValue(forKey: key) { for id in entry.timers.values { loop.cancel(id) } }
            }
        }
    }

    private func clientTimerFired(_ key: ClientTransactionKey, _ t: TransactionTimer) {
        guard var e = clients[key] else { return }
        e.timers.removeValue(forKey: t)
        let actions = e.machine.timerFired(t)
        clients[key] = e
        runClient(actions, key: key)
    }

    /// A TCP connection to `address` for an outbound request (opened when there is none).
    public func tcpPeer(to address: SocketAddress) -> SIPPeer? {
        tcp.first { $0.kind == .tcp }?.connection(to: address)
    }

    private func sendRequestBytes(_ m: SIPMessage, to peer: SIPPeer) -> Bool {
        let bytes = m.serialized()
        switch peer.transport {
        case .udp:
            guard let u = udp.first(where: { $0.localAddress.family == peer.address.family }) ?? udp.first else { return false }
            u.send(bytes, to: peer.address)
            return true
        case .tcp, .tls:
            guard let id = peer.connectionID else { return false }
            return tcp.contains { $0.kind == peer.transport && $0.send(bytes, connectionID: id) }
        }
    }

    public var clientTransactionCount: Int { clients.count }

    // MARK: transactions

    func transactionResponded(_ key: ServerTransactionKey, _ response: SIPMessage) {
        guard var e = servers[key] else { return }
        var r = response
        if r.count(.server) == 0 { r.add(.server, configuration.serverHeader) }
        let actions = e.machine.respond(r)
        servers[key] = e
        run(actions, key: key)
    }

    private func run(_ actions: [TransactionAction], key: ServerTransactionKey) {
        for a in actions {
            guard let e = servers[key] else { return }
            switch a {
            case .send(let m):
                let bytes = m.serialized()
                if let b = e.budget {
                    // The first final response always goes (the caller needs its answer);
                    // provisional responses and every retransmission come out of the budget.
                    let firstFinal = (m.statusCode ?? 0) >= 200 && !e.finalSent
                    guard firstFinal || bytes.count <= b else {
                        counters.amplificationCapped += 1
                        logger.debug("SIP: \(m.statusCode ?? 0) to unverified \(e.handle.source) not sent: over its amplification budget")
                        continue
                    }
                    servers[key]?.budget = b - bytes.count
                    if firstFinal { servers[key]?.finalSent = true }
                }
                sendResponse(bytes, to: e.handle.source, via: m.topVia)
            case .passToTU:
                break
            case .startTimer(let t, let ms):
                let id = loop.schedule(afterMilliseconds: ms) { [weak self] in self?.serverTimerFired(key, t) }
                servers[key]?.timers[t] = id
            case .cancelTimer(let t):
                if let id = servers[key]?.timers.removeValue(forKey: t) { loop.cancel(id) }
            case .timeout(let t):
                logger.debug("SIP: server transaction \(key) timed out (timer \(t.rawValue))")
            case .terminate:
                if let entry = servers.removeValue(forKey: key) {
                    for id in entry.timers.values { loop.cancel(id) }
                    let r = entry.handle.request
                    let mergeKey = "\(r.callID ?? "")|\(r.from?.tag ?? "")|\(r.value(.cseq) ?? "")"
                    if liveRequests[mergeKey] == key { liveRequests.removeValue(forKey: mergeKey) }
                }
            }
        }
    }

    private func serverTimerFired(_ key: ServerTransactionKey, _ t: TransactionTimer) {
        guard var e = servers[key] else { return }
        e.timers.removeValue(forKey: t)
        let actions = e.machine.timerFired(t)
        servers[key] = e
        run(actions, key: key)
    }

    public var serverTransactionCount: Int { servers.count }

    /// Live transactions for the health snapshot (no message content).
    public func debugSnapshot() -> [String] {
        servers.map { "\($0.key.method) \($0.value.machine.state.rawValue) from \($0.value.handle.source)" }.sorted()
    }

    // MARK: sending

    /// RFC 3261 §18.2.2 with RFC 3581: stream → the same connection; UDP → the source address,
    /// at the rport (when the request asked for it) or the Via port.
    func sendResponse(_ response: SIPMessage, to peer: SIPPeer) {
        sendResponse(response.serialized(), to: peer, via: response.topVia)
    }

    func sendResponse(_ bytes: [UInt8], to peer: SIPPeer, via topVia: SIPVia?) {
        CTMetrics.responseSent(bytes)
        switch peer.transport {
        case .udp:
            var target = peer.address
            if let via = topVia, !via.parameters.has("rport"), let p = via.port ?? (via.transport == "UDP" ? 5060 : nil),
               p != peer.address.port, let a = try? SocketAddress(host: peer.address.host, port: p) {
                target = a
            }
            (udp.first { $0.localAddress.family == target.family } ?? udp.first)?.send(bytes, to: target)
        case .tcp, .tls:
            guard let id = peer.connectionID else { return }
            for t in tcp where t.kind == peer.transport { if t.send(bytes, connectionID: id) { return } }
        }
    }

    static func randomToken(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String(Crypto.randomBytes(n).map { alphabet[Int($0) % alphabet.count] })
    }
}

