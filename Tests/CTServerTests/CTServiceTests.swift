import Foundation
import Testing
import TestSupport
@testable import CTServerKit
@testable import Protocol

@Suite struct CTServerConfigTests {
    @Test func sampleConfigParsesWithEveryKey() throws {
        let path = TestSupport.packageRoot.appendingPathComponent("deploy/config/ct-server.yaml").path
        let cfg = try #require(try loadYAMLConfig(CTServerConfig.self, path: path))
        #expect(cfg.name == "ct-1")
        #expect(cfg.flowLink?.listen == "127.0.0.1:7100")
        #expect(cfg.flowLink?.heartbeatMs == 2000)
        #expect(cfg.flowLink?.maxConnections == 256)
    }

    @Test func yamlErrorsNameTheLine() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("c.yaml")
        try "name: ok\nflow_link:\n  heartbeat_ms: [1\n".write(to: p, atomically: true, encoding: .utf8)
        #expect { try loadYAMLConfig(CTServerConfig.self, path: p.path) } throws: { "\($0)".contains("line") }
        try "flow_link:\n  heartbeat_ms: often\n".write(to: p, atomically: true, encoding: .utf8)
        #expect { try loadYAMLConfig(CTServerConfig.self, path: p.path) } throws: { "\($0)".contains("heartbeat_ms") }
    }
}

/// CTService in process, with a real Flow-side dialler over loopback.
@Suite struct CTServiceTests {
    @Test func attachedFlowServersAppearInTheTopology() throws {
        let lt = try LoopThread()
        defer { lt.stop() }
        var link = LinkSettings()
        link.listen = "127.0.0.1:0"
        link.secret = "ct-unit-secret"
        let service = try lt.sync { try CTService(loop: lt.loop, config: CTServerConfig(name: "ct-u", flowLink: link), logger: TestSupport.logger) }
        let d = try lt.sync {
            let d = Dialer(loop: lt.loop, host: "127.0.0.1", port: service.listenAddress.port, configuration: LinkConfiguration(secret: "ct-unit-secret"),
                           identity: LinkIdentity(role: .flowServer, name: "flow-u"), expectedPeerRoles: [.ctServer], logger: TestSupport.logger)
            d.start()
            return d
        }
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        let report = Box<TopologyReport?>(nil)
        lt.loop.execute { d.established?.request(TopologyRequest(), expecting: TopologyReport.self) { report.value = try? $0.get() } }
        #expect(TestSupport.waitUntil { report.value != nil })
        #expect(report.value?.nodes.map(\.name) == ["ct-u", "flow-u"])
        #expect(report.value?.nodes.last?.attachedTo == "ct-u")
        // App-Operate is not accepted on the CT-Server's Flow port.
        let app = try lt.sync {
            let a = Dialer(loop: lt.loop, host: "127.0.0.1", port: service.listenAddress.port, configuration: LinkConfiguration(secret: "ct-unit-secret"),
                           identity: LinkIdentity(role: .appOperate, name: "intruder"), expectedPeerRoles: [.ctServer], logger: TestSupport.logger)
            a.start()
            return a
        }
        #expect(TestSupport.waitUntil { (try? lt.sync { app.lastError?.code == .roleNotAccepted }) == true })
        try lt.sync { app.stop(); d.stop(); service.shutdown() }
    }
}

@Suite struct StrictConfigTests {
    /// Every key the configuration types know is found from the types themselves; a misspelt
    /// key is refused with its line and the key meant.
    @Test func misspeltKeysAreRefusedWithTheNearestKnownOne() throws {
        let schema = ConfigKeys.schema(of: CTServerConfig.self)
        #expect(schema[""]?.isSuperset(of: ["name", "sip", "flow_link", "media", "log_level"]) == true, "\(schema[""] ?? [])")
        #expect(schema["sip"]?.isSuperset(of: ["listen", "rate_limit_per_source", "auth_max_failures", "trunks", "users"]) == true, "\(schema["sip"] ?? [])")
        #expect(schema["sip.trunks[]"]?.contains("address") == true, "\(schema.keys.sorted())")
        try ConfigKeys.check("name: ct\nsip:\n  listen: 127.0.0.1:5060\n  users:\n    - user: \"1001\"\n      password: x\n", as: CTServerConfig.self)
        for (text, line, key, meant) in [("sip:\n  listne: 0.0.0.0:5060\n", 2, "sip.listne", "listen"),
                                         ("sip:\n  listen: 1.2.3.4:5060\n  rate_limit_per_sorce: 5\n", 3, "sip.rate_limit_per_sorce", "rate_limit_per_source"),
                                         ("sip:\n  auth_max_failure: 3\n", 2, "sip.auth_max_failure", "auth_max_failures"),
                                         ("flow_lnik:\n  listen: 127.0.0.1:7100\n", 1, "flow_lnik", "flow_link")] {
            do {
                try ConfigKeys.check(text, as: CTServerConfig.self)
                Issue.record("\(key) was accepted")
            } catch let e as ConfigKeys.UnknownKey {
                #expect(e.line == line && "\(e)".contains("unknown setting \(key)") && e.suggestion == meant, "\(e)")
            }
        }
    }
}

extension StrictConfigTests {
    /// Useless values are refused, every one named at once; the shipped config passes and its
    /// printout hides secrets.
    @Test func uselessValuesAreRefused() throws {
        var bad = CTServerConfig()
        bad.logLevel = "loud"
        var sip = SIPSettings()
        sip.minExpires = -5
        sip.rtpPortMin = 50000
        sip.rtpPortMax = 40000
        bad.sip = sip
        var link = LinkSettings()
        link.maxConnections = 0
        bad.flowLink = link
        var media = MediaSettings()
        media.realtimePriority = 100
        bad.media = media
        do {
            try bad.validate()
            Issue.record("accepted")
        } catch let p as ConfigProblems {
            #expect(p.problems.count == 5, "\(p.problems)")
            for key in ["log_level", "sip.min_expires", "sip.rtp_port_max", "flow_link.max_connections", "media.realtime_priority"] {
                #expect(p.problems.contains { $0.hasPrefix(key + ":") }, "\(key) in \(p.problems)")
            }
        }
        let shipped = try #require(try loadYAMLConfig(CTServerConfig.self, path: TestSupport.packageRoot.appendingPathComponent("deploy/config/ct-server.yaml").path))
        try shipped.validate()
        var secret = shipped
        var l = secret.flowLink ?? LinkSettings()
        l.secret = "very-secret-value"
        secret.flowLink = l
        let printed = printableConfig(secret)
        #expect(!printed.contains("very-secret-value") && printed.contains("secret: (hidden)"), "\(printed)")
    }
}
