import Foundation
import Testing
@testable import AppOperateKit
import Protocol

/// The agent console's screen as text: the pop, the current call, the queue and the help line
/// follow the Flow-Server's events.
@Suite struct AgentScreenTests {
    @Test func popConnectEnd() {
        var s = AgentScreen(code: "1001", server: "127.0.0.1:7200")
        s.apply(AgentEventMessage(kind: "state", state: "ready", fields: ["from": "not-ready"]))
        #expect(s.render().contains { $0.hasPrefix("State: READY") })
        s.apply(AgentEventMessage(kind: "offered", state: "ringing", fields: ["caller": "13800001111", "called": "4000", "queue": "sales",
                                                                               "waited_seconds": "12", "var.topic": "billing", "customer.name": "Li Hua"]))
        var text = s.render().joined(separator: "\n")
        #expect(text.contains("13800001111 → 4000   queue sales   waited 12 s"))
        #expect(text.contains("customer.name=Li Hua  var.topic=billing") && text.contains("press a to answer"))
        s.apply(AgentEventMessage(kind: "connected", state: "talking", fields: ["caller": "13800001111"]))
        text = s.render().joined(separator: "\n")
        #expect(text.contains("State: TALKING") && text.contains("Offered call ") && text.contains("customer.name=Li Hua"))
        s.apply(AgentEventMessage(kind: "held", state: "held"))
        #expect(s.render().joined(separator: "\n").contains("ON HOLD"))
        s.apply(AgentEventMessage(kind: "ended", state: "wrap-up", fields: ["cause": "caller hung up"]))
        text = s.render().joined(separator: "\n")
        #expect(text.contains("call ended: caller hung up") && text.contains("State: WRAP-UP"))
        #expect(s.current == nil && s.offered == nil)
        #expect(s.render(width: 160).last == AgentScreen.helpLine)
    }

    @Test func linesFitTheWidth() {
        var s = AgentScreen(code: "1001", server: "x")
        s.queue = (1...8).map { ["position": "\($0)", "caller": String(repeating: "9", count: 200), "queue": "q", "waited_seconds": "61"] }
        let lines = s.render(width: 80)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines.map(\.count))")
        s.queue = (1...8).map { ["position": "\($0)", "caller": "1390000000\($0)", "queue": "q", "waited_seconds": "61"] }
        #expect(s.render(width: 80).filter { $0.contains("waiting 01:01") }.count == 5, "the queue shows its first five")
    }
}
