/// SDP offer/answer for the CT-Server's audio (RFC 3264): G.711 µ-law and A-law, with RFC 4733
/// telephone-event. Other media streams are refused with port 0 in the answer.
public struct NegotiatedAudio: Equatable, Sendable {
    public enum Codec: String, Sendable { case pcmu = "PCMU", pcma = "PCMA" }
    public var codec: Codec
    public var payloadType: Int
    public var telephoneEvent: Int?
    public var remoteAddress: String
    public var remotePort: Int
    public var direction: SessionDescription.Direction
    public var ptime: Int
}

public enum OfferAnswer {
    public struct Failure: Error, Equatable { public let reason: String }

    /// Answers `offer` with our media at `localAddress`:`localPort`. Codec choice follows the
    /// offerer's preference order among PCMU and PCMA.
    public static func answer(_ offer: SessionDescription, localAddress: String, localPort: Int, sessionID: UInt64)
        -> Result<(SessionDescription, NegotiatedAudio), Failure> {
        var answer = SessionDescription()
        answer.originUser = "hotline"
        answer.sessionID = sessionID
        answer.sessionVersion = 1
        answer.originAddress = localAddress
        answer.connection = localAddress
        var chosen: NegotiatedAudio?
        for m in offer.media {
            var reply = SessionDescription.Media(type: m.type, port: 0, proto: m.proto, formats: m.formats)
            if chosen == nil, m.type == "audio", m.proto == "RTP/AVP", m.port != 0, let addr = offer.address(of: m),
               let (codec, pt) = pickCodec(m) {
                let te = telephoneEvent(m)
                reply.port = localPort
                reply.formats = [String(pt)] + (te.map { [String($0)] } ?? [])
                reply.rtpmap[pt] = "\(codec.rawValue)/8000"
                if let te {
                    reply.rtpmap[te] = "telephone-event/8000"
                    reply.fmtp[te] = "0-16"
                }
                reply.ptime = 20
                reply.direction = m.direction.answer
                chosen = NegotiatedAudio(codec: codec, payloadType: pt, telephoneEvent: te, remoteAddress: addr, remotePort: m.port,
                                         direction: m.direction, ptime: m.ptime ?? 20)
            }
            answer.media.append(reply)
        }
        guard let chosen else { return .failure(Failure(reason: "no acceptable audio stream (PCMU or PCMA over RTP/AVP)")) }
        return .success((answer, chosen))
    }

    /// The payload type of RFC 4733 telephone-event at 8 kHz in a media line, if offered.
    static func telephoneEvent(_ m: SessionDescription.Media) -> Int? {
        m.formats.compactMap(Int.init).first { (m.rtpmap[$0] ?? "").lowercased().hasPrefix("telephone-event/8000") }
    }

    static func pickCodec(_ m: SessionDescription.Media) -> (NegotiatedAudio.Codec, Int)? {
        for f in m.formats {
            guard let pt = Int(f) else { continue }
            let name = (m.rtpmap[pt] ?? (pt == 0 ? "PCMU/8000" : pt == 8 ? "PCMA/8000" : "")).uppercased()
            if name.hasPrefix("PCMU/8000") { return (.pcmu, pt) }
            if name.hasPrefix("PCMA/8000") { return (.pcma, pt) }
        }
        return nil
    }
}
