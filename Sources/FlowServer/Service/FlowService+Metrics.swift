import Foundation
import Metrics
import Protocol

/// The Flow-Server's metrics (docs/operations.md, "Metrics"): gauges copied from the live
/// wallboard and the ACD when Prometheus scrapes, counters bumped as call records are written.
extension FlowService {
    func startMetrics(_ settings: MetricsSettings?) throws {
        metricsEndpoint = try ServiceMetrics.serve(settings, defaultListen: nil, logger: logger,
                                                   sample: { [weak self] in self?.sampleMetrics() },
                                                   readiness: { [weak self] in self?.notReadyReason() })
    }

    /// A call's record was written: answered or abandoned in its queue, and how long it waited.
    func countCall(_ c: CallRecord) {
        guard let q = c.queue, let queued = c.queuedAt else { return }
        let answered = c.agentAnsweredAt != nil
        let outcome = answered ? "answered" : "abandoned"
        Counter(label: "hotline_flow_queue_calls_total", dimensions: [("queue", q), ("outcome", outcome)]).increment()
        let until = c.agentAnsweredAt ?? c.endedAt
        Recorder(label: "hotline_flow_queue_wait_seconds", dimensions: [("queue", q), ("outcome", outcome)])
            .record(max(0, until - queued))
    }

    /// Every state reads 0 when no agent is in it (a series that vanished would look stale).
    static let agentStates = ["ready", "not-ready", "reserved", "ringing", "talking", "held", "wrap-up"]

    private func sampleMetrics() {
        try? loop.submitAndWait { [self] in
            let view = board.fullView()
            for q in view.queues {
                let d = [("queue", q.name)]
                Gauge(label: "hotline_flow_queue_waiting", dimensions: d).record(Double(q.figures["waiting"] ?? "0") ?? 0)
                Gauge(label: "hotline_flow_queue_longest_wait_seconds", dimensions: d).record(Double(q.figures["longest_wait_seconds"] ?? "0") ?? 0)
                Gauge(label: "hotline_flow_queue_service_level_ratio", dimensions: d).record(Double(q.figures["day_service_level"] ?? "0") ?? 0)
            }
            var byState: [String: Int] = Dictionary(uniqueKeysWithValues: Self.agentStates.map { ($0, 0) })
            for a in view.agents where a["server"] == name { byState[a["state"] ?? "unknown", default: 0] += 1 }
            for (state, n) in byState { Gauge(label: "hotline_flow_agents", dimensions: [("state", state)]).record(n) }
            Gauge(label: "hotline_flow_calls").record(distributor.callCount + (flowCalls?.callCount ?? 0))
            Gauge(label: "hotline_flow_operator_sessions").record(operators.sessionCount)
            if let s = records?.currentStatus {
                Gauge(label: "hotline_flow_spool_depth").record(max(0, s.submitted - s.written))
                Gauge(label: "hotline_flow_database_up").record(s.databaseUp ? 1 : 0)
            }
            let up = ctLink.connection?.isEstablished == true
            Gauge(label: "hotline_link_up", dimensions: [("peer_role", "ct-server"), ("peer", ctLink.target)]).record(up ? 1 : 0)
        }
    }

    /// /readyz: the CT-Server link up, and PostgreSQL reachable when one is configured (records
    /// spool meanwhile, but operators cannot log in).
    private func notReadyReason() -> String? {
        do {
            return try loop.submitAndWait { [self] () -> String? in
                if ctLink.connection?.isEstablished != true { return "no link to the CT-Server (\(ctLink.target))" }
                if let s = records?.currentStatus, !s.databaseUp {
                    return s.lastError.map { "PostgreSQL unreachable: \($0)" } ?? "PostgreSQL not connected yet (connecting, schema migrations)"
                }
                return nil
            }
        } catch {
            return "loop unavailable: \(error)"
        }
    }
}
