import Testing
@testable import Protocol

@Suite struct ConnectionAdmissionTests {
    @Test func oneSourceIsHeldToItsShare() {
        var a = ConnectionAdmission(maximum: 100, maximumPerSource: 3)
        for id in 1...3 { #expect(a.decide(source: "198.51.100.1") == .admit); a.opened(UInt64(id), source: "198.51.100.1") }
        #expect(a.decide(source: "198.51.100.1") == .refuse(.perSourceLimit))
        #expect(a.decide(source: "198.51.100.2") == .admit)
        a.closed(2)
        #expect(a.decide(source: "198.51.100.1") == .admit)
    }

    @Test func trustedSourcesAreExempt() {
        var a = ConnectionAdmission(maximum: 100, maximumPerSource: 1, exempt: ["192.0.2.1"])
        a.opened(1, source: "192.0.2.1")
        #expect(a.decide(source: "192.0.2.1") == .admit)
    }

    /// At the global limit the oldest unauthenticated connection makes room; authenticated
    /// ones never do, and when all are authenticated a newcomer is refused.
    @Test func strangersNeverEvictAuthenticatedConnections() {
        var a = ConnectionAdmission(maximum: 3, maximumPerSource: 10)
        a.opened(1, source: "phone")
        a.authenticated(1)
        a.opened(2, source: "stranger")
        a.opened(3, source: "stranger")
        #expect(a.decide(source: "other") == .admitEvicting(2))
        a.closed(2)
        a.opened(4, source: "other")
        a.authenticated(3)
        a.authenticated(4)
        #expect(a.decide(source: "late") == .refuse(.full))
        #expect(a.isAuthenticated(1) && a.isAuthenticated(4))
    }

    /// Links: only connections still in the handshake count against their source, so one
    /// App-Operate host can carry many operators.
    @Test func linksCountOnlyUnauthenticatedPerSource() {
        var a = ConnectionAdmission(maximum: 100, maximumPerSource: 2, perSourceCountsUnauthenticatedOnly: true)
        for id in 1...2 { a.opened(UInt64(id), source: "app") }
        #expect(a.decide(source: "app") == .refuse(.perSourceLimit))
        a.authenticated(1)
        a.authenticated(2)
        for id in 3...4 { #expect(a.decide(source: "app") == .admit); a.opened(UInt64(id), source: "app") }
        a.closed(1)
        #expect(a.decide(source: "app") == .refuse(.perSourceLimit))
        a.closed(3)
        #expect(a.decide(source: "app") == .admit)
        #expect(a.count == 2)
    }
}

@Suite struct RefusalLogTests {
    @Test func aFloodWritesOneLinePerInterval() {
        var log = RefusalLog(intervalMs: 10_000)
        let ms: UInt64 = 1_000_000
        var lines: [String] = []
        // 100,000 refusals over 35 s from 1,000 sources.
        for i in 0..<100_000 {
            if let l = log.record(source: "10.0.\(i % 1000 / 250).\(i % 250)", reason: "per-source connection limit", now: UInt64(i) * 35_000 * ms / 100_000) {
                lines.append(l)
            }
        }
        #expect(lines.count == 4)   // at 0 s, 10 s, 20 s, 30 s
        #expect(lines[0].hasPrefix("refused 10.0.0.0: per-source connection limit"))
        #expect(lines[1].contains("from 1000 source(s)"))
        #expect(log.total == 100_000)
    }
}
