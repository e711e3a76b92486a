import Foundation
import Logging
import Protocol

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
        /// The address RTP sockets bind (a wildcard binds every interface).
        public var mediaAddress = "127.0.0.1"
        /// Advertise `mediaAddress` in SDP to every peer (configured `media_address`); otherwise
        /// each peer gets the SIP endpoint's advertised host for it.
        public var advertiseMediaAddress = false
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
    public internal(set) var counters = Counters()
    var channels: [String: SIPChannel] = [:]
    var byCallID: [String: String] = [:]
    var ports: RTPPortPool
    var nextID: UInt64 = 1
    var nextBridge = 0
    /// Channels that just went, for the events that follow them (a recording closed at hang-up).
    private var gone: [String: SIPChannel] = [:]
    private var goneOrder: [String] = []

    func rememberGone(_ ch: SIPChannel) {
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

    func newID() -> String {
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

    func register(_ ch: SIPChannel) {
        channels[ch.id] = ch
        if let c = ch.callID { byCallID[c] = ch.id }
    }

    /// Binds RTP, negotiates SDP and builds the 200 OK; on failure answers 488/503 and drops the channel.
    func prepareAnswer(_ ch: SIPChannel, echo: Bool) -> Bool {
        guard let t = ch.invite, let offer = ch.offer else { return false }
        guard let (fd, port, rtcp) = ports.bind(host: settings.mediaAddress) else {
            apply(ch, ch.machine.reject(code: 503, cause: "no RTP port free"))
            return false
        }
        switch OfferAnswer.answer(offer, localAddress: mediaHost(for: ch.peer), localPort: port, sessionID: UInt64(loop.now / 1000)) {
        case .failure(let f):
            ports.release(port)
            close(fd)
            close(rtcp)
            apply(ch, ch.machine.reject(code: 488, cause: f.reason))
            return false
        case .success(let (answerSDP, negotiated)):
            ch.negotiated = negotiated
            ch.mediaPort = port
            media.submit(.add(id: ch.id, fd: fd, rtcp: rtcp, port: port, endpoint: mediaEndpoint(negotiated, for: ch), echo: echo))
            ch.dialog = SIPDialog(uasFor: t.request, localTag: t.toTag, peer: t.source)
            var ok = t.request.makeResponse(200, "OK", toTag: t.toTag, body: answerSDP.serialized(), contentType: "application/sdp")
            ok.add(.contact, contactHeader(for: t.source))
            ok.add(.allow, CTSIPCore.allow)
            ch.answer = ok
            return true
        }
    }

    /// The address our SDP carries for `peer` (c=, o=).
    func mediaHost(for peer: SIPPeer) -> String {
        if settings.advertiseMediaAddress || endpoint == nil { return settings.mediaAddress }
        return endpoint?.advertisedHost(for: peer) ?? settings.mediaAddress
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
            // Through the channel loop, like RFC 4733 keys: menus, collection and barge-in see
            // them, and the loop reports them (DigitsReceived, source info).
            if ch.mediaPort != nil {
                media.submit(.receivedDTMF(id: ch.id, digits: digits, source: .info))
            } else {
                reportDigits?(ch, digits, "info")
            }
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

    /// The caller hears ringing (180, no early media) while its Flow-Server rings someone for
    /// it; the offer timer stops — the Flow-Server answers or rejects the call when that ends.
    public func ring(_ id: String) -> Result<Void, CommandError> {
        guard let ch = channels[id], ch.purpose == .flow, ch.invite != nil else { return .failure(.noSuchChannel) }
        guard ch.state == .offered || ch.state == .ringing else { return .failure(.wrongState(ch.state.rawValue)) }
        if let t = ch.ringTimer { loop.cancel(t) }
        ch.ringTimer = nil
        if ch.state == .offered { apply(ch, ch.machine.ring()) }
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

    // MARK: actions

    func releaseMedia(_ ch: SIPChannel) {
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
                if ch.machine.unacknowledged { counters.noACK += 1 }
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
            case .sendAck, .applyRemoteSDP, .sendCancel, .answerChallenge, .followRedirect, .reportDelivered, .reportEstablished, .reportFailed:
                applyUAC(ch, [a], nil)
            }
        }
    }

    func sendBye(_ ch: SIPChannel) {
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

    func remove(_ ch: SIPChannel) {
        if let t = ch.answerTimer { loop.cancel(t) }
        if let t = ch.ringTimer { loop.cancel(t) }
        if let t = ch.transferTimer { loop.cancel(t) }
        channels.removeValue(forKey: ch.id)
        rememberGone(ch)
        if let callID = ch.callID, byCallID[callID] == ch.id { byCallID.removeValue(forKey: callID) }
        for f in ch.forks { if let c = f.invite.callID, byCallID[c] == ch.id { byCallID.removeValue(forKey: c) } }
        if ch.machine.farEndHungUp, ch.purpose != .outbound { counters.completed += 1 }
        CTMetrics.callEnded(outbound: ch.purpose == .outbound, answered: ch.machine.wasAnswered, cause: ch.clearCause)
        let m = ch.mediaStats
        logger.info("channel \(ch.id): gone (\(ch.machine.cause ?? "-"); rtp in=\(ch.rtpPacketsIn) out=\(m?.packetsOut ?? 0) foreign=\(m?.foreignDropped ?? 0) latched=\(m?.latched ?? "-") lost=\(m?.cumulativeLost ?? 0) jitter_ms=\(Int(m?.jitterMs ?? 0)) remote_loss_pct=\(m?.remoteLossPercent ?? 0) rtt_ms=\(m?.rttMs ?? -1))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
