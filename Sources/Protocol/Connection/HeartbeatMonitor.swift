/// Heartbeat bookkeeping for one link, as a value type (docs/protocol.md §8).
///
/// Each side sends a heartbeat once per interval. `tick` runs every quarter interval; a peer
/// from which nothing has arrived for `3 × interval − tick` is declared dead, so death is
/// always noticed within three intervals of the last frame received.
public struct HeartbeatMonitor: Sendable {
    public enum Action: Equatable {
        case none
        case sendHeartbeat
        case declareDead(silentForMs: UInt64)
    }

    public let intervalNs: UInt64
    private var lastReceived: UInt64
    private var lastSent: UInt64

    public init(intervalMs: Int, now: UInt64) {
        intervalNs = UInt64(max(1, intervalMs)) * 1_000_000
        lastReceived = now
        lastSent = now
    }

    public var tickNs: UInt64 { max(1, intervalNs / 4) }
    var deadAfterNs: UInt64 { 3 * intervalNs - tickNs }

    public mutating func frameReceived(at now: UInt64) { lastReceived = max(lastReceived, now) }
    public mutating func frameSent(at now: UInt64) { lastSent = max(lastSent, now) }

    public mutating func tick(now: UInt64) -> Action {
        let silent = now &- lastReceived
        if now > lastReceived, silent >= deadAfterNs { return .declareDead(silentForMs: silent / 1_000_000) }
        if now &- lastSent >= intervalNs - tickNs / 2 {
            lastSent = now
            return .sendHeartbeat
        }
        return .none
    }
}
