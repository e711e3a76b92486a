import Protocol

/// Requests the CT-Server sends outside any dialog.
extension SIPEndpoint {
    /// An out-of-dialog OPTIONS to `target` from us as `peer` sees us (trunk and NAT keep-alives).
    public func optionsRequest(to target: String, peer: SIPPeer) -> SIPMessage {
        var m = SIPMessage(startLine: .request(method: "OPTIONS", uri: target, version: "SIP/2.0"))
        m.add(.maxForwards, "70")
        m.add(.from, "<sip:hotline@\(localAddress(for: peer))>;tag=\(Self.randomToken(8))")
        m.add(.to, "<\(target)>")
        m.add(.callID, "\(Self.randomToken(16))@hotline")
        m.add(.cseq, "1 OPTIONS")
        m.add(.contentLength, "0")
        return m
    }
}
