import Foundation
import Logging
import Protocol

/// REFER (RFC 3515) in both directions, in one place: the transfers a Flow-Server asks for
/// (we REFER the far end; its NOTIFY sipfrag tells the outcome) and the phone's own blind
/// transfer of a bridged call (it REFERs us; we dial the target, bridge the other party to it,
/// and NOTIFY the phone).
extension ChannelManager {
    // MARK: we REFER the far end (TransferChannel)

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

    func referProgress(_ ch: SIPChannel, _ notify: SIPMessage) {
        guard ch.transferTarget != nil, (notify.value(.event) ?? "").lowercased().hasPrefix("refer") else { return }
        let frag = String(decoding: notify.body, as: UTF8.self).split(separator: " ")
        guard frag.count >= 2, frag[0].hasPrefix("SIP/2.0"), let code = Int(frag[1]) else { return }
        if code >= 200 { transferDone(ch, ok: code < 300, code: code, cause: code < 300 ? "transferred to \(ch.transferTarget ?? "")" : "transfer target answered \(code)") }
    }

    func transferDone(_ ch: SIPChannel, ok: Bool, code: Int, cause: String) {
        guard ch.transferTarget != nil else { return }
        ch.transferTarget = nil
        if let t = ch.transferTimer { loop.cancel(t) }
        report?(ch, ok ? .transferred : .transferFailed, code, cause)
        if ok { apply(ch, ch.machine.hangup(cause: cause)) }
    }

    // MARK: the phone REFERs us

    /// A phone blind-transfers its bridged call: REFER → 202, NOTIFY 100 Trying; the CT-Server
    /// dials the Refer-To target; when it answers, the other party is bridged to it, the phone
    /// gets NOTIFY 200 and is released with BYE. If the target fails, the phone gets NOTIFY with
    /// the failure and keeps its call.
    func phoneRefer(_ ch: SIPChannel, _ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard let referTo = request.value(.referTo) else { t.respond(400, "Bad Request (no Refer-To)"); return }
        // The other party: bridged to the phone now, or held by it (unbridged, hearing music).
        let held = ch.lastBridgePartner.flatMap { channel(id: $0) }.flatMap { $0.mixID == nil && !$0.monitoring ? $0 : nil }
        guard let partner = bridgePartner(of: ch) ?? held else {
            t.respond(603, "Decline (only a bridged call can be transferred from the phone)")
            return
        }
        let fullText = Self.uriText(referTo)
        let (uriText, embedded) = Self.splitEmbeddedHeaders(fullText)
        if let replaces = embedded["replaces"] {
            attendedTransfer(ch, partner: partner, replaces: replaces, request: request, t)
            return
        }
        guard embedded.isEmpty, let uri = try? SIPURI(parsing: uriText) else {
            t.respond(400, "Bad Request (unusable Refer-To)")
            return
        }
        // A user in our domain (`sip:1002@<any of our addresses or a name>`) is the registered
        // user; a literal address that is not a registered user's is dialled as it is.
        let user = uri.user ?? ""
        let registered = !user.isEmpty && !(lookupUser?(user) ?? []).isEmpty
        let destination = registered || !isLiteralAddress(uri.host) ? user : uriText
        guard !destination.isEmpty, ch.transferTarget == nil else { t.respond(400, "Bad Request (unusable Refer-To)"); return }
        t.respond(202, "Accepted", headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))])
        ch.transferTarget = destination
        sendNotify(ch, code: 100, reason: "Trying", final: false)
        switch originate(destination: destination, callerID: partner.caller, timeoutMs: 30_000, owner: partner.owner) {
        case .success(let target):
            target.referral = (ch.id, partner.id)
            logger.info("channel \(ch.id): phone transfers \(partner.id) to \(destination) (new leg \(target.id))")
        case .failure(let e):
            ch.transferTarget = nil
            sendNotify(ch, code: 503, reason: "Service Unavailable", final: true)
            logger.notice("channel \(ch.id): phone transfer to \(destination) failed: \(e)")
        }
    }

    /// `sip:1003@host?Replaces=…&X=y` → the URI and its embedded headers (names lowercased,
    /// values %-decoded; RFC 3261 §19.1.1).
    static func splitEmbeddedHeaders(_ text: String) -> (String, [String: String]) {
        guard let q = text.firstIndex(of: "?") else { return (text, [:]) }
        var headers: [String: String] = [:]
        for pair in text[text.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            headers[kv[0].lowercased()] = String(kv[1]).removingPercentEncoding ?? String(kv[1])
        }
        return (String(text[..<q]), headers)
    }

    /// Attended transfer (RFC 5589 §7, Replaces of RFC 3891): the phone talks to the other
    /// party on this channel (`ch`, held or bridged) and, on a second call of its own, to the
    /// target; its REFER names that second dialog. The other party is bridged to the target's
    /// channel, both of the phone's channels are released, and the owners are told: this
    /// channel's Transferred names the target's channel; the replaced channel's Transferred says
    /// `replaced`. The target's channel passes to this channel's owner, who now holds the call.
    private func attendedTransfer(_ ch: SIPChannel, partner: SIPChannel, replaces: String, request: SIPMessage, _ t: ServerTransactionHandle) {
        let parts = replaces.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let callID = parts.first, !callID.isEmpty else { t.respond(400, "Bad Request (Replaces without a Call-ID)"); return }
        func tag(_ name: String) -> String? { parts.dropFirst().first { $0.lowercased().hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) } }
        guard let replacedID = byCallID[callID], let replaced = channels[replacedID], replaced !== ch, let d = replaced.dialog,
              Set([tag("to-tag"), tag("from-tag")].compactMap { $0 }) == Set([d.localTag, d.remoteTag]) else {
            // No such dialog (RFC 3891 §3: 481), so the phone keeps both calls.
            t.respond(481, "Call/Transaction Does Not Exist (the dialog Replaces names)")
            return
        }
        guard replaced.peer.address.host == ch.peer.address.host, let target = bridgePartner(of: replaced), target !== partner,
              replaced.state == .connected || replaced.state == .held else {
            t.respond(603, "Decline (the replaced call must be the same phone's, connected to someone)")
            return
        }
        t.respond(202, "Accepted", headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))])
        sendNotify(ch, code: 100, reason: "Trying", final: false)
        _ = bridge(partner.id, target.id)
        // The call is the referrer's owner's now; the replaced channel's owner lets go.
        target.owner = ch.owner
        let destination = target.purpose == .outbound ? target.called : target.caller
        replaced.transferredTo = (partner.id, destination)
        replaced.replacedBy = ch.id
        report?(replaced, .transferred, 200, "replaced: \(partner.caller) now talks to \(destination)")
        ch.transferredTo = (target.id, destination)
        sendNotify(ch, code: 200, reason: "OK", final: true)
        report?(ch, .transferred, 200, "phone transferred \(partner.caller) to \(destination) (attended)")
        logger.info("channel \(ch.id): attended transfer — \(partner.id) now bridged to \(target.id) (replaces \(replaced.id))")
        hangup(replaced.id, cause: "replaced by an attended transfer")
        hangup(ch.id, cause: "transferred by the phone")
    }

    func referralAnswered(_ target: SIPChannel) {
        guard let (referrerID, transfereeID) = target.referral else { return }
        target.referral = nil
        guard let transferee = channel(id: transfereeID) else {
            hangup(target.id, cause: "transferred party left")
            return
        }
        _ = bridge(transferee.id, target.id)
        if let referrer = channel(id: referrerID) {
            referrer.transferredTo = (target.id, referrer.transferTarget ?? target.called)
            referrer.transferTarget = nil
            sendNotify(referrer, code: 200, reason: "OK", final: true)
            report?(referrer, .transferred, 200, "phone transferred \(transferee.caller) to \(target.called)")
            hangup(referrer.id, cause: "transferred by the phone")
        }
    }

    func referralFailed(_ target: SIPChannel, code: Int, reason: String) {
        guard let (referrerID, _) = target.referral else { return }
        target.referral = nil
        guard let referrer = channel(id: referrerID) else { return }
        referrer.transferTarget = nil
        sendNotify(referrer, code: code >= 300 ? code : 503, reason: reason, final: true)
        report?(referrer, .transferFailed, code, "phone transfer failed: \(reason)")
    }

    /// NOTIFY of the REFER's progress (message/sipfrag).
    func sendNotify(_ ch: SIPChannel, code: Int, reason: String, final: Bool) {
        guard var d = ch.dialog, let endpoint else { return }
        var n = d.makeRequest("NOTIFY")
        n.add(.event, "refer")
        n.add(.subscriptionState, final ? "terminated;reason=noresource" : "active;expires=60")
        n.add(.contact, contactHeader(for: d.peer))
        n.add(.contentType, "message/sipfrag;version=2.0")
        n.body = Array("SIP/2.0 \(code) \(reason)\r\n".utf8)
        ch.dialog = d
        endpoint.sendRequest(n, to: d.peer, onResponse: { _ in }, onTimeout: {})
    }
}
