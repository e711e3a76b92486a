/// RFC 3261 §17 timers (Table 4) and RFC 6026's L and M.
///
/// | timer | value | meaning |
/// |---|---|---|
/// | T1 | 500 ms | RTT estimate |
/// | T2 | 4 s | maximum retransmit interval for non-INVITE requests and INVITE responses |
/// | T4 | 5 s | maximum duration a message remains in the network |
/// | A | initially T1 | INVITE request retransmit interval, UDP only |
/// | B | 64·T1 | INVITE transaction timeout |
/// | D | > 32 s UDP, 0 reliable | wait time for response retransmits |
/// | E | initially T1 | non-INVITE request retransmit interval, UDP only |
/// | F | 64·T1 | non-INVITE transaction timeout |
/// | G | initially T1 | INVITE response retransmit interval |
/// | H | 64·T1 | wait time for ACK receipt |
/// | I | T4 UDP, 0 reliable | wait time for ACK retransmits |
/// | J | 64·T1 UDP, 0 reliable | wait time for non-INVITE request retransmits |
/// | K | T4 UDP, 0 reliable | wait time for response retransmits |
/// | L | 64·T1 | wait time for accepted INVITE request retransmits (RFC 6026) |
/// | M | 64·T1 | wait time for retransmission of 2xx to INVITE (RFC 6026) |
public enum TransactionTimer: String, Hashable, Sendable, CaseIterable {
    case A, B, D, E, F, G, H, I, J, K, L, M
}

public struct SIPTimerValues: Sendable, Equatable {
    public var t1: Int = 500
    public var t2: Int = 4000
    public var t4: Int = 5000

    public init(t1: Int = 500, t2: Int = 4000, t4: Int = 5000) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }
}

/// What a transaction asks its driver to do.
public enum TransactionAction: Equatable, Sendable {
    /// Send (or re-send) this message to the transaction's peer.
    case send(SIPMessage)
    /// Hand this message to the transaction user (the core / dialog layer).
    case passToTU(SIPMessage)
    case startTimer(TransactionTimer, ms: Int)
    case cancelTimer(TransactionTimer)
    /// Tell the TU the transaction timed out (B, F, H).
    case timeout(TransactionTimer)
    /// Remove the transaction from the table.
    case terminate
}
