/// A client transaction (RFC 3261 §17.1, with RFC 6026's Accepted state), as a value type.
public struct ClientTransaction: Sendable {
    public enum Kind: Sendable { case invite, nonInvite }

    public enum State: String, Sendable {
        case calling       // INVITE sent, nothing back
        case trying        // non-INVITE sent, nothing back
        case proceeding    // a provisional response arrived
        case completed     // a final (non-2xx for INVITE) response arrived
        case accepted      // INVITE: a 2xx arrived (RFC 6026); more 2xx go to the TU
        case terminated
    }

    public let kind: Kind
    public let reliable: Bool
    public let timers: SIPTimerValues
    public let request: SIPMessage
    public private(set) var state: State
    private var retransmitInterval: Int

    public init(request: SIPMessage, reliable: Bool, timers: SIPTimerValues = SIPTimerValues()) {
        self.request = request
        kind = request.method == "INVITE" ? .invite : .nonInvite
        self.reliable = reliable
        self.timers = timers
        state = kind == .invite ? .calling : .trying
        retransmitInterval = timers.t1
    }

    /// Sends the request and arms the timers.
    public func start() -> [TransactionAction] {
        switch kind {
        case .invite:
            var a: [TransactionAction] = [.send(request), .startTimer(.B, ms: 64 * timers.t1)]
            if !reliable { a.append(.startTimer(.A, ms: timers.t1)) }
            return a
        case .nonInvite:
            var a: [TransactionAction] = [.send(request), .startTimer(.F, ms: 64 * timers.t1)]
            if !reliable { a.append(.startTimer(.E, ms: timers.t1)) }
            return a
        }
    }

    public mutating func responseReceived(_ r: SIPMessage) -> [TransactionAction] {
        guard let code = r.statusCode else { return [] }
        switch (kind, state) {
        case (.invite, .calling), (.invite, .proceeding):
            if code < 200 {
                state = .proceeding
                return [.cancelTimer(.A), .passToTU(r)]
            }
            if code < 300 {
                state = .accepted
                return [.cancelTimer(.A), .cancelTimer(.B), .startTimer(.M, ms: 64 * timers.t1), .passToTU(r)]
            }
            state = .completed
            var a: [TransactionAction] = [.cancelTimer(.A), .cancelTimer(.B), .send(ack(for: r)), .passToTU(r)]
            if reliable {
                state = .terminated
                a.append(.terminate)
            } else {
                a.append(.startTimer(.D, ms: 32_000))
            }
            return a
        case (.invite, .completed):
            // A retransmitted final response: ACK again, do not tell the TU twice.
            return code >= 300 ? [.send(ack(for: r))] : []
        case (.invite, .accepted):
            return code >= 200 && code < 300 ? [.passToTU(r)] : []
        case (.nonInvite, .trying), (.nonInvite, .proceeding):
            if code < 200 {
                state = .proceeding
                return [.passToTU(r)]
            }
            state = .completed
            var a: [TransactionAction] = [.cancelTimer(.E), .cancelTimer(.F), .passToTU(r)]
            if reliable {
                state = .terminated
                a.append(.terminate)
            } else {
                a.append(.startTimer(.K, ms: timers.t4))
            }
            return a
        default:
            return []
        }
    }

    public mutating func timerFired(_ t: TransactionTimer) -> [TransactionAction] {
        switch (t, state) {
        case (.A, .calling):
            retransmitInterval *= 2
            return [.send(request), .startTimer(.A, ms: retransmitInterval)]
        case (.B, .calling), (.B, .proceeding):
            state = .terminated
            return [.cancelTimer(.A), .timeout(.B), .terminate]
        case (.E, .trying), (.E, .proceeding):
            retransmitInterval = state == .proceeding ? timers.t2 : min(2 * retransmitInterval, timers.t2)
            return [.send(request), .startTimer(.E, ms: retransmitInterval)]
        case (.F, .trying), (.F, .proceeding):
            state = .terminated
            return [.cancelTimer(.E), .timeout(.F), .terminate]
        case (.D, .completed), (.K, .completed), (.M, .accepted):
            state = .terminated
            return [.terminate]
        default:
            return []
        }
    }

    public mutating func transportError() -> [TransactionAction] {
        state = .terminated
        return [.timeout(kind == .invite ? .B : .F), .terminate]
    }

    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI, top Via,
    /// Call-ID, From and Route as the INVITE; To from the response; CSeq number with ACK.
    func ack(for response: SIPMessage) -> SIPMessage {
        var ack = SIPMessage(startLine: .request(method: "ACK", uri: request.requestURI ?? "", version: "SIP/2.0"))
        if let v = request.value(.via) { ack.add(.via, String(splitHeaderList(Substring(v)).first ?? Substring(v))) }
        ack.add(.maxForwards, "70")
        if let f = request.value(.from) { ack.add(.from, f) }
        if let t = response.value(.to) { ack.add(.to, t) }
        if let c = request.value(.callID) { ack.add(.callID, c) }
        ack.add(.cseq, "\(request.cseq?.number ?? 1) ACK")
        for r in request.values(.route) { ack.add(.route, r) }
        return ack
    }
}

/// Matching key of a client transaction (RFC 3261 §17.1.3): our branch and the CSeq method.
public struct ClientTransactionKey: Hashable, Sendable {
    public let branch: String
    public let method: String

    public init(branch: String, method: String) {
        self.branch = branch
        self.method = method
    }

    public init?(response: SIPMessage) {
        guard let b = response.topVia?.branch, let m = response.cseq?.method else { return nil }
        branch = b
        method = m
    }
}
