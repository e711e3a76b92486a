import Foundation
import Metrics
import Protocol

/// The CT-Server's metrics (docs/operations.md, "Metrics"): counters bumped on the signalling
/// loop as things happen, gauges sampled when Prometheus scrapes. Handles are made once and
/// kept (the caches are touched only on the signalling loop's thread).
enum CTMetrics {
    nonisolated(unsafe) private static var responses: [Int: Counter] = [:]
    nonisolated(unsafe) private static var requests: [String: Counter] = [:]
    nonisolated(unsafe) private static var calls: [String: Counter] = [:]
    static let methods: Set<String> = ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO", "REFER",
                                       "NOTIFY", "SUBSCRIBE", "UPDATE", "PRACK", "MESSAGE", "PUBLISH"]

    /// A response left: its status code from the start line ("SIP/2.0 NNN").
    static func responseSent(_ bytes: [UInt8]) {
        // "SIP/2.0 " is 8 bytes; the code follows.
        guard bytes.count >= 11, bytes[6] == UInt8(ascii: "0"), bytes[7] == UInt8(ascii: " ") else { return }
        var code = 0
        for b in bytes[8..<11] where b >= 48 && b <= 57 { code = code * 10 + Int(b - 48) }
        guard (100...699).contains(code) else { return }
        if let c = responses[code] { c.increment(); return }
        let c = Counter(label: "hotline_ct_sip_responses_total", dimensions: [("code", String(code))])
        responses[code] = c
        c.increment()
    }

    static func requestReceived(_ method: String?) {
        let m = method.map { methods.contains($0) ? $0 : "other" } ?? "other"
        if let c = requests[m] { c.increment(); return }
        let c = Counter(label: "hotline_ct_sip_requests_total", dimensions: [("method", m)])
        requests[m] = c
        c.increment()
    }

    static func callEnded(outbound: Bool, answered: Bool, cause: ChannelEvent.Cause?) {
        let outcome: String
        if answered { outcome = "answered" }
        else {
            switch cause {
            case .some(.userBusy): outcome = "busy"
            case .some(.noAnswer), .some(.noUserResponding), .none, .some(.normalClearing): outcome = "unanswered"
            case .some(.callRejected): outcome = "rejected"
            default: outcome = "failed"
            }
        }
        let key = (outbound ? "out:" : "in:") + outcome
        if let c = calls[key] { c.increment(); return }
        let c = Counter(label: "hotline_ct_calls_total", dimensions: [("direction", outbound ? "outbound" : "inbound"), ("outcome", outcome)])
        calls[key] = c
        c.increment()
    }
}

/// Figures that are totals in the channel loop's statistics become counters: each scrape adds
/// what grew since the last one.
final class CounterFromTotal {
    private let counter: Counter
    private var last = 0
    init(_ label: String) { counter = Counter(label: label) }
    func update(_ total: Int) {
        if total > last { counter.increment(by: Int64(total - last)) }
        last = max(last, total)
    }
}
