/// A server transaction (RFC 3261 §17.2, with RFC 6026's Accepted state), as a value type:
/// events in, actions out. The driver sends, runs timers and talks to the TU.
public struct ServerTransaction: Sendable {
    public enum Kind: Sendable { case invite, nonInvite }

    public enum State: String, Sendable {
        case trying        // non-INVITE only: nothing sent yet
        case proceeding    // a provisional response was sent
        case completed     // a final (non-2xx for INVITE) response was sent
        case confirmed     // INVITE: the ACK arrived
        case accepted      // INVITE: a 2xx was sent (RFC 6026)
        case terminated
    }

    public let kind: Kind
    public let reliable: Bool
    public let timers: SIPTimerValues
    public private(set) var state: State
    public private(set) var lastResponse: SIPMessage?
    private var gInterval: Int

    public init(request: SIPMessage, reliable: Bool, timers: SIPTimerValues = SIPTimerValues()) {
        kind = request.method == "INVITE" ? .invite : .nonInvite
        self.reliable = reliable
        self.timers = timers
        state = kind == .invite ? .proceeding : .trying
        gInterval = timers.t1
    }

    /// A retransmission of the request (same branch) arrived.
    public mutating func requestRetransmitted() -> [TransactionAction] {
        switch state {
        case .proceeding, .completed:
            return lastResponse.map { [.send($0)] } ?? []
        case .trying, .confirmed, .accepted, .terminated:
            return []
        }
    }

    /// The ACK for a non-2xx final response (INVITE only).
    public mutating func ackReceived() -> [TransactionAction] {
        guard kind == .invite else { return [] }
        switch state {
        case .completed:
            state = .confirmed
            if reliable {
                state = .terminated
                return [.cancelTimer(.G), .cancelTimer(.H), .terminate]
            }
            return [.cancelTimer(.G), .cancelTimer(.H), .startTimer(.I, ms: timers.t4)]
        case .accepted:
            // ACK for a 2xx belongs to the dialog.
            return []
        case .trying, .proceeding, .confirmed, .terminated:
            return []
        }
    }

    /// The TU answers.
    public mutating func respond(_ response: SIPMessage) -> [TransactionAction] {
        guard let code = response.statusCode else { preconditionFailure("Invalid state: respond() with a request") }
        switch state {
        case .trying, .proceeding:
            lastResponse = response
            if code < 200 {
                state = .proceeding
                return [.send(response)]
            }
            if kind == .invite && code < 300 {
                state = .accepted
                return [.send(response), .startTimer(.L, ms: 64 * timers.t1)]
            }
            state = .completed
            if kind == .invite {
                var a: [TransactionAction] = [.send(response), .startTimer(.H, ms: 64 * timers.t1)]
                if !reliable { a.append(.startTimer(.G, ms: gInterval)) }
                return a
            }
            if reliable {
                state = .terminated
                return [.send(response), .terminate]
            }
            return [.send(response), .startTimer(.J, ms: 64 * timers.t1)]
        case .accepted:
            // Retransmissions of the 2xx by the TU pass straight through (RFC 6026 §8.5).
            if code >= 200 && code < 300 { return [.send(response)] }
            return []
        case .completed, .confirmed, .terminated:
            return []
        }
    }

    public mutating func timerFired(_ t: TransactionTimer) -> [TransactionAction] {
        switch (t, state) {
        case (.G, .completed):
            gInterval = min(2 * gInterval, timers.t2)
            return (lastResponse.map { [TransactionAction.send($0)] } ?? []) + [.startTimer(.G, ms: gInterval)]
        case (.H, .completed):
            state = .terminated
            return [.cancelTimer(.G), .timeout(.H), .terminate]
        case (.I, .confirmed), (.J, .completed), (.L, .accepted):
            state = .terminated
            return [.terminate]
        default:
            return []
        }
    }

    /// The transport failed to deliver a response (RFC 3261 §17.2.4).
    public mutating func transportError() -> [TransactionAction] {
        state = .terminated
        return [.timeout(.H), .terminate]
    }
}

/// Matching key of a server transaction (RFC 3261 §17.2.3): branch, sent-by and method, with
/// ACK matched to its INVITE. Requests without an RFC 3261 branch (RFC 2543 peers) fall back to
/// Call-ID, From tag, CSeq number and top Via.
public struct ServerTransactionKey: Hashable, Sendable, CustomStringConvertible {
    public let branch: String
    public let sentBy: String
    public let method: String

    init(branch: String, sentBy: String, method: String) {
        self.branch = branch
        self.sentBy = sentBy
        self.method = method
    }

    public init?(_ request: SIPMessage) {
        guard let via = request.topVia, let m = request.method else { return nil }
        let method = m == "ACK" ? "INVITE" : m
        sentBy = "\(via.host.lowercased()):\(via.port ?? 5060)"
        self.method = method
        if let b = via.branch, b.hasPrefix("z9hG4bK"), b.count > 7 {
            branch = b
        } else {
            // RFC 2543 fallback: not exact for ACK to 2xx, which the dialog layer handles.
            branch = "2543|\(request.callID ?? "")|\(request.from?.tag ?? "")|\(request.cseq?.number ?? 0)|\(request.value(.via) ?? "")"
        }
    }

    public var description: String { "\(method) \(branch) \(sentBy)" }
}
