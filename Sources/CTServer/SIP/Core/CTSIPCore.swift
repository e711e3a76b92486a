import Foundation
import Logging
import Protocol

/// The CT-Server's SIP transaction user: what it does with each request that passed the
/// screen. Standalone behaviour (no Flow-Server attached): OPTIONS 200, REGISTER through
/// digest auth and the registrar, INVITE 480 (docs/operations.md, "SIP").
public final class CTSIPCore: SIPCore {
    public let loop: EventLoop
    public var authenticator: DigestAuthenticator
    public var registrar = Registrar()
    public let channels: ChannelManager
    /// Whether a Flow-Server is attached (calls can be routed).
    public var flowAttached: () -> Bool = { false } {
        didSet { channels.flowAttached = flowAttached }
    }
    private let logger: Logger
    private var sweepTimer: TimerID?
    public private(set) var registrations = 0
    public private(set) var authFailures = 0

    public init(loop: EventLoop, authenticator: DigestAuthenticator, channelSettings: ChannelManager.Settings = .init(),
                media: MediaEngine, prompts: PromptStore, logger: Logger) {
        self.loop = loop
        self.authenticator = authenticator
        self.logger = logger
        channels = ChannelManager(loop: loop, settings: channelSettings, media: media, prompts: prompts, logger: logger)
        scheduleSweep()
        scheduleKeepalive()
    }

    /// Connects the channel layer to the endpoint that carries its requests (BYE …).
    public func attach(to endpoint: SIPEndpoint) {
        endpoint.core = self
        channels.endpoint = endpoint
    }

    private func scheduleSweep() {
        sweepTimer = loop.schedule(afterMilliseconds: 10_000) { [weak self] in
            guard let self else { return }
            let before = self.registrar.bindingCount
            self.registrar.sweep(now: self.loop.now)
            if self.registrar.bindingCount != before { self.registrationsChanged() }
            self.scheduleSweep()
        }
    }

    private var authFailureLog = RefusalLog()

    /// The `username` of a Digest Authorization header.
    static func digestUsername(_ header: String) -> String? {
        guard let r = header.range(of: "username=\"") else { return nil }
        let rest = header[r.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end].prefix(64)).filter { !$0.isNewline }
    }

    // MARK: NAT keep-alives

    /// Seconds between OPTIONS to phones registered from behind NAT (0: none).
    public var natKeepaliveSeconds = 25 {
        didSet { scheduleKeepalive() }
    }
    private var keepaliveTimer: TimerID?
    public private(set) var natKeepalivesSent = 0

    /// Whether a UDP binding is behind NAT: the phone registered from elsewhere than its Contact.
    static func isBehindNAT(_ b: Registrar.Binding) -> Bool {
        guard b.source.transport == .udp else { return false }
        let host = b.contact.uri.host.trimmingCharacters(in: ["[", "]"])
        return host != b.source.address.host || (b.contact.uri.port ?? 5060) != b.source.address.port
    }

    private func scheduleKeepalive() {
        if let t = keepaliveTimer { loop.cancel(t) }
        keepaliveTimer = nil
        guard natKeepaliveSeconds > 0 else { return }
        keepaliveTimer = loop.schedule(afterMilliseconds: natKeepaliveSeconds * 1000) { [weak self] in
            guard let self else { return }
            self.sendKeepalives()
            self.scheduleKeepalive()
        }
    }

    /// One OPTIONS per NAT'd binding, to where it registered from: the packet (and its answer)
    /// keeps the phone's NAT mapping open so that calls reach it (RFC 5626 §3.5 does the same
    /// from the phone's side; phones that do not are kept reachable by us).
    func sendKeepalives() {
        guard let endpoint = channels.endpoint else { return }
        for (_, list) in registrar.bindings {
            for b in list where Self.isBehindNAT(b) {
                endpoint.sendRequest(endpoint.optionsRequest(to: b.contact.uri.description, peer: b.source), to: b.source,
                                     onResponse: { _ in }, onTimeout: {})
                natKeepalivesSent += 1
                logger.debug("SIP: keep-alive OPTIONS to \(b.contact.uri) at \(b.source)")
            }
        }
    }

    // MARK: registrations on disk

    /// Where the bindings are kept across restarts (`sip.registrations_file`; nil: not kept).
    public var registrationsFile: String?
    private var saveTimer: TimerID?

    /// Loads the bindings a previous run kept; returns how many are still valid.
    @discardableResult
    public func restoreRegistrations() -> Int {
        guard let path = registrationsFile else { return 0 }
        do {
            let n = registrar.restore(try RegistrationStore.load(from: path), now: loop.now, wallNow: Date().timeIntervalSince1970)
            logger.notice("SIP: restored \(n) registration(s) from \(path)")
            return n
        } catch {
            logger.error("SIP: cannot read registrations from \(path): \(error); starting without them")
            return 0
        }
    }

    /// Writes the bindings half a second after a change (one write for a burst of REGISTERs).
    private func registrationsChanged() {
        guard registrationsFile != nil, saveTimer == nil else { return }
        saveTimer = loop.schedule(afterMilliseconds: 500) { [weak self] in
            self?.saveTimer = nil
            self?.saveRegistrations()
        }
    }

    public func saveRegistrations() {
        guard let path = registrationsFile else { return }
        do {
            try RegistrationStore.save(registrar.persisted(now: loop.now, wallNow: Date().timeIntervalSince1970), to: path)
        } catch {
            logger.error("SIP: cannot write registrations to \(path): \(error)")
        }
    }

    static let allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY"

    public func requestReceived(_ request: SIPMessage, transaction t: ServerTransactionHandle) {
        switch request.method ?? "" {
        case "OPTIONS" where request.to?.tag != nil && channels.inDialogRequest(request, t):
            break
        case "OPTIONS":
            t.respond(200, headers: [SIPHeader(name: .allow, value: Self.allow), SIPHeader(name: .accept, value: "application/sdp"),
                                     SIPHeader(name: .supported, value: "")].filter { !$0.value.isEmpty })
        case "REGISTER":
            register(request, t)
        case "INVITE":
            channels.inviteReceived(request, t)
        case "BYE":
            channels.byeReceived(request, t)
        case "INFO", "UPDATE", "REFER", "NOTIFY":
            if !channels.inDialogRequest(request, t) { t.respond(481) }
        default:
            t.respond(405, headers: [SIPHeader(name: .allow, value: Self.allow)])
        }
    }

    private func register(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        let now = loop.now
        switch authenticator.verify(request, source: t.source.address.host, now: now) {
        case .challenge(let stale):
            if request.count(.authorization) > 0 { authFailures += 1 }
            if let auth = request.value(.authorization), !stale {
                // Wrong credentials: logged with the user and address (rate-limited: a guessing
                // run writes one line per interval, with the count and the busiest address).
                let user = Self.digestUsername(auth) ?? "?"
                if let line = authFailureLog.record(source: t.source.address.host, reason: "REGISTER for \(user): wrong credentials", now: now) {
                    logger.notice("SIP: authentication \(line)")
                }
            }
            t.respond(401, headers: authenticator.challenges(now: now, stale: stale).map { SIPHeader(name: .wwwAuthenticate, value: $0) })
        case .lockedOut(let scope, let user):
            authFailures += 1
            logger.warning("SIP: REGISTER for \(user) from \(t.source.address.host) refused: locked out (\(scope.rawValue)) after repeated authentication failures")
            t.respond(403, "Forbidden (too many failed attempts)")
        case .malformed(let why):
            t.respond(400, "Bad Request (\(why))")
        case .authenticated(let user):
            t.sourceAuthenticated()
            switch registrar.register(request, authenticatedUser: user, source: t.source, now: now) {
            case .ok(let list):
                registrations += 1
                registrationsChanged()
                var headers = list.map { SIPHeader(name: .contact, value: $0.contact) }
                headers.append(SIPHeader(name: .date, value: Self.httpDate()))
                t.respond(200, headers: headers)
                logger.info("SIP: \(user) registered \(list.count) contact(s) from \(t.source)")
            case .reject(let code, let reason, let headers):
                t.respond(code, reason, headers: headers)
            }
        }
    }

    public func ackReceived(_ ack: SIPMessage, from: SIPPeer) {
        // An ACK carrying the random To tag of our 2xx proves its sender receives our packets.
        let proves = ack.to?.tag != nil && channels.channel(for: ack)?.dialog != nil
        if channels.ackReceived(ack) {
            if proves { channels.endpoint?.sourceProven(from) }
        } else {
            logger.debug("SIP: ACK matching no dialog from \(from) ignored")
        }
    }

    public func inviteCancelled(_ transaction: ServerTransactionHandle) {
        if !channels.cancelled(transaction) { transaction.respond(487) }
    }

    static func httpDate() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        strftime(&buf, buf.count, "%a, %d %b %Y %H:%M:%S GMT", &tmv)
        return String(cString: buf)
    }

    public func shutdown() {
        if let t = sweepTimer { loop.cancel(t) }
        if let t = saveTimer { loop.cancel(t); saveTimer = nil }
        saveRegistrations()
    }
}

#if canImport(Glibc)
import Glibc
#endif
