import Foundation
import Logging
import Protocol

/// One SIP leg anchored at the CT-Server.
public final class SIPChannel {
    public enum Purpose: Sendable { case echoTest, playbackTest, readbackTest, flow, outbound }

    public let id: String
    public let caller: String
    public let called: String
    public let purpose: Purpose
    public let createdAt: UInt64
    var machine: ChannelStateMachine
    /// Inbound: the INVITE server transaction.
    let invite: ServerTransactionHandle?
    /// Outbound: the INVITE as sent (with our Via), for CANCEL and the dialog.
    var sentInvite: SIPMessage?
    var peer: SIPPeer
    var offer: SessionDescription?
    var dialog: SIPDialog?
    var answer: SIPMessage?
    var negotiated: NegotiatedAudio?
    /// The channel's RTP port while the channel loop owns its socket.
    var mediaPort: Int?
    /// The bridge or conference the channel is in (its mix in the channel loop).
    var mixID: String?
    var answerTimer: TimerID?
    var ringTimer: TimerID?
    /// The Q.850 cause to report when it is not the SIP status's (our ring timer ran out).
    var clearCause: ChannelEvent.Cause?
    /// Originated with a request that the phone answer by itself.
    var autoAnswer = false
    /// A supervisor's tap (listen, whisper, barge) in another channel's bridge: not a party to it.
    var monitoring = false
    var rtpPacketsIn = 0
    /// The channel loop's figures, read when the media is released.
    var mediaStats: MediaChannelStats?
    /// Headers added to our final response (Contact of a redirect).
    var finalHeaders: [SIPHeader] = []
    var transferTarget: String?
    /// Outbound leg placed for a phone's REFER: who referred, and who is being transferred.
    var referral: (referrer: String, transferee: String)?
    /// Outbound: 3xx responses followed so far.
    var redirects = 0
    /// Outbound: challenges answered so far (trunk credentials).
    var authAttempts = 0
    /// The line: the trunk the call came in on or goes out through, or "sip" for phones.
    public var line = "sip"
    /// The owner's safe point (ChannelData), handed to whoever adopts the channel.
    public var ownerData: [String: String] = [:]
    /// Outbound: the Request-URI dialled.
    var target: SIPURI?
    var wasHeld = false
    var transferTimer: TimerID?
    /// The Flow-Server connection that controls this channel (nil for the echo test).
    public var owner: UInt64?

    init(id: String, purpose: Purpose, caller: String, called: String, invite: ServerTransactionHandle?, peer: SIPPeer, timers: SIPTimerValues, now: UInt64) {
        self.id = id
        self.purpose = purpose
        self.caller = caller
        self.called = called
        self.invite = invite
        self.peer = peer
        machine = ChannelStateMachine(t1: timers.t1, t2: timers.t2)
        createdAt = now
    }

    public var state: ChannelStateMachine.State { machine.state }
    var callID: String? { invite?.request.callID ?? sentInvite?.callID }
}

/// Channels: inbound INVITEs (answered here for the echo test, or offered to a Flow-Server
/// and answered, rejected or hung up on its command), outbound calls (originate), dialogs,
/// SDP offer/answer, 2xx retransmission until ACK, BYE either way, CANCEL, re-INVITE.
public final class ChannelManager {
    public struct Settings: Sendable {
        /// A legacy alias of the echo test (docs and early tests dial 9196).
        public var echoNumber = "9196"
        /// Diagnostic numbers answered with no Flow-Server (issue #4): echo, playback, read-back.
        public var diagnostics: [String: Diagnostic] = ["*43": .echo, "*44": .playback, "*45": .readback]
        /// The prompt *44 plays (a WAV path or a name under the prompt folder); spoken text when unset.
        public var playbackPrompt: String?
        public var recordingDirectory = "run/recordings"
        public var echoRingMs = 0
        public var mediaAddress = "127.0.0.1"
        public var rtpPortMin = 20000
        public var rtpPortMax = 29999
        /// How long an offered call waits for its Flow-Server's answer or rejection.
        public var offerTimeoutMs = 8000
        public var timers = SIPTimerValues()
        public init() {}
    }

    public enum Diagnostic: String, Sendable { case echo, playback, readback }

    public struct Counters: Sendable {
        public var offered = 0
        public var answered = 0
        public var completed = 0
        public var rejected = 0
        public var cancelled = 0
        public var noACK = 0
        public var originated = 0
    }

    let loop: EventLoop
    weak var endpoint: SIPEndpoint?
    public var settings: Settings
    public var flowAttached: () -> Bool = { false }
    /// Offers an inbound call to a Flow-Server; returns false if none can take it.
    public var offerToFlow: ((SIPChannel) -> Bool)?
    /// Reports a channel event to the channel's owner.
    public var report: ((SIPChannel, ChannelEvent.Kind, Int, String) -> Void)?
    /// Reports DTMF digits received in signalling (SIP INFO).
    /// Reports DTMF digits (source: "info", "rfc4733", "inband").
    public var reportDigits: ((SIPChannel, String, String) -> Void)?
    /// Looks up a registered user's bindings (for originate to "1001").
    public var lookupUser: ((String) -> [Registrar.Binding])?
    /// Outbound trunks (sip.trunks).
    public var trunks: Trunks?
    public private(set) var counters = Counters()
    private var channels: [String: SIPChannel] = [:]
    private var byCallID: [String: String] = [:]
    private var ports: RTPPortPool
    private var nextID: UInt64 = 1
    var nextBridge = 0
    /// Channels that just went, for the events that follow them (a recording closed at hang-up).
    private var gone: [String: SIPChannel] = [:]
    private var goneOrder: [String] = []

    private func rememberGone(_ ch: SIPChannel) {
        gone[ch.id] = ch
        goneOrder.append(ch.id)
        if goneOrder.count > 512 { gone.removeValue(forKey: goneOrder.removeFirst()) }
    }

    func recentlyGone(_ id: String) -> SIPChannel? { gone[id] }
    let logger: Logger

    public let media: MediaEngine
    public let prompts: PromptStore
    /// Reports a media completion (PlayDone, DigitsCollected, RecordDone, BridgeEnded) to the owner.
    public var reportMedia: ((SIPChannel, MediaEventMessage) -> Void)?
    let diagnosticPrompts: DiagnosticPrompts

    init(loop: EventLoop, settings: Settings, media: MediaEngine, prompts: PromptStore, logger: Logger) {
        self.loop = loop
        self.settings = settings
        self.logger = logger
        self.media = media
        self.prompts = prompts
        ports = RTPPortPool(low: settings.rtpPortMin, high: settings.rtpPortMax)
        diagnosticPrompts = DiagnosticPrompts(store: prompts, playback: settings.playbackPrompt, logger: logger)
        media.onEvents = { [weak self] events in
            loop.execute { self?.mediaEvents(events) }
        }
    }

    public var activeChannels: Int { channels.count }
    var activeChannelList: [SIPChannel] { Array(channels.values) }
    public func channel(id: String) -> SIPChannel? { channels[id] }

    public func debugSnapshot() -> [String] {
        channels.values.sorted { $0.createdAt < $1.createdAt }.map {
            "\($0.id) \($0.state.rawValue) to=\($0.called) rtp=\($0.mediaPort ?? 0)"
        }
    }

    private func newID() -> String {
        defer { nextID += 1 }
        return "ch-\(String(nextID, radix: 36))-\(SIPEndpoint.randomToken(4))"
    }

    // MARK: inbound

    func inviteReceived(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        if request.to?.tag != nil {
            reInvite(request, t)
            return
        }
        counters.offered += 1
        guard !request.body.isEmpty, let offer = try? SessionDescription(parsing: request.body) else {
            counters.rejected += 1
            t.respond(488, "Not Acceptable Here (an SDP offer is required)", headers: [SIPHeader(name: .warning, value: "399 hotline \"no SDP offer\"")])
            return
        }
        let called = (try? SIPURI(parsing: request.requestURI ?? ""))?.user ?? ""
        let caller = request.from?.uri.user ?? request.from?.uriText ?? ""
        let purpose: SIPChannel.Purpose
        switch settings.diagnostics[called] ?? (called == settings.echoNumber ? .echo : nil) {
        case .echo?: purpose = .echoTest
        case .playback?: purpose = .playbackTest
        case .readback?: purpose = .readbackTest
        case nil: purpose = .flow
        }
        let ch = SIPChannel(id: newID(), purpose: purpose, caller: caller, called: called, invite: t, peer: t.source,
                            timers: settings.timers, now: loop.now)
        ch.offer = offer
        if let trunk = trunks?.trunk(for: t.source.address) { ch.line = trunk.name }
        if purpose == .flow {
            guard flowAttached(), let offerToFlow else {
                counters.rejected += 1
                t.respond(480, "Temporarily Unavailable (no Flow-Server attached)", headers: [SIPHeader(name: .retryAfter, value: "30")])
                return
            }
            register(ch)
            guard offerToFlow(ch) else {
                apply(ch, ch.machine.reject(code: 480, cause: "no Flow-Server took the call"))
                return
            }
            logger.info("channel \(ch.id): offered to a Flow-Server (called \(called)) from \(t.source)")
            ch.ringTimer = loop.schedule(afterMilliseconds: settings.offerTimeoutMs) { [weak self, weak ch] in
                guard let self, let ch, ch.state == .offered || ch.state == .ringing else { return }
                self.apply(ch, ch.machine.reject(code: 480, cause: "Flow-Server did not answer the offer"))
            }
            return
        }
        register(ch)
        logger.info("channel \(ch.id): diagnostic \(called) from \(t.source)")
        guard prepareAnswer(ch, echo: purpose == .echoTest) else { return }
        if purpose == .playbackTest {
            media.submit(.play(id: ch.id, player: Player(items: diagnosticPrompts.playbackItems, tag: 1)))
        }
        apply(ch, ch.machine.ring())
        if settings.echoRingMs > 0 {
            ch.ringTimer = loop.schedule(afterMilliseconds: settings.echoRingMs) { [weak self, weak ch] in
                guard let self, let ch else { return }
                self.apply(ch, ch.machine.answer(reliable: ch.peer.reliable))
            }
        } else {
            apply(ch, ch.machine.answer(reliable: t.source.reliable))
        }
    }

    private func register(_ ch: SIPChannel) {
        channels[ch.id] = ch
        if let c = ch.callID { byCallID[c] = ch.id }
    }

    /// Binds RTP, negotiates SDP and builds the 200 OK; on failure answers 488/503 and drops the channel.
    private func prepareAnswer(_ ch: SIPChannel, echo: Bool) -> Bool {
        guard let t = ch.invite, let offer = ch.offer else { return false }
        guard let (fd, port, rtcp) = ports.bind(host: settings.mediaAddress) else {
            apply(ch, ch.machine.reject(code: 503, cause: "no RTP port free"))
            return false
        }
        switch OfferAnswer.answer(offer, localAddress: settings.mediaAddress, localPort: port, sessionID: UInt64(loop.now / 1000)) {
        case .failure(let f):
            ports.release(port)
            close(fd)
            close(rtcp)
            apply(ch, ch.machine.reject(code: 488, cause: f.reason))
            return false
        case .success(let (answerSDP, negotiated)):
            ch.negotiated = negotiated
            ch.mediaPort = port
            media.submit(.add(id: ch.id, fd: fd, rtcp: rtcp, port: port, endpoint: Self.endpoint(negotiated), echo: echo))
            ch.dialog = SIPDialog(uasFor: t.request, localTag: t.toTag, peer: t.source)
            var ok = t.request.makeResponse(200, "OK", toTag: t.toTag, body: answerSDP.serialized(), contentType: "application/sdp")
            ok.add(.contact, contactHeader(for: t.source))
            ok.add(.allow, CTSIPCore.allow)
            ch.answer = ok
            return true
        }
    }

    func contactHeader(for peer: SIPPeer) -> String {
        let local = endpoint?.localAddress(for: peer) ?? "127.0.0.1"
        return "<sip:ct@\(local)\(peer.transport == .udp ? "" : ";transport=\(peer.transport.rawValue.lowercased())")>"
    }

    private func reInvite(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard let ch = channel(for: request), var dialog = ch.dialog, let port = ch.mediaPort else {
            t.respond(481)
            return
        }
        guard let offer = try? SessionDescription(parsing: request.body) else {
            t.respond(200, headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))], body: ch.answer?.body ?? [],
                      contentType: "application/sdp")
            return
        }
        switch renegotiate(ch, offer: offer, port: port) {
        case .failure:
            t.respond(488)
        case .success(let sdp):
            dialog.remoteSeq = request.cseq?.number ?? dialog.remoteSeq
            ch.dialog = dialog
            t.respond(200, headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))], body: sdp.serialized(),
                      contentType: "application/sdp")
        }
    }

    func channel(for request: SIPMessage) -> SIPChannel? {
        guard let callID = request.callID, let id = byCallID[callID], let ch = channels[id] else { return nil }
        if let d = ch.dialog, request.to?.tag != nil, !d.matches(request) { return nil }
        return ch
    }

    func ackReceived(_ ack: SIPMessage) -> Bool {
        guard let ch = channel(for: ack) else { return false }
        apply(ch, ch.machine.ackReceived())
        return true
    }

    func byeReceived(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard let ch = channel(for: request) else { t.respond(481); return }
        t.respond(200)
        apply(ch, ch.machine.byeReceived())
    }

    /// In-dialog INFO, NOTIFY, UPDATE, OPTIONS and REFER.
    func inDialogRequest(_ request: SIPMessage, _ t: ServerTransactionHandle) -> Bool {
        guard request.to?.tag != nil, let ch = channel(for: request) else { return false }
        let type = request.value(.contentType)?.split(separator: ";").first.map { $0.trimmingLWS.lowercased() } ?? ""
        switch request.method ?? "" {
        case "INFO" where type == "application/dtmf-relay" || type == "application/dtmf":
            let digits = Self.dtmfDigits(body: request.body, relay: type == "application/dtmf-relay")
            guard !digits.isEmpty else { t.respond(400, "Bad Request (no DTMF signal)"); return true }
            t.respond(200)
            reportDigits?(ch, digits, "info")
            if ch.purpose == .readbackTest { mediaEvents(digits.map { .dtmf(id: ch.id, digit: $0, source: .info) }) }
        case "NOTIFY":
            t.respond(200)
            referProgress(ch, request)
        case "REFER":
            phoneRefer(ch, request, t)
        case "UPDATE":
            update(ch, request, t)
        default:
            t.respond(200)
        }
        return true
    }

    /// `Signal=5` lines (application/dtmf-relay) or a bare digit (application/dtmf).
    static func dtmfDigits(body: [UInt8], relay: Bool) -> String {
        let text = String(decoding: body, as: UTF8.self)
        let valid = Set("0123456789*#ABCDabcd")
        if !relay { return String(text.trimmingCharacters(in: .whitespacesAndNewlines).filter { valid.contains($0) }.prefix(1)).uppercased() }
        for line in text.split(whereSeparator: { $0.isNewline }) {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "signal" {
                let d = parts[1].trimmingCharacters(in: .whitespaces)
                if d.count == 1, let c = d.first, valid.contains(c) { return d.uppercased() }
                if let n = Int(d), (10...11).contains(n) { return n == 10 ? "*" : "#" }
            }
        }
        return ""
    }

    func cancelled(_ t: ServerTransactionHandle) -> Bool {
        guard let callID = t.request.callID, let id = byCallID[callID], let ch = channels[id], ch.invite === t else { return false }
        counters.cancelled += 1
        apply(ch, ch.machine.cancelled())
        return true
    }

    // MARK: Flow-Server commands

    public enum CommandError: Error, Equatable { case noSuchChannel, wrongState(String), failed(String) }

    public func answer(_ id: String) -> Result<Void, CommandError> {
        guard let ch = channels[id], ch.purpose == .flow else { return .failure(.noSuchChannel) }
        guard ch.state == .offered || ch.state == .ringing else { return .failure(.wrongState(ch.state.rawValue)) }
        if let t = ch.ringTimer { loop.cancel(t) }
        guard prepareAnswer(ch, echo: false) else { return .failure(.failed("media could not be negotiated")) }
        apply(ch, ch.machine.answer(reliable: ch.peer.reliable))
        return .success(())
    }

    public func reject(_ id: String, code: Int, reason: String) -> Result<Void, CommandError> {
        guard let ch = channels[id], ch.invite != nil else { return .failure(.noSuchChannel) }
        guard ch.state == .offered || ch.state == .ringing else { return .failure(.wrongState(ch.state.rawValue)) }
        guard (400...699).contains(code) else { return .failure(.failed("reject code must be 400-699")) }
        counters.rejected += 1
        apply(ch, ch.machine.reject(code: code, cause: reason.isEmpty ? "rejected" : reason))
        return .success(())
    }

    /// Sends an offered inbound call elsewhere with a 3xx and Contact = target.
    public func redirect(_ id: String, target: String, code: Int) -> Result<Void, CommandError> {
        guard let ch = channels[id], ch.invite != nil else { return .failure(.noSuchChannel) }
        guard ch.state == .offered || ch.state == .ringing else { return .failure(.wrongState(ch.state.rawValue)) }
        guard (300...399).contains(code), (try? SIPURI(parsing: target)) != nil else { return .failure(.failed("redirect needs a 3xx and a URI")) }
        ch.finalHeaders = [SIPHeader(name: .contact, value: "<\(target)>")]
        apply(ch, ch.machine.reject(code: code, cause: "redirected to \(target)"))
        return .success(())
    }

    /// Blind transfer (RFC 3515): REFER the far end to `target`; its NOTIFY sipfrag tells the
    /// outcome. On success the far end has a new call and this leg is released with BYE.
    public func transfer(_ id: String, target: String) -> Result<Void, CommandError> {
        guard let ch = channels[id] else { return .failure(.noSuchChannel) }
        guard ch.state == .connected || ch.state == .held, var d = ch.dialog, let endpoint else { return .failure(.wrongState(ch.state.rawValue)) }
        guard (try? SIPURI(parsing: target)) != nil, ch.transferTarget == nil else { return .failure(.failed("bad target or a transfer is pending")) }
        var refer = d.makeRequest("REFER")
        refer.add(.referTo, "<\(target)>")
        refer.add(.referredBy, contactHeader(for: d.peer))
        refer.add(.contact, contactHeader(for: d.peer))
        ch.dialog = d
        ch.transferTarget = target
        endpoint.sendRequest(refer, to: d.peer, onResponse: { [weak self, weak ch] r in
            guard let self, let ch, let code = r.statusCode, code >= 200 else { return }
            if code >= 300 { self.transferDone(ch, ok: false, code: code, cause: "REFER refused") }
        }, onTimeout: { [weak self, weak ch] in
            guard let self, let ch else { return }
            self.transferDone(ch, ok: false, code: 408, cause: "no answer to REFER")
        })
        ch.transferTimer = loop.schedule(afterMilliseconds: 64 * settings.timers.t1) { [weak self, weak ch] in
            guard let self, let ch, ch.transferTarget != nil else { return }
            self.transferDone(ch, ok: false, code: 408, cause: "no final NOTIFY")
        }
        return .success(())
    }

    private func referProgress(_ ch: SIPChannel, _ notify: SIPMessage) {
        guard ch.transferTarget != nil, (notify.value(.event) ?? "").lowercased().hasPrefix("refer") else { return }
        let frag = String(decoding: notify.body, as: UTF8.self).split(separator: " ")
        guard frag.count >= 2, frag[0].hasPrefix("SIP/2.0"), let code = Int(frag[1]) else { return }
        if code >= 200 { transferDone(ch, ok: code < 300, code: code, cause: code < 300 ? "transferred to \(ch.transferTarget ?? "")" : "transfer target answered \(code)") }
    }

    private func transferDone(_ ch: SIPChannel, ok: Bool, code: Int, cause: String) {
        guard ch.transferTarget != nil else { return }
        ch.transferTarget = nil
        if let t = ch.transferTimer { loop.cancel(t) }
        report?(ch, ok ? .transferred : .transferFailed, code, cause)
        if ok { apply(ch, ch.machine.hangup(cause: cause)) }
    }

    /// Hangs a channel up from our side (Flow-Server command, shutdown).
    @discardableResult
    public func hangup(_ id: String, cause: String) -> Result<Void, CommandError> {
        guard let ch = channels[id] else { return .failure(.noSuchChannel) }
        if ch.purpose == .outbound, ch.state == .offered || ch.state == .ringing {
            cancelOutbound(ch, cause: cause)
            return .success(())
        }
        apply(ch, ch.machine.hangup(cause: cause))
        return .success(())
    }

    public func hangupAll(cause: String) {
        for id in Array(channels.keys) { hangup(id, cause: cause) }
    }

    /// Channels a Flow-Server owned, when its link drops: they keep talking (docs/architecture.md);
    /// offered ones that nobody will answer now are rejected.
    public func ownerLost(_ owner: UInt64) {
        for ch in channels.values where ch.owner == owner {
            ch.owner = nil
            if ch.state == .offered || ch.state == .ringing, ch.purpose == .flow {
                apply(ch, ch.machine.reject(code: 480, cause: "Flow-Server lost"))
            }
        }
    }

    // MARK: outbound (originate)

    /// Dials `destination` (a registered user, or a sip: URI with a literal host). The channel
    /// reports Delivered on 180/183, Established on 2xx (after our ACK), Failed otherwise.
    public func originate(destination: String, callerID: String, timeoutMs: Int, owner: UInt64?, trunk trunkName: String = "", autoAnswer: Bool = false) -> Result<SIPChannel, CommandError> {
        guard endpoint != nil else { return .failure(.failed("SIP is not running")) }
        var target: SIPURI
        var peer: SIPPeer
        var callerID = callerID
        if !trunkName.isEmpty {
            guard let trunk = trunks?.trunk(named: trunkName) else { return .failure(.failed("no trunk \(trunkName)")) }
            guard trunks?.states[trunkName] != .down else { return .failure(.failed("trunk \(trunkName) is down (no answer to OPTIONS)")) }
            if let max = trunk.maxChannels, channels.values.filter({ $0.line == trunkName }).count >= max {
                return .failure(.failed("trunk \(trunkName) is full (\(max) channels)"))
            }
            let number = destination.filter { $0.isNumber || $0 == "+" || $0 == "*" || $0 == "#" }
            guard !number.isEmpty, number.count == destination.count else { return .failure(.failed("a trunk destination is a number, got \(destination)")) }
            let host = trunk.address.family == .v6 ? "[\(trunk.address.host)]" : trunk.address.host
            guard let uri = try? SIPURI(parsing: "sip:\(SIPURI.escapeUser(number))@\(host):\(trunk.address.port)") else { return .failure(.failed("bad number")) }
            target = uri
            peer = SIPPeer(transport: .udp, address: trunk.address)
            if callerID.isEmpty { callerID = trunk.fromUser ?? "" }
        } else if destination.hasPrefix("sip:") || destination.hasPrefix("sips:") {
            guard let uri = try? SIPURI(parsing: destination), let addr = try? SocketAddress(host: uri.host.trimmingCharacters(in: ["[", "]"]), port: uri.port ?? 5060),
                  isLiteralAddress(uri.host) else {
                return .failure(.failed("destination must be a registered user or a sip: URI with a literal address"))
            }
            target = uri
            switch (uri.parameter("transport") ?? nil)?.lowercased() ?? "udp" {
            case "udp":
                peer = SIPPeer(transport: .udp, address: addr)
            case "tcp":
                guard let p = endpoint?.tcpPeer(to: addr) else { return .failure(.failed("cannot open a TCP connection to \(addr) (is SIP TCP listening?)")) }
                peer = p
            default:
                return .failure(.failed("outbound transport must be udp or tcp"))
            }
        } else {
            guard let binding = lookupUser?(destination).first else { return .failure(.failed("\(destination) is not registered")) }
            target = binding.contact.uri
            peer = binding.source
        }
        guard let (fd, port, rtcp) = ports.bind(host: settings.mediaAddress) else { return .failure(.failed("no RTP port free")) }
        var offer = SessionDescription()
        offer.originUser = "hotline"
        offer.sessionID = UInt64(loop.now / 1000)
        offer.sessionVersion = 1
        offer.originAddress = settings.mediaAddress
        offer.connection = settings.mediaAddress
        var m = SessionDescription.Media(type: "audio", port: port, proto: "RTP/AVP", formats: ["0", "8", "101"])
        m.rtpmap = [0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"]
        m.fmtp = [101: "0-16"]
        m.ptime = 20
        offer.media = [m]

        let id = newID()
        let ch = SIPChannel(id: id, purpose: .outbound, caller: callerID, called: destination, invite: nil, peer: peer,
                            timers: settings.timers, now: loop.now)
        ch.owner = owner
        ch.autoAnswer = autoAnswer
        ch.offer = offer
        ch.mediaPort = port
        if !trunkName.isEmpty { ch.line = trunkName }
        media.submit(.add(id: id, fd: fd, rtcp: rtcp, port: port,
                          endpoint: MediaCommand.Endpoint(remote: nil, payloadType: 0, law: .ulaw, telephoneEvent: 101), echo: false))
        counters.originated += 1
        register(ch)
        sendInvite(ch, target: target)
        ch.ringTimer = loop.schedule(afterMilliseconds: max(1000, timeoutMs)) { [weak self, weak ch] in
            guard let self, let ch, ch.state == .offered || ch.state == .ringing else { return }
            ch.clearCause = .noAnswer
            self.cancelOutbound(ch, cause: "no answer")
        }
        logger.info("channel \(id): originating to \(destination) via \(peer)")
        return .success(ch)
    }

    /// Sends (or re-sends, after a redirect) the channel's INVITE to `target` at `ch.peer`.
    /// `authorization` (header and value) answers a trunk's challenge: the INVITE is re-sent in
    /// the same call (Call-ID, From tag) with the next CSeq.
    func sendInvite(_ ch: SIPChannel, target: SIPURI, authorization: SIPHeader? = nil) {
        guard let endpoint, let offer = ch.offer else { return }
        ch.target = target
        let peer = ch.peer
        let local = endpoint.localAddress(for: peer)
        var invite = SIPMessage(startLine: .request(method: "INVITE", uri: target.description, version: "SIP/2.0"))
        invite.add(.maxForwards, "70")
        if let previous = ch.sentInvite, authorization != nil, let from = previous.value(.from), let callID = previous.callID {
            invite.add(.from, from)
            invite.add(.to, "<\(target.description)>")
            invite.add(.callID, callID)
            invite.add(.cseq, "\((previous.cseq?.number ?? 1) + 1) INVITE")
        } else {
            let callerID = ch.caller
            let display = callerID.isEmpty ? "" : "\"\(callerID.replacingOccurrences(of: "\"", with: ""))\" "
            let fromUser = callerID.isEmpty ? "hotline" : SIPURI.escapeUser(callerID)
            invite.add(.from, "\(display)<sip:\(fromUser)@\(local)>;tag=\(SIPEndpoint.randomToken(10))")
            invite.add(.to, "<\(target.description)>")
            invite.add(.callID, "\(SIPEndpoint.randomToken(20))@hotline")
            invite.add(.cseq, "1 INVITE")
        }
        if let authorization { invite.headers.append(authorization) }
        if ch.autoAnswer {
            // Intercom-style answer for agents who answered in App-Operate (both common forms).
            invite.add(SIPHeaderName("Call-Info"), "<sip:\(local)>;answer-after=0")
            invite.add(SIPHeaderName("Alert-Info"), "<http://127.0.0.1/>;info=alert-autoanswer")
        }
        invite.add(.contact, contactHeader(for: peer))
        invite.add(.allow, CTSIPCore.allow)
        invite.add(.contentType, "application/sdp")
        invite.body = offer.serialized()
        ch.sentInvite = invite
        // The transaction keeps the channel alive until it ends, so a 2xx that arrives after we
        // gave up can still be ACKed and ended with BYE.
        ch.sentInvite = endpoint.sendRequest(invite, to: peer, onResponse: { [weak self] r in
            self?.outboundResponse(ch, r)
        }, onTimeout: { [weak self, weak ch] in
            guard let self, let ch else { return }
            self.outboundEnded(ch, kind: .failed, code: 408, cause: "no response")
        })
        if let c = ch.sentInvite?.callID { byCallID[c] = ch.id }
    }

    static func uriText(_ nameAddr: String) -> String {
        if let l = nameAddr.firstIndex(of: "<"), let r = nameAddr[l...].firstIndex(of: ">") { return String(nameAddr[nameAddr.index(after: l)..<r]) }
        return String(nameAddr.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    func isLiteralAddress(_ host: String) -> Bool {
        host.hasPrefix("[") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    private func outboundResponse(_ ch: SIPChannel, _ r: SIPMessage) {
        guard let code = r.statusCode, let invite = ch.sentInvite else { return }
        switch code {
        case 100:
            break
        case 101..<200:
            // 183 with SDP: early media (ringback or announcements from the far end) flows now.
            if !r.body.isEmpty { applyRemoteSDP(ch, r) }
            if ch.state == .offered {
                _ = ch.machine.ring()
                report?(ch, .delivered, code, "")
            }
        case 200..<300:
            guard var dialog = ch.dialog ?? SIPDialog(uacFor: invite, response: r, peer: ch.peer) else { return }
            // ACK every 2xx (retransmissions included) — RFC 3261 §13.2.2.4.
            var ack = SIPMessage(startLine: .request(method: "ACK", uri: dialog.remoteTarget, version: "SIP/2.0"))
            ack.add(.maxForwards, "70")
            ack.add(.from, dialog.localURI)
            ack.add(.to, dialog.remoteURI)
            ack.add(.callID, dialog.callID)
            ack.add(.cseq, "\(invite.cseq?.number ?? 1) ACK")
            for route in dialog.routeSet { ack.add(.route, route) }
            endpoint?.sendStateless(ack, to: ch.peer)
            guard ch.dialog == nil else { return }
            if ch.state == .hangingUp || ch.state == .gone {
                // Answered after we gave up: end it at once.
                ch.dialog = dialog
                sendBye(ch)
                return
            }
            applyRemoteSDP(ch, r)
            dialog.remoteSeq = 0
            ch.dialog = dialog
            if let t = ch.ringTimer { loop.cancel(t) }
            _ = ch.machine.answer(reliable: true)
            _ = ch.machine.ackReceived()
            counters.answered += 1
            report?(ch, .established, code, "")
            if ch.referral != nil { referralAnswered(ch) }
        case 401, 407 where ch.authAttempts == 0 && (ch.state == .offered || ch.state == .ringing):
            // The trunk wants credentials: answer its challenge once, in the same call.
            guard let trunk = trunks?.trunk(named: ch.line), let creds = trunk.credentials, let target = ch.target,
                  let challenge = r.value(code == 401 ? .wwwAuthenticate : .proxyAuthenticate),
                  let auth = DigestClient.authorization(challenge: challenge, method: "INVITE", uri: target.description, credentials: creds) else {
                outboundEnded(ch, kind: .failed, code: code, cause: "authentication required")
                return
            }
            ch.authAttempts += 1
            sendInvite(ch, target: target, authorization: SIPHeader(name: code == 401 ? .authorization : .proxyAuthorization, value: auth))
        case 300..<400 where ch.redirects < 3 && (ch.state == .offered || ch.state == .ringing):
            // Follow the redirect (RFC 3261 §8.1.3.4) to the first Contact we can reach.
            guard let contact = r.values(.contact).first, let uri = try? SIPURI(parsing: Self.uriText(contact)),
                  isLiteralAddress(uri.host), let addr = try? SocketAddress(host: uri.host.trimmingCharacters(in: ["[", "]"]), port: uri.port ?? 5060) else {
                outboundEnded(ch, kind: .failed, code: code, cause: "redirected to an unreachable target")
                return
            }
            ch.redirects += 1
            logger.info("channel \(ch.id): \(code) redirect to \(uri)")
            if let c = ch.sentInvite?.callID, byCallID[c] == ch.id { byCallID.removeValue(forKey: c) }
            ch.peer = SIPPeer(transport: .udp, address: addr)
            sendInvite(ch, target: uri)
        default:
            let cause: String
            switch code {
            case 486, 600: cause = "busy"
            case 408, 480: cause = "no answer"
            case 487: cause = ch.machine.cause ?? "cancelled"
            case 404, 604: cause = "not found"
            case 603: cause = "declined"
            default: cause = "failed"
            }
            outboundEnded(ch, kind: .failed, code: code, cause: cause)
        }
    }

    private func cancelOutbound(_ ch: SIPChannel, cause: String) {
        guard let invite = ch.sentInvite, let branch = invite.topVia?.branch, let endpoint else { return }
        _ = ch.machine.reject(code: 487, cause: cause)   // offered/ringing → gone bookkeeping
        var cancel = SIPMessage(startLine: .request(method: "CANCEL", uri: invite.requestURI ?? "", version: "SIP/2.0"))
        cancel.add(.maxForwards, "70")
        if let f = invite.value(.from) { cancel.add(.from, f) }
        if let t = invite.value(.to) { cancel.add(.to, t) }
        if let c = invite.callID { cancel.add(.callID, c) }
        cancel.add(.cseq, "\(invite.cseq?.number ?? 1) CANCEL")
        var stripped = cancel
        stripped.remove(.via)
        endpoint.sendRequest(stripped, to: ch.peer, branch: branch, onResponse: { _ in }, onTimeout: {})
        // The 487 (or a late 2xx, which we BYE) arrives through the INVITE transaction.
        outboundEnded(ch, kind: .failed, code: 487, cause: cause)
    }

    private func outboundEnded(_ ch: SIPChannel, kind: ChannelEvent.Kind, code: Int, cause: String) {
        guard channels[ch.id] != nil else { return }
        if ch.referral != nil { referralFailed(ch, code: code, reason: cause) }
        if let t = ch.ringTimer { loop.cancel(t) }
        releaseMedia(ch)
        report?(ch, kind, code, cause)
        channels.removeValue(forKey: ch.id)
        rememberGone(ch)
        // Keep the Call-ID mapping briefly so a late 2xx can still be ACKed and BYE'd.
        logger.info("channel \(ch.id): \(kind) (\(code) \(cause))")
    }

    // MARK: actions

    private func releaseMedia(_ ch: SIPChannel) {
        if let port = ch.mediaPort {
            ch.mediaStats = media.stats(id: ch.id)
            ch.rtpPacketsIn = ch.mediaStats?.packetsIn ?? 0
            media.submit(.remove(id: ch.id))
            ports.release(port)
            ch.mediaPort = nil
        }
    }

    func apply(_ ch: SIPChannel, _ actions: [ChannelStateMachine.Action]) {
        for a in actions {
            switch a {
            case .sendProvisional(let code):
                ch.invite?.respond(code)
            case .sendAnswer, .retransmitAnswer:
                if let ok = ch.answer { ch.invite?.respond(ok) }
                if case .sendAnswer = a { counters.answered += 1 }
            case .startAnswerTimer(let ms):
                ch.answerTimer = loop.schedule(afterMilliseconds: ms) { [weak self, weak ch] in
                    guard let self, let ch else { return }
                    self.apply(ch, ch.machine.answerTimerFired())
                }
            case .stopAnswerTimer:
                if let t = ch.answerTimer { loop.cancel(t) }
                ch.answerTimer = nil
            case .sendFinal(let code):
                ch.invite?.respond(code, headers: ch.finalHeaders)
            case .sendBye:
                if ch.machine.cause == "no ACK for 200 OK" { counters.noACK += 1 }
                sendBye(ch)
            case .releaseMedia:
                if let t = ch.ringTimer { loop.cancel(t) }
                releaseMedia(ch)
            case .report(let state):
                logger.debug("channel \(ch.id): \(state.rawValue)")
                switch state {
                case .connected where ch.wasHeld:
                    ch.wasHeld = false
                    report?(ch, .retrieved, 0, "")
                case .connected where ch.purpose == .flow: report?(ch, .established, 200, "")
                case .held:
                    ch.wasHeld = true
                    report?(ch, .held, 0, "")
                case .connected: break
                case .gone:
                    report?(ch, .cleared, 0, ch.machine.cause ?? "")
                    remove(ch)
                default: break
                }
            }
        }
    }

    private func sendBye(_ ch: SIPChannel) {
        guard var d = ch.dialog, let endpoint else { apply(ch, ch.machine.byeCompleted()); return }
        let bye = d.makeRequest("BYE")
        ch.dialog = d
        endpoint.sendRequest(bye, to: d.peer, onResponse: { [weak self, weak ch] r in
            guard let self, let ch, (r.statusCode ?? 0) >= 200 else { return }
            self.apply(ch, ch.machine.byeCompleted())
        }, onTimeout: { [weak self, weak ch] in
            guard let self, let ch else { return }
            self.apply(ch, ch.machine.byeCompleted())
        })
    }

    private func remove(_ ch: SIPChannel) {
        if let t = ch.answerTimer { loop.cancel(t) }
        if let t = ch.ringTimer { loop.cancel(t) }
        if let t = ch.transferTimer { loop.cancel(t) }
        channels.removeValue(forKey: ch.id)
        rememberGone(ch)
        if let callID = ch.callID, byCallID[callID] == ch.id { byCallID.removeValue(forKey: callID) }
        if ch.machine.cause == "caller hung up" { counters.completed += 1 }
        let m = ch.mediaStats
        logger.info("channel \(ch.id): gone (\(ch.machine.cause ?? "-"); rtp in=\(ch.rtpPacketsIn) out=\(m?.packetsOut ?? 0) foreign=\(m?.foreignDropped ?? 0) latched=\(m?.latched ?? "-") lost=\(m?.cumulativeLost ?? 0) jitter_ms=\(Int(m?.jitterMs ?? 0)) remote_loss_pct=\(m?.remoteLossPercent ?? 0) rtt_ms=\(m?.rttMs ?? -1))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
