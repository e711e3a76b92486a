import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every service's Prometheus endpoint over real sockets: Debian's `promtool check metrics`
/// accepts each one's output, /healthz and /readyz answer, and a real Prometheus scrapes all
/// three and answers a query for the channel count while a call is up.
@Suite(.serialized) struct MetricsTests {
    /// `metrics=http://…/metrics` from a service's ready line.
    static func metricsURL(_ p: ChildProcess) throws -> String {
        guard let line = p.waitForLine(containing: "metrics=http"),
              let f = line.split(separator: " ").first(where: { $0.hasPrefix("metrics=") }) else {
            throw StartFailed(description: "no metrics address: \(p.outputText)")
        }
        return String(f.dropFirst("metrics=".count))
    }

    static func get(_ url: String) throws -> (status: Int, body: String) {
        let r = try ChildProcess.run("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", url], seconds: 10)
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// A PromQL query's first value (nil when it has none yet).
    static func query(_ prometheus: String, _ q: String) throws -> Double? {
        let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? q
        let body = try get("http://\(prometheus)/api/v1/query?query=\(encoded)").body
        guard let j = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any],
              let data = j["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let value = result.first?["value"] as? [Any], value.count == 2, let s = value[1] as? String else { return nil }
        return Double(s)
    }

    @Test func everyServiceExposesMetricsAndPrometheusScrapesThem() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let ct = try CTServerUnderTest(top: "metrics:\n  listen: 127.0.0.1:0")
        defer { ct.stop() }
        let ctMetrics = try Self.metricsURL(ct.process)
        let flow = try FlowServerUnderTest(name: "flow-metrics", ct: ct.link, database: pg.url, spool: ct.dir.appendingPathComponent("spool"),
                                           flows: nil, ["--metrics-listen", "127.0.0.1:0"])
        defer { _ = flow.process.stop() }
        let flowMetrics = try Self.metricsURL(flow.process)
        #expect(ct.process.waitForLine(containing: "flow-server flow-metrics attached") != nil)
        let web = try ChildProcess("app-operate", ["serve", "--connect", flow.app, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
                                   environment: FlowServerUnderTest.environment)
        defer { _ = web.stop() }
        let webMetrics = try Self.metricsURL(web)

        // A call up (the echo test number) while the checks run.
        let call = try SIPp.start("127.0.0.1:\(ct.sip)", builtin: "uac", ["-s", "*43", "-m", "1", "-d", "40000"])
        defer { _ = call.stop() }

        for (name, url) in [("ct-server", ctMetrics), ("flow-server", flowMetrics), ("app-operate", webMetrics)] {
            let m = try Self.get(url)
            #expect(m.status == 200 && m.body.contains("hotline_build_info{service=\"\(name)\""), "\(name): \(m.body.prefix(400))")
            let file = ct.dir.appendingPathComponent("\(name).prom")
            try m.body.write(to: file, atomically: true, encoding: .utf8)
            let check = try ChildProcess.run("/bin/sh", ["-c", "promtool check metrics < '\(file.path)'"], seconds: 30)
            #expect(check.status == 0, "promtool on \(name): \(check.output)")
            let base = url.replacingOccurrences(of: "/metrics", with: "")
            #expect(try Self.get(base + "/healthz").status == 200)
            // Ready once its links are up and PostgreSQL has answered (migrations run at start):
            // polled, as a load balancer or an orchestrator polls it.
            var ready = try Self.get(base + "/readyz")
            let until = Date().addingTimeInterval(30)
            while ready.status != 200, Date() < until {
                Thread.sleep(forTimeInterval: 0.2)
                ready = try Self.get(base + "/readyz")
            }
            #expect(ready.status == 200, "\(name) /readyz: \(ready.body)")
        }
        let ctBody = try Self.get(ctMetrics).body
        #expect(ctBody.contains("hotline_ct_tick_lateness_seconds_bucket"), "the tick lateness histogram")
        #expect(ctBody.contains("hotline_ct_sip_responses_total{code=\"200\"}"), "\(ctBody.prefix(2000))")
        // The channel loops run SCHED_FIFO by default; as root the kernel grants it.
        let realtime = ctBody.split(separator: "\n").filter { $0.hasPrefix("hotline_ct_loop_realtime{loop=") }
        #expect(!realtime.isEmpty, "hotline_ct_loop_realtime per loop")
        if geteuid() == 0 {
            for line in realtime { #expect(Double(line.split(separator: " ").last ?? "") == 1, "\(line)") }
        }
        #expect(try Self.get(flowMetrics).body.contains("hotline_link_up{peer_role=\"ct-server\""))

        // A real Prometheus scraping all three every second.
        let promPort = TestPorts.block(1)
        let hostport = { (u: String) in u.replacingOccurrences(of: "http://", with: "").replacingOccurrences(of: "/metrics", with: "") }
        let config = ct.dir.appendingPathComponent("prometheus.yml")
        try """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        scrape_configs:
          - job_name: ct-server
            static_configs: [{targets: ["\(hostport(ctMetrics))"]}]
          - job_name: flow-server
            static_configs: [{targets: ["\(hostport(flowMetrics))"]}]
          - job_name: app-operate
            static_configs: [{targets: ["\(hostport(webMetrics))"]}]
        """.write(to: config, atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess("/usr/bin/prometheus", ["--config.file=\(config.path)", "--storage.tsdb.path=\(ct.dir.appendingPathComponent("tsdb").path)",
                                                                  "--web.listen-address=127.0.0.1:\(promPort)"])
        defer { _ = prometheus.stop() }
        let promAddress = "127.0.0.1:\(promPort)"
        var channels: Double?
        var up: Double?
        let deadline = Date().addingTimeInterval(25)
        while Date() < deadline {
            channels = try Self.query(promAddress, "hotline_ct_channels")
            up = try Self.query(promAddress, "sum(up)")
            if (channels ?? 0) >= 1, up == 3 { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect((channels ?? 0) >= 1, "Prometheus's hotline_ct_channels during the call: \(String(describing: channels))\n\(prometheus.outputText.suffix(1500))")
        #expect(up == 3, "all three targets up: \(String(describing: up))")
        #expect(try Self.query(promAddress, "hotline_link_up{job=\"flow-server\",peer_role=\"ct-server\"}") == 1)
        // Every query of the Grafana dashboard (deploy/grafana/hotline.json) is valid PromQL here.
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupport.packageRoot.appendingPathComponent("deploy/grafana/hotline.json"))) as? [String: Any]
        let exprs = ((dashboard?["panels"] as? [[String: Any]]) ?? []).flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= 16)
        for e in exprs {
            let encoded = e.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? e
            let r = try Self.get("http://\(promAddress)/api/v1/query?query=\(encoded)")
            #expect(r.status == 200 && r.body.contains("\"status\":\"success\""), "dashboard query \(e): \(r.body)")
        }
    }

    /// The metrics endpoint over TLS (`metrics.tls`): HTTPS verified against the test CA; plain
    /// HTTP on that port gets no answer.
    @Test func metricsOverHTTPS() throws {
        let pki = try TestPKI(names: ["metrics"])
        defer { pki.remove() }
        let ct = try CTServerUnderTest(top: "metrics:\n  listen: 127.0.0.1:0\n  tls: {certificate: \(pki.cert("metrics")), private_key: \(pki.key("metrics"))}")
        defer { ct.stop() }
        let url = try Self.metricsURL(ct.process)
        #expect(url.hasPrefix("https://"), "\(url)")
        let r = try ChildProcess.run("/usr/bin/curl", ["-s", "--cacert", pki.caCert, "-m", "5", url], seconds: 10)
        #expect(r.status == 0 && r.output.contains("hotline_build_info{service=\"ct-server\""), "\(r.output.prefix(300))")
        let plain = try Self.get(url.replacingOccurrences(of: "https://", with: "http://"))
        #expect(plain.status != 200, "no plain HTTP on the TLS port")
    }
}
