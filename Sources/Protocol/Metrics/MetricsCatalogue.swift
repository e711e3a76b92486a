import CoreMetrics
import Prometheus

/// Every metric a Hotline service exposes: its name, its help text and, for histograms, its
/// buckets. Code records through the swift-metrics API (`Counter(label:)`, `Gauge`, `Timer`,
/// `Recorder`); `CataloguedPrometheusFactory` turns those into Prometheus series that carry the
/// catalogue's `# HELP` (promtool wants one) and buckets. docs/operations.md lists the same.
public struct MetricInfo: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public var name: String
    public var kind: Kind
    public var help: String
    /// Buckets in seconds for duration histograms (`Timer`), plain values for `Recorder`s.
    public var buckets: [Double]
    public init(_ name: String, _ kind: Kind, _ help: String, buckets: [Double] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.buckets = buckets
    }
}

public enum MetricsCatalogue {
    static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
    static let waitBuckets: [Double] = [1, 5, 10, 20, 30, 60, 120, 300, 600]
    static let delayBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    /// Shared by every service.
    public static let common: [MetricInfo] = [
        MetricInfo("hotline_build_info", .gauge, "Always 1; the labels name the service and its instance."),
        MetricInfo("hotline_link_up", .gauge, "1 while the link to that peer is established, else 0."),
        MetricInfo("hotline_process_start_time_seconds", .gauge, "When the process started, Unix seconds."),
    ]

    public static let ctServer: [MetricInfo] = common + [
        MetricInfo("hotline_ct_channels", .gauge, "Channels (call legs) up now."),
        MetricInfo("hotline_ct_calls_total", .counter, "Calls (channels) ended, by direction and outcome: answered, unanswered, busy, failed, rejected."),
        MetricInfo("hotline_ct_tick_lateness_seconds", .histogram, "How late each 20-ms channel-loop tick started.", buckets: latencyBuckets),
        MetricInfo("hotline_ct_tick_work_seconds", .histogram, "Time the channel loop spent working in each tick.", buckets: latencyBuckets),
        MetricInfo("hotline_ct_loop_realtime", .gauge, "1 while the channel loop's thread runs at real-time priority (SCHED_FIFO), else 0."),
        MetricInfo("hotline_ct_ticks_missed_total", .counter, "Channel-loop ticks skipped because the loop was more than one tick behind."),
        MetricInfo("hotline_ct_rtp_packets_received_total", .counter, "RTP packets received on channels."),
        MetricInfo("hotline_ct_rtp_packets_sent_total", .counter, "RTP packets sent on channels."),
        MetricInfo("hotline_ct_rtp_packets_lost_total", .counter, "RTP packets missing by sequence number (RFC 3550 loss)."),
        MetricInfo("hotline_ct_rtp_packets_late_total", .counter, "RTP packets that came after their playout time."),
        MetricInfo("hotline_ct_rtp_jitter_seconds", .gauge, "Mean RFC 3550 interarrival jitter over the channels up now."),
        MetricInfo("hotline_ct_sip_requests_total", .counter, "SIP requests received, by method."),
        MetricInfo("hotline_ct_sip_responses_total", .counter, "SIP responses sent, by status code."),
        MetricInfo("hotline_ct_registrations", .gauge, "SIP registrations (contacts) held."),
    ]

    public static let flowServer: [MetricInfo] = common + [
        MetricInfo("hotline_flow_queue_waiting", .gauge, "Callers waiting in the queue now (every Flow-Server's)."),
        MetricInfo("hotline_flow_queue_longest_wait_seconds", .gauge, "How long the queue's longest-waiting caller has waited."),
        MetricInfo("hotline_flow_queue_wait_seconds", .histogram, "Time callers waited in the queue before an agent answered or they gave up, by outcome.", buckets: waitBuckets),
        MetricInfo("hotline_flow_queue_calls_total", .counter, "Queue calls ended on this Flow-Server, by outcome: answered, abandoned."),
        MetricInfo("hotline_flow_queue_service_level_ratio", .gauge, "Share of today's offered calls answered within the queue's service-level time."),
        MetricInfo("hotline_flow_agents", .gauge, "Agents logged in to this Flow-Server, by state."),
        MetricInfo("hotline_flow_calls", .gauge, "Calls this Flow-Server is handling now (flows and queues)."),
        MetricInfo("hotline_flow_operator_sessions", .gauge, "Operators logged in through App-Operate links."),
        MetricInfo("hotline_flow_spool_depth", .gauge, "Records waiting in the spool for PostgreSQL."),
        MetricInfo("hotline_flow_database_up", .gauge, "1 while PostgreSQL answers, else 0."),
    ]

    public static let appOperate: [MetricInfo] = common + [
        MetricInfo("hotline_web_sessions", .gauge, "Browser sessions logged in."),
        MetricInfo("hotline_web_websockets", .gauge, "WebSockets open to browsers."),
        MetricInfo("hotline_web_http_requests_total", .counter, "HTTP requests answered, by status code."),
        MetricInfo("hotline_web_logins_total", .counter, "Login attempts, by result: ok, refused."),
        MetricInfo("hotline_web_events_total", .counter, "Events pushed to browsers, by kind."),
        MetricInfo("hotline_web_event_delay_seconds", .histogram, "From an event's arrival from the Flow-Server to its WebSocket write.", buckets: delayBuckets),
    ]
}

/// The swift-metrics factory: Prometheus series with the catalogue's help and buckets.
public struct CataloguedPrometheusFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry
    private let catalogue: [String: MetricInfo]

    public init(registry: PrometheusCollectorRegistry, catalogue: [MetricInfo]) {
        self.registry = registry
        self.catalogue = Dictionary(catalogue.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private func help(_ label: String) -> String { catalogue[label]?.help ?? label.replacingOccurrences(of: "_", with: " ") }
    private func buckets(_ label: String) -> [Double] {
        let b = catalogue[label]?.buckets ?? []
        return b.isEmpty ? MetricsCatalogue.latencyBuckets : b
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: help(label)) }
        return registry.makeValueHistogram(name: label, labels: dimensions, buckets: buckets(label), help: help(label))
    }
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: help(label))
    }
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(name: label, labels: dimensions,
                                       buckets: buckets(label).map { Duration.nanoseconds(Int64($0 * 1e9)) }, help: help(label))
    }
    public func destroyCounter(_ handler: any CounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }
    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
        if let h = handler as? ValueHistogram { registry.unregisterValueHistogram(h) }
    }
    public func destroyMeter(_ handler: any MeterHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
    }
    public func destroyTimer(_ handler: any TimerHandler) {
        if let h = handler as? DurationHistogram { registry.unregisterDurationHistogram(h) }
    }
}
