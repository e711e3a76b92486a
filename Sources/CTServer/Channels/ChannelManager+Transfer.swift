import Foundation
import Logging
import Protocol

/// In-dialog session changes from a phone: UPDATE (RFC 3311), early media, and the phone's own
/// blind transfer (REFER, RFC 3515) of a bridged call.
extension ChannelManager {
    /// The far end's SDP in a 18x or 2xx to our INVITE: where to send media, which codec.
    func applyRemoteSDP(_ ch: SIPChannel, _ r: SIPMessage) {
        guard let body = try? SessionDescription(parsing: r.body), let m = body.media.first(where: { $0.type == "audio" && $0.port != 0 }),
              let (codec, pt) = OfferAnswer.pickCodec(m) else { return }
        let n = NegotiatedAudio(codec: codec, payloadType: pt, telephoneEvent: OfferAnswer.telephoneEvent(m), remoteAddress: body.address(of: m) ?? "",
                                remotePort: m.port, direction: m.direction, ptime: m.ptime ?? 20)
        guard n != ch.negotiated else { return }
        ch.negotiated = n
        media.submit(.update(id: ch.id, endpoint: Self.endpoint(n)))
    }

    /// UPDATE inside a dialog: a new offer (hold, resume, a new address) answered like a re-INVITE.
    func update(_ ch: SIPChannel, _ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard !request.body.isEmpty else { t.respond(200); return }
        guard let port = ch.mediaPort, let offer = try? SessionDescription(parsing: request.body) else {
            t.respond(488, "Not Acceptable Here (unreadable SDP)")
            return
        }
        switch renegotiate(ch, offer: offer, port: port) {
        case .failure(let f):
            t.respond(488, "Not Acceptable Here (\(f.reason))")
        case .success(let sdp):
            t.respond(200, headers: [SIPHeader(name: .contact, value: contactHeader(for: t.source))], body: sdp.serialized(), contentType: "application/sdp")
        }
    }

    /// A new offer inside the dialog (re-INVITE or UPDATE): answer it, move the media, and
    /// report hold or resume. Returns our SDP answer.
    func renegotiate(_ ch: SIPChannel, offer: SessionDescription, port: Int) -> Result<SessionDescription, OfferAnswer.Failure> {
        OfferAnswer.answer(offer, localAddress: settings.mediaAddress, localPort: port, sessionID: UInt64(loop.now / 1000)).map { sdp, negotiated in
            let held = negotiated.direction == .sendonly || negotiated.direction == .inactive || negotiated.remoteAddress == "0.0.0.0"
            ch.negotiated = negotiated
            media.submit(.update(id: ch.id, endpoint: Self.endpoint(negotiated)))
            apply(ch, ch.machine.holdChanged(held: held))
            return sdp
        }
    }

    /// The other party of a two-party bridge.
    func bridgePartner(of ch: SIPChannel) -> SIPChannel? {
        guard let mix = ch.mixID, mix.hasPrefix("bridge-") else { return nil }
        return activeChannelList.first { $0 !== ch && $0.mixID == mix && !$0.monitoring }
    }

    /// A phone blind-transfers its bridged call: REFER → 202, NOTIFY 100 Trying; the CT-Server
    /// dials the Refer-To target; when it answers, the other party is bridged to it, the phone
    /// gets NOTIFY 200 and is released with BYE. If the target fails, the phone gets NOTIFY with
    /// the failure and keeps its call.
    func phoneRefer(_ ch: SIPChannel, _ request: SIPMessage, _ t: ServerTransactionHandle) {
        guard let referTo = request.value(.referTo) else { t.respond(400, "Bad Request (no Refer-To)"); return }
        guard let partner = bridgePartner(of: ch) else {
            t.respond(603, "Decline (only a bridged call can be transferred from the phone)")
            return
        }
        let uriText = Self.uriText(referTo)
        // Refer-To with embedded headers (Replaces: attended transfer) is not supported.
        guard !uriText.contains("?"), let uri = try? SIPURI(parsing: uriText) else {
            t.respond(501, "Not Implemented (attended transfer with Replaces)")
            return
        }
        let destination = isLiteralAddress(uri.host) ? uriText : (uri.user ?? "")
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

    func referralAnswered(_ target: SIPChannel) {
        guard let (referrerID, transfereeID) = target.referral else { return }
        target.referral = nil
        guard let transferee = channel(id: transfereeID) else {
            hangup(target.id, cause: "transferred party left")
            return
        }
        _ = bridge(transferee.id, target.id)
        if let referrer = channel(id: referrerID) {
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
