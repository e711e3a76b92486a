import Logging
import Protocol

/// One SIP leg anchored at the CT-Server.
public final class SIPChannel {
    public let id: String
    public let caller: String
    public let called: String
    public let createdAt: UInt64
    var machine: ChannelStateMachine
    let invite: ServerTransactionHandle
    var dialog: SIPDialog?
    var answer: SIPMessage?
    var negotiated: NegotiatedAudio?
    var media: RTPReflector?
    var answerTimer: TimerID?
    var ringTimer: TimerID?
    var rtpPacketsIn = 0

    init(id: String, invite: ServerTransactionHandle, t1: Int, t2: Int, now: UInt64) {
        self.id = id
        self.invite = invite
        caller = invite.request.from?.uri.user ?? invite.request.from?.uriText ?? ""
        called = (try? SIPURI(parsing: invite.request.requestURI ?? ""))?.user ?? ""
        machine = ChannelStateMachine(t1: t1, t2: t2)
        createdAt = now
    }

    public var state: ChannelStateMachine.State { machine.state }
}

/// Channels: INVITE in, dialog, SDP answer, 2xx retransmission until ACK, BYE either way,
/// CANCEL, re-INVITE (hold/resume). Calls to the echo-test number are answered here with an
/// RTP reflector; routing other calls to a Flow-Server is the next step of issue #3.
public final class ChannelManager {
    public struct Settings: Sendable {
        public var echoNumber = "9196"
        public var echoRingMs = 0
        public var mediaAddress = "127.0.0.1"
        public var rtpPortMin = 20000
        public var rtpPortMax = 29999
        public var timers = SIPTimerValues()
        public init() {}
    }

    public struct Counters: Sendable {
        public var offered = 0
        public var answered = 0
        public var completed = 0
        public var rejected = 0
        public var cancelled = 0
        public var noACK = 0
    }

    let loop: EventLoop
    weak var endpoint: SIPEndpoint?
    public var settings: Settings
    public var flowAttached: () -> Bool = { false }
    public private(set) var counters = Counters()
    private var channels: [String: SIPChannel] = [:]          // by channel id
    private var byCallID: [String: String] = [:]              // Call-ID → channel id
    private var ports: RTPPortPool
    private var nextID: UInt64 = 1
    private let logger: Logger

    init(loop: EventLoop, settings: Settings, logger: Logger) {
        self.loop = loop
        self.settings = settings
        self.logger = logger
        ports = RTPPortPool(low: settings.rtpPortMin, high: settings.rtpPortMax)
    }

    public var activeChannels: Int { channels.count }

    public func debugSnapshot() -> [String] {
        channels.values.sorted { $0.createdAt < $1.createdAt }.map {
            "\($0.id) \($0.state.rawValue) from=\($0.caller.isEmpty ? "-" : "…" + String($0.caller.suffix(2))) to=\($0.called) rtp=\($0.media?.port ?? 0)"
        }
    }

    // MARK: requests from the SIP core

    func inviteReceived(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        if request.to?.tag != nil {
            reInvite(request, t)
            return
        }
        counters.offered += 1
        guard request.body.isEmpty == false, let offer = try? SessionDescription(parsing: request.body) else {
            counters.rejected += 1
            t.respond(488, "Not Acceptable Here (an SDP offer is required)", headers: [SIPHeader(name: .warning, value: "399 hotline \"no SDP offer\"")])
            return
        }
        let id = "ch-\(String(nextID, radix: 36))-\(SIPEndpoint.randomToken(4))"
        nextID += 1
        let ch = SIPChannel(id: id, invite: t, t1: settings.timers.t1, t2: settings.timers.t2, now: loop.now)
        guard ch.called == settings.echoNumber else {
            counters.rejected += 1
            // Flow-Server routing of ordinary calls is the next step (issue #3, channels).
            let why = flowAttached() ? "no route for \(ch.called)" : "no Flow-Server attached"
            t.respond(480, "Temporarily Unavailable (\(why))", headers: [SIPHeader(name: .retryAfter, value: "30")])
            return
        }
        guard let (fd, port) = ports.bind(host: settings.mediaAddress) else {
            counters.rejected += 1
            t.respond(503, "Service Unavailable (no RTP port free)", headers: [SIPHeader(name: .retryAfter, value: "5")])
            return
        }
        let sessionID = UInt64(loop.now / 1000)
        switch OfferAnswer.answer(offer, localAddress: settings.mediaAddress, localPort: port, sessionID: sessionID) {
        case .failure(let f):
            ports.release(port)
            close(fd)
            counters.rejected += 1
            t.respond(488, "Not Acceptable Here", headers: [SIPHeader(name: .warning, value: "304 hotline \"\(f.reason)\"")])
            return
        case .success(let (answerSDP, negotiated)):
            ch.negotiated = negotiated
            ch.media = try? RTPReflector(loop: loop, fd: fd, port: port, expectedHost: negotiated.remoteAddress)
            if ch.media == nil { close(fd); ports.release(port) }
            ch.dialog = SIPDialog(uasFor: request, localTag: t.toTag, peer: t.source)
            var ok = request.makeResponse(200, "OK", toTag: t.toTag, body: answerSDP.serialized(), contentType: "application/sdp")
            ok.add(.contact, contactHeader(for: t.source))
            ok.add(.allow, CTSIPCore.allow)
            ch.answer = ok
        }
        channels[id] = ch
        if let callID = request.callID { byCallID[callID] = id }
        logger.info("channel \(id): offered \(ch.caller.isEmpty ? "-" : "…" + String(ch.caller.suffix(2))) → \(ch.called) (echo test) from \(t.source)")
        apply(ch, ch.machine.ring())
        if settings.echoRingMs > 0 {
            ch.ringTimer = loop.schedule(afterMilliseconds: settings.echoRingMs) { [weak self, weak ch] in
                guard let self, let ch else { return }
                self.apply(ch, ch.machine.answer(reliable: ch.invite.source.reliable))
            }
        } else {
            apply(ch, ch.machine.answer(reliable: t.source.reliable))
        }
    }

    func contactHeader(for peer: SIPPeer) -> String {
        let local = endpoint?.localAddress(for: peer) ?? "127.0.0.1"
        return "<sip:ct@\(local)\(peer.transport == .udp ? "" : ";transport=\(peer.transport.rawValue.lowercased())")>"
    }

    private func reInvite(_ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard let ch = channel(for: request), var dialog = ch.dialog, let port = ch.media?.port else {
            t.respond(481)
            return
        }
        guard let offer = try? SessionDescription(parsing: request.body) else {
            // An offerless re-INVITE: offer our current session again.
            t.respond(200, headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))], body: ch.answer?.body ?? [],
                      contentType: "application/sdp")
            return
        }
        switch OfferAnswer.answer(offer, localAddress: settings.mediaAddress, localPort: port, sessionID: UInt64(loop.now / 1000)) {
        case .failure:
            t.respond(488)
        case .success(let (sdp, negotiated)):
            dialog.remoteSeq = request.cseq?.number ?? dialog.remoteSeq
            ch.dialog = dialog
            let held = negotiated.direction == .sendonly || negotiated.direction == .inactive || negotiated.remoteAddress == "0.0.0.0"
            ch.negotiated = negotiated
            apply(ch, ch.machine.holdChanged(held: held))
            t.respond(200, headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))], body: sdp.serialized(),
                      contentType: "application/sdp")
        }
    }

    func channel(for request: SIPMessage) -> SIPChannel? {
        guard let callID = request.callID, let id = byCallID[callID], let ch = channels[id] else { return nil }
        if let d = ch.dialog, request.to?.tag != nil, !d.matches(request) { return nil }
        return ch
    }

    /// ACK of our 2xx.
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

    /// In-dialog requests other than INVITE, ACK and BYE (INFO, UPDATE, OPTIONS, NOTIFY, REFER).
    func inDialogRequest(_ request: SIPMessage, _ t: ServerTransactionHandle) -> Bool {
        guard request.to?.tag != nil, channel(for: request) != nil else { return false }
        t.respond(200)
        return true
    }

    func cancelled(_ t: ServerTransactionHandle) -> Bool {
        guard let callID = t.request.callID, let id = byCallID[callID], let ch = channels[id], ch.invite === t else { return false }
        counters.cancelled += 1
        apply(ch, ch.machine.cancelled())
        return true
    }

    /// Hangs a channel up from our side (Flow-Server command, shutdown).
    public func hangup(_ id: String, cause: String) {
        guard let ch = channels[id] else { return }
        apply(ch, ch.machine.hangup(cause: cause))
    }

    public func hangupAll(cause: String) {
        for id in Array(channels.keys) { hangup(id, cause: cause) }
    }

    // MARK: actions

    private func apply(_ ch: SIPChannel, _ actions: [ChannelStateMachine.Action]) {
        for a in actions {
            switch a {
            case .sendProvisional(let code):
                ch.invite.respond(code)
            case .sendAnswer, .retransmitAnswer:
                if let ok = ch.answer { ch.invite.respond(ok) }
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
                ch.invite.respond(code)
            case .sendBye:
                if ch.machine.cause == "no ACK for 200 OK" { counters.noACK += 1 }
                sendBye(ch)
            case .releaseMedia:
                if let t = ch.ringTimer { loop.cancel(t) }
                if let m = ch.media {
                    ch.rtpPacketsIn = m.packetsIn
                    m.close()
                    ports.release(m.port)
                    ch.media = nil
                }
            case .report(let state):
                logger.debug("channel \(ch.id): \(state.rawValue)")
                if state == .gone { remove(ch) }
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
        channels.removeValue(forKey: ch.id)
        if let callID = ch.invite.request.callID, byCallID[callID] == ch.id { byCallID.removeValue(forKey: callID) }
        if ch.machine.cause == "caller hung up" || ch.machine.cause == "hung up" { counters.completed += 1 }
        logger.info("channel \(ch.id): gone (\(ch.machine.cause ?? "-"); rtp in=\(ch.rtpPacketsIn))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
