import Foundation
import Prometheus
import Testing
@testable import Protocol

/// swift-metrics handles made through the catalogued factory: Prometheus text with the
/// catalogue's HELP, TYPE and buckets (what promtool checks end to end, MetricsTests).
@Suite struct MetricsCatalogueTests {
    @Test func countersGaugesAndHistogramsCarryTheirHelp() {
        let registry = PrometheusCollectorRegistry()
        let f = CataloguedPrometheusFactory(registry: registry, catalogue: MetricsCatalogue.ctServer)
        f.makeCounter(label: "hotline_ct_sip_responses_total", dimensions: [("code", "200")]).increment(by: 3)
        f.makeRecorder(label: "hotline_ct_channels", dimensions: [], aggregate: false).record(Int64(7))
        f.makeTimer(label: "hotline_ct_tick_lateness_seconds", dimensions: []).recordNanoseconds(1_500_000)
        let text = registry.emitToString()
        #expect(text.contains("# HELP hotline_ct_sip_responses_total SIP responses sent, by status code."))
        #expect(text.contains("hotline_ct_sip_responses_total{code=\"200\"} 3"))
        #expect(text.contains("# TYPE hotline_ct_channels gauge") && text.contains("hotline_ct_channels 7"))
        #expect(text.contains("# TYPE hotline_ct_tick_lateness_seconds histogram"))
        #expect(text.contains("hotline_ct_tick_lateness_seconds_bucket{le=\"0.002\"} 1"), "\(text)")
        #expect(text.contains("hotline_ct_tick_lateness_seconds_bucket{le=\"0.001\"} 0"))
    }

    @Test func everyCatalogueNameIsUniqueAndPrometheusShaped() {
        for c in [MetricsCatalogue.ctServer, MetricsCatalogue.flowServer, MetricsCatalogue.appOperate] {
            #expect(Set(c.map(\.name)).count == c.count)
            for m in c {
                #expect(m.name.hasPrefix("hotline_") && !m.help.isEmpty)
                #expect(m.kind != .counter || m.name.hasSuffix("_total"), "\(m.name)")
                #expect(m.kind != .histogram || !m.buckets.isEmpty, "\(m.name)")
            }
        }
    }
}
