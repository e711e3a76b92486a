import Foundation
import Testing
@testable import AppOperateKit
@testable import Protocol

@Suite struct TopologyFormatterTests {
    let report = TopologyReport(nodes: [
        NodeInfo(role: .ctServer, name: "ct-1", address: "127.0.0.1:7100", software: "hotline/0.1.0", protocolVersion: 1,
                 uptimeSeconds: 93784, attachedTo: "", state: "up"),
        NodeInfo(role: .flowServer, name: "flow-1", address: "127.0.0.1:7200", software: "hotline/0.1.0", protocolVersion: 1,
                 uptimeSeconds: 61, attachedTo: "ct-1", state: "up (plain)"),
    ])

    @Test func tableHasAHeaderARowPerNodeAndASummary() {
        let lines = TopologyFormatter.table(report).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("ROLE"))
        #expect(lines[1].contains("1d02:03:04"))
        #expect(lines[2].contains("00:01:01") && lines[2].contains("ct-1"))
        #expect(lines[3] == "ct=1 flow=1 app=0")
    }

    @Test func jsonIsParseable() throws {
        let obj = try JSONSerialization.jsonObject(with: Data(TopologyFormatter.json(report).utf8)) as? [String: Any]
        let nodes = try #require(obj?["nodes"] as? [[String: Any]])
        #expect(nodes.count == 2)
        #expect(nodes[1]["attached_to"] as? String == "ct-1")
    }
}
