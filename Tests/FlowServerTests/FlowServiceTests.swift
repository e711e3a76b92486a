import Foundation
import Testing
import TestSupport
@testable import FlowServerKit
@testable import Protocol

@Suite struct FlowServiceTests {
    @Test func sampleConfigParses() throws {
        let path = TestSupport.packageRoot.appendingPathComponent("deploy/config/flow-server.yaml").path
        let cfg = try #require(try loadYAMLConfig(FlowServerConfig.self, path: path))
        #expect(cfg.ctLink?.connect == "127.0.0.1:7100")
        #expect(cfg.appLink?.listen == "127.0.0.1:7200")
        #expect(cfg.ctLink?.backoff == Backoff(initialMs: 100, maximumMs: 10000))
    }

    /// With no CT-Server to reach, the topology says so and still lists this server.
    @Test func topologyWhenTheCTServerIsUnreachable() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        var ct = LinkSettings()
        ct.connect = "127.0.0.1:1"
        ct.secret = "flow-unit-secret"
        var app = LinkSettings()
        app.listen = "127.0.0.1:0"
        app.secret = "flow-unit-secret"
        let service = try lt.sync {
            let s = try FlowService(loop: lt.loop, config: FlowServerConfig(name: "flow-u", ctLink: ct, appLink: app), logger: TestSupport.logger)
            s.start()
            return s
        }
        #expect(TestSupport.waitUntil { (try? lt.sync { service.ctLink.lastError != nil }) == true })
        let report = Box<TopologyReport?>(nil)
        lt.loop.execute { service.topology { report.value = $0 } }
        #expect(TestSupport.waitUntil { report.value != nil })
        let nodes = try #require(report.value?.nodes)
        #expect(nodes.first?.role == .ctServer && nodes.first?.state.hasPrefix("unreachable") == true)
        #expect(nodes.contains { $0.role == .flowServer && $0.name == "flow-u" })
        try lt.sync { service.shutdown() }
    }
}

@Suite struct FlowServerConfigValidationTests {
    @Test func databaseURLsLibpqCannotReadAreRefused() throws {
        var c = FlowServerConfig()
        c.database = DatabaseSettings(url: "garbage")
        #expect(throws: ConfigProblems.self) { try c.validate() }
        c.database = DatabaseSettings(url: "postgresql://hotline@localhost/hotline")
        try c.validate()
        c.database = DatabaseSettings(url: "host=/tmp dbname=hotline")
        try c.validate()
    }
}
