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
        var contacts: [(SIPURI, SIPPeer)] = []
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
            // A registered user: every contact it registered (RFC 3261 §10.2.1.2), rung in
            // parallel when there are several; the first to answer wins.
            // TCP: the phone's open connection (found by its address), or a new one — a binding
            // restored after a restart, or one whose connection closed, has none.
            let bindings = lookupUser?(destination) ?? []
            for b in bindings {
                var p = b.source
                if p.transport == .tcp {
                    guard let tcp = endpoint?.tcpPeer(to: p.address) else { continue }
                    p = tcp
                }
                contacts.append((b.contact.uri, p))
            }
            guard let first = contacts.first else {
                return .failure(.failed(bindings.isEmpty ? "\(destination) is not registered" : "cannot open a TCP connection to \(destination)"))
            }
            (target, peer) = first
        }
        guard let (fd, port, rtcp) = ports.bind(host: settings.mediaAddress) else { return .failure(.failed("no RTP port free")) }
        var offer = SessionDescription()
        offer.originUser = "hotline"
        offer.sessionID = UInt64(loop.now / 1000)
        offer.sessionVersion = 1
        offer.originAddress = mediaHost(for: peer)
        offer.connection = mediaHost(for: peer)
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
                          endpoint: MediaCommand.Endpoint(remote: nil, payloadType: 0, law: .ulaw, telephoneEvent: 101, verified: true), echo: false))
        counters.originated += 1
        register(ch)
        if contacts.count > 1 { sendForkedInvites(ch, to: contacts) } else { sendInvite(ch, target: target) }
        ch.ringTimer = loop.schedule(afterMilliseconds: max(1000, timeoutMs)) { [weak self, weak ch] in
            guard let self, let ch, ch.state == .offered || ch.state == .ringing else { return }
            ch.clearCause = .noAnswer
            self.cancelOutbound(ch, cause: "no answer")
        }
        logger.info("channel \(id): originating to \(destination) via \(contacts.count > 1 ? contacts.map { "\($0.1)" }.joined(separator: ", ") : "\(peer)")")
        return .success(ch)
    }

    /// Sends (or re-sends, after a redirect) the channel's INVITE to `target` at `ch.peer`.
    /// `authorization` (header and value) answers a trunk's challenge: the INVITE is re-sent in
    /// the same call (Call-ID, From tag) with the next CSeq.
    func sendInvite(_ ch: SIPChannel, target: SIPURI, authorization: SIPHeader? = nil) {
        guard let endpoint, let invite = buildInvite(ch, target: target, peer: ch.peer, authorization: authorization) else { return }
        ch.target = target
        // The transaction keeps the channel alive until it ends, so a 2xx that arrives after we
        // gave up can still be ACKed and ended with BYE.
        ch.sentInvite = endpoint.sendRequest(invite, to: ch.peer, onResponse: { [weak self] r in
            self?.outboundResponse(ch, r)
        }, onTimeout: { [weak self, weak ch] in
            guard let self, let ch else { return }
            self.applyUAC(ch, ch.machine.response(.failure(code: 408, cause: .recoveryOnTimerExpiry, text: "no response")), nil)
        })
        if let c = ch.sentInvite?.callID { byCallID[c] = ch.id }
    }

    /// The channel's INVITE to `target` at `peer`: a new Call-ID and From tag, or — answering a
    /// trunk's challenge — the previous INVITE's Call-ID and From with the next CSeq.
    func buildInvite(_ ch: SIPChannel, target: SIPURI, peer: SIPPeer, authorization: SIPHeader?) -> SIPMessage? {
        guard let endpoint, let offer = ch.offer else { return nil }
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
        if let authorization { invite.add([authorization]) }
        if ch.autoAnswer {
            // Intercom-style answer for agents who answered in App-Operate: RFC 5373 and the two
            // common vendor forms (phones honour them once "auto answer / intercom" is allowed;
            // one that does not simply rings, and the agent lifts the handset).
            invite.add(SIPHeaderName("Answer-Mode"), "Auto")
            invite.add(SIPHeaderName("Call-Info"), "<sip:\(local)>;answer-after=0")
            invite.add(SIPHeaderName("Alert-Info"), "<http://127.0.0.1/>;info=alert-autoanswer")
        }
        invite.add(.contact, contactHeader(for: peer))
        invite.add(.allow, CTSIPCore.allow)
        invite.add(.contentType, "application/sdp")
        invite.body = offer.serialized()
        return invite
    }

    static func uriText(_ nameAddr: String) -> String {
        if let l = nameAddr.firstIndex(of: "<"), let r = nameAddr[l...].firstIndex(of: ">") { return String(nameAddr[nameAddr.index(after: l)..<r]) }
        return String(nameAddr.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    func isLiteralAddress(_ host: String) -> Bool {
        host.hasPrefix("[") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// A response to the channel's INVITE: classified, fed to the channel's state machine, and
    /// its actions carried out. What the runner knows decides two things the machine asks:
    /// whether a challenge can be answered (trunk credentials, first attempt) and a redirect
    /// followed (a reachable Contact, fewer than 3 so far).
    func outboundResponse(_ ch: SIPChannel, _ r: SIPMessage) {
        guard let code = r.statusCode, ch.sentInvite != nil else { return }
        let response = OutboundResponse(code: code, hasBody: !r.body.isEmpty)
        var canAnswer = false, canFollow = false
        switch response {
        case .challenge(let c): canAnswer = ch.authAttempts == 0 && challengeAnswer(ch, r, code: c) != nil
        case .redirect: canFollow = ch.redirects < 3 && redirectTarget(r) != nil
        default: break
        }
        applyUAC(ch, ch.machine.response(response, canAnswerChallenge: canAnswer, canFollowRedirect: canFollow), r)
    }

    /// The Authorization for a trunk's 401/407, if the trunk has credentials.
    private func challengeAnswer(_ ch: SIPChannel, _ r: SIPMessage, code: Int) -> SIPHeader? {
        guard let trunk = trunks?.trunk(named: ch.line), let creds = trunk.credentials, let target = ch.target,
              let challenge = r.value(code == 401 ? .wwwAuthenticate : .proxyAuthenticate),
              let auth = DigestClient.authorization(challenge: challenge, method: "INVITE", uri: target.description, credentials: creds) else { return nil }
        return SIPHeader(name: code == 401 ? .authorization : .proxyAuthorization, value: auth)
    }

    /// Where a 3xx sends us: its first Contact, if it is a literal address (RFC 3261 §8.1.3.4).
    private func redirectTarget(_ r: SIPMessage) -> (SIPURI, SocketAddress)? {
        guard let contact = r.values(.contact).first, let uri = try? SIPURI(parsing: Self.uriText(contact)),
              isLiteralAddress(uri.host), let addr = try? SocketAddress(host: uri.host.trimmingCharacters(in: ["[", "]"]), port: uri.port ?? 5060) else { return nil }
        return (uri, addr)
    }

    /// Carries out a UAC leg's actions (`response`: the message that caused them, if any).
    func applyUAC(_ ch: SIPChannel, _ actions: [ChannelStateMachine.Action], _ response: SIPMessage?) {
        for action in actions {
            switch action {
            case .sendAck:
                guard let r = response, let invite = ch.sentInvite,
                      var dialog = ch.dialog ?? SIPDialog(uacFor: invite, response: r, peer: ch.peer) else { continue }
                endpoint?.sendStateless(dialog.ack(for: invite), to: ch.peer)
                if ch.dialog == nil {
                    dialog.remoteSeq = 0
                    ch.dialog = dialog
                }
            case .applyRemoteSDP:
                if let r = response, !r.body.isEmpty { applyRemoteSDP(ch, r) }
            case .reportDelivered(let code):
                report?(ch, .delivered, code, "")
            case .reportEstablished(let code):
                if let t = ch.ringTimer { loop.cancel(t) }
                counters.answered += 1
                report?(ch, .established, code, "")
                if ch.referral != nil { referralAnswered(ch) }
            case .answerChallenge:
                guard let r = response, let code = r.statusCode, let auth = challengeAnswer(ch, r, code: code), let target = ch.target else { continue }
                ch.authAttempts += 1
                sendInvite(ch, target: target, authorization: auth)
            case .followRedirect(let code):
                guard let r = response, let (uri, addr) = redirectTarget(r) else { continue }
                ch.redirects += 1
                logger.info("channel \(ch.id): \(code) redirect to \(uri)")
                if let c = ch.sentInvite?.callID, byCallID[c] == ch.id { byCallID.removeValue(forKey: c) }
                ch.peer = SIPPeer(transport: .udp, address: addr)
                sendInvite(ch, target: uri)
            case .sendCancel:
                sendCancel(ch)
            case .reportFailed(let code, let cause, let text):
                ch.clearCause = ch.clearCause ?? cause
                outboundEnded(ch, kind: .failed, code: code, cause: text)
            default:
                apply(ch, [action])
            }
        }
    }

    /// Gives up on a UAC leg that has not been answered (CANCEL; a late 2xx is ACKed and BYE'd).
    func cancelOutbound(_ ch: SIPChannel, cause: String) {
        applyUAC(ch, ch.machine.cancel(cause: cause, code: ch.clearCause ?? .normalClearing), nil)
    }

    func sendCancel(_ ch: SIPChannel) {
        if !ch.forks.isEmpty {
            for i in ch.forks.indices where !ch.forks[i].done && ch.forkWinner != i { sendCancel(invite: ch.forks[i].invite, to: ch.forks[i].peer) }
            return
        }
        guard let invite = ch.sentInvite else { return }
        sendCancel(invite: invite, to: ch.peer)
    }

    func sendCancel(invite: SIPMessage, to peer: SIPPeer) {
        guard let branch = invite.topVia?.branch, let endpoint else { return }
        var cancel = SIPMessage(startLine: .request(method: "CANCEL", uri: invite.requestURI ?? "", version: "SIP/2.0"))
        cancel.add(.maxForwards, "70")
        if let f = invite.value(.from) { cancel.add(.from, f) }
        if let t = invite.value(.to) { cancel.add(.to, t) }
        if let c = invite.callID { cancel.add(.callID, c) }
        cancel.add(.cseq, "\(invite.cseq?.number ?? 1) CANCEL")
        var stripped = cancel
        stripped.remove(.via)
        endpoint.sendRequest(stripped, to: peer, branch: branch, onResponse: { _ in }, onTimeout: {})
        // The 487 (or a late 2xx, which is ACKed and BYE'd) arrives through the INVITE transaction.
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
