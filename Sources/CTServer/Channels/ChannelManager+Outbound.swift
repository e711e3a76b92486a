import Foundation
import Logging
import Protocol

/// Calls the CT-Server places (UAC legs): dialling, the INVITE and its challenge, responses, cancel.
extension ChannelManager {
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

    func outboundResponse(_ ch: SIPChannel, _ r: SIPMessage) {
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

    func cancelOutbound(_ ch: SIPChannel, cause: String) {
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

    func outboundEnded(_ ch: SIPChannel, kind: ChannelEvent.Kind, code: Int, cause: String) {
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
}
