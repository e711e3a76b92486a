/// A dialog (RFC 3261 §12) as plain data: identifiers, sequence numbers, route set, target.
public struct SIPDialog: Sendable, Equatable {
    public var callID: String
    public var localTag: String
    public var remoteTag: String
    /// Our address (the To of the INVITE we answered, with our tag).
    public var localURI: String
    /// Their address (the From of that INVITE, with their tag).
    public var remoteURI: String
    /// Where in-dialog requests go (their Contact).
    public var remoteTarget: String
    /// Record-Route values, in the order our requests must carry them.
    public var routeSet: [String]
    public var localSeq: UInt32
    public var remoteSeq: UInt32
    /// The transport address we reach the peer at (symmetric, as the INVITE arrived).
    public var peer: SIPPeer

    /// The UAS side of a dialog created by answering `invite` (RFC 3261 §12.1.1).
    public init?(uasFor invite: SIPMessage, localTag: String, peer: SIPPeer) {
        guard let callID = invite.callID, let from = invite.value(.from), let fromAddr = invite.from, let remoteTag = fromAddr.tag,
              let to = invite.value(.to), let cseq = invite.cseq else { return nil }
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
        localURI = (try? SIPNameAddr(parsing: to))?.tag == nil ? "\(to);tag=\(localTag)" : to
        remoteURI = from
        remoteTarget = invite.listValues(.contact).first.flatMap { try? SIPNameAddr(parsing: $0) }?.uriText ?? fromAddr.uriText
        routeSet = invite.listValues(.recordRoute).map(String.init)
        localSeq = UInt32.random(in: 1...10_000)
        remoteSeq = cseq.number
        self.peer = peer
    }

    /// The UAC side of a dialog created by a 2xx to our INVITE (RFC 3261 §12.1.2).
    public init?(uacFor invite: SIPMessage, response: SIPMessage, peer: SIPPeer) {
        guard let callID = invite.callID, let from = invite.value(.from), let localTag = invite.from?.tag,
              let to = response.value(.to), let remoteTag = response.to?.tag, let cseq = invite.cseq else { return nil }
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
        localURI = from
        remoteURI = to
        remoteTarget = response.listValues(.contact).first.flatMap { try? SIPNameAddr(parsing: $0) }?.uriText ?? invite.requestURI ?? ""
        routeSet = response.listValues(.recordRoute).map(String.init).reversed()
        localSeq = cseq.number
        remoteSeq = 0
        self.peer = peer
    }

    /// Matches an in-dialog request from the peer: Call-ID, their tag in From, our tag in To.
    public func matches(_ request: SIPMessage) -> Bool {
        request.callID == callID && request.from?.tag == remoteTag && request.to?.tag == localTag
    }

    /// A new in-dialog request from us (RFC 3261 §12.2.1.1); the endpoint adds Via.
    /// The ACK of a 2xx to our INVITE (RFC 3261 §13.2.2.4): the INVITE's CSeq number, the route set.
    public func ack(for invite: SIPMessage) -> SIPMessage {
        var ack = SIPMessage(startLine: .request(method: "ACK", uri: remoteTarget, version: "SIP/2.0"))
        ack.add(.maxForwards, "70")
        ack.add(.from, localURI)
        ack.add(.to, remoteURI)
        ack.add(.callID, callID)
        ack.add(.cseq, "\(invite.cseq?.number ?? 1) ACK")
        for route in routeSet { ack.add(.route, route) }
        return ack
    }

    public mutating func makeRequest(_ method: String) -> SIPMessage {
        localSeq += 1
        var m = SIPMessage(startLine: .request(method: method, uri: remoteTarget, version: "SIP/2.0"))
        m.add(.maxForwards, "70")
        m.add(.from, localURI)
        m.add(.to, remoteURI)
        m.add(.callID, callID)
        m.add(.cseq, "\(localSeq) \(method)")
        for r in routeSet { m.add(.route, r) }
        return m
    }
}
