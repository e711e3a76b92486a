import Foundation
import Logging
import Protocol

/// In-dialog session changes: UPDATE (RFC 3311), early media, bridge partners.
extension ChannelManager {
    /// The far end's SDP in a 18x or 2xx to our INVITE: where to send media, which codec.
    func applyRemoteSDP(_ ch: SIPChannel, _ r: SIPMessage) {
        guard let body = try? SessionDescription(parsing: r.body), let m = body.media.first(where: { $0.type == "audio" && $0.port != 0 }),
              let (codec, pt) = OfferAnswer.pickCodec(m) else { return }
        let n = NegotiatedAudio(codec: codec, payloadType: pt, telephoneEvent: OfferAnswer.telephoneEvent(m), remoteAddress: body.address(of: m) ?? "",
                                remotePort: m.port, direction: m.direction, ptime: m.ptime ?? 20)
        guard n != ch.negotiated else { return }
        ch.negotiated = n
        media.submit(.update(id: ch.id, endpoint: mediaEndpoint(n, for: ch)))
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
        OfferAnswer.answer(offer, localAddress: mediaHost(for: ch.peer), localPort: port, sessionID: UInt64(loop.now / 1000)).map { sdp, negotiated in
            let held = negotiated.direction == .sendonly || negotiated.direction == .inactive || negotiated.remoteAddress == "0.0.0.0"
            ch.negotiated = negotiated
            media.submit(.update(id: ch.id, endpoint: mediaEndpoint(negotiated, for: ch)))
            apply(ch, ch.machine.holdChanged(held: held))
            return sdp
        }
    }

    /// The other party of a two-party bridge.
    func bridgePartner(of ch: SIPChannel) -> SIPChannel? {
        guard let mix = ch.mixID, mix.hasPrefix("bridge-") else { return nil }
        return activeChannelList.first { $0 !== ch && $0.mixID == mix && !$0.monitoring }
    }
}
