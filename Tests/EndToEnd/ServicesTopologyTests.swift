import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The three executables as separate processes on loopback ports.
@Suite(.serialized) struct ServicesTopologyTests {
    let env = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret", "HOTLINE_APP_LINK_SECRET": "e2e-app-link-secret"]

    /// Starts a ct-server on an ephemeral port and returns it with that port.
    func startCT(linkPort: Int = 0) throws -> (ChildProcess, Int) {
        let ct = try CTServerUnderTest(name: "ct-e2e", linkPort: linkPort)
        return (ct.process, ct.link)
    }

    func startFlow(_ name: String, ctPort: Int, _ extra: [String] = []) throws -> (ChildProcess, Int) {
        let server = try FlowServerUnderTest(name: name, ct: ctPort, extra, environment: env)
        return (server.process, server.appPort)
    }

    func status(_ port: Int, json: Bool = false) throws -> (Int32, String) {
        try ChildProcess.run("app-operate", ["status", "--connect", "127.0.0.1:\(port)", "--client-name", "e2e-operator"] + (json ? ["--json"] : []),
                             environment: env, seconds: 30)
    }

    @Test func threeServicesFindEachOtherAndReportTheTopology() throws {
        let (ct, ctPort) = try startCT()
        defer { ct.stop() }
        let (flowA, portA) = try startFlow("flow-a", ctPort: ctPort)
        defer { flowA.stop() }
        let (flowB, _) = try startFlow("flow-b", ctPort: ctPort)
        defer { flowB.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-b attached") != nil)
        #expect(ct.waitForLine(containing: "flow-server flow-a attached") != nil)

        let (rc, out) = try status(portA)
        #expect(rc == 0, "\(out)")
        #expect(out.contains("ct=1 flow=2 app=1"), "\(out)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ct ") && $0.contains("ct-e2e") && $0.contains("hotline/") })
        #expect(lines.contains { $0.hasPrefix("flow ") && $0.contains("flow-a") && $0.contains("ct-e2e") })
        #expect(lines.contains { $0.hasPrefix("flow ") && $0.contains("flow-b") && $0.contains("ct-e2e") })
        #expect(lines.contains { $0.hasPrefix("app ") && $0.contains("e2e-operator") && $0.contains("flow-a") })

        let (jrc, json) = try status(portA, json: true)
        #expect(jrc == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let nodes = try #require(parsed?["nodes"] as? [[String: Any]])
        #expect(nodes.count == 4)

        // SIGTERM stops each service cleanly (exit 0) and the Flow-Servers log the CT's goodbye.
        #expect(ct.stop() == 0)
        #expect(flowA.waitForLine(containing: "peer said goodbye") != nil)
        let (rc2, out2) = try status(portA)
        #expect(rc2 == 0)
        #expect(out2.contains("unreachable"), "\(out2)")
        #expect(flowA.stop() == 0)
        #expect(flowB.stop() == 0)
    }

    /// Kill the CT-Server with SIGKILL and start a new one on the same port: the Flow-Server
    /// re-attaches by itself (backoff with jitter) and the topology shows it again.
    @Test func flowServerReattachesAfterCTServerRestart() throws {
        var (ct, ctPort) = try startCT()
        let (flow, flowPort) = try startFlow("flow-r", ctPort: ctPort, ["--log-level", "info"])
        defer { flow.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-r attached") != nil)
        ct.signal(SIGKILL)
        ct.stop()
        #expect(flow.waitForLine(containing: "lost ct-server link") != nil)
        (ct, _) = try startCT(linkPort: ctPort)
        defer { ct.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-r attached") != nil, "\(flow.outputText)")
        let (rc, out) = try status(flowPort)
        #expect(rc == 0 && out.contains("ct=1 flow=1 app=1"), "\(out)")
    }

    /// Garbage, oversized, truncated and mutated frames against the real ct-server process:
    /// it stays up, closes each bad connection, and an attached Flow-Server keeps working.
    @Test func malformedFramesDoNotHurtTheCTServerProcess() throws {
        let (ct, ctPort) = try startCT()
        defer { ct.stop() }
        let (flow, flowPort) = try startFlow("flow-m", ctPort: ctPort)
        defer { flow.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-m attached") != nil)
        var g = SystemRandomNumberGenerator()
        var inputs: [[UInt8]] = [
            [0xff, 0xff, 0xff, 0xff],
            [0, 0, 0, 0],
            Array("INVITE sip:x@y SIP/2.0\r\n\r\n".utf8),
            [0, 0, 0, 100, 0, 1],
        ]
        for _ in 0..<50 { inputs.append((0..<Int.random(in: 1...200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }) }
        for bytes in inputs {
            let raw = try RawClient(port: ctPort)
            raw.send(bytes)
            raw.close()
        }
        // A connection flood of idle sockets does not stop a client being served.
        let idle = try (0..<200).map { _ in try RawClient(port: ctPort) }
        let (rc, out) = try status(flowPort)
        #expect(rc == 0 && out.contains("ct=1 flow=1 app=1"), "\(out)")
        #expect(ct.isRunning)
        idle.forEach { $0.close() }
    }

    @Test func helpAndBadConfigAreClear() throws {
        for exe in ["ct-server", "flow-server", "app-operate"] {
            let (rc, out) = try ChildProcess.run(exe, ["--help"])
            #expect(rc == 0 && out.contains("USAGE"), "\(exe): \(out)")
        }
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml")
        try "name: [unclosed\nflow_link:\n  listen: 127.0.0.1:0\n".write(to: bad, atomically: true, encoding: .utf8)
        let (rc, out) = try ChildProcess.run("ct-server", ["--config", bad.path], environment: env)
        #expect(rc != 0)
        #expect(out.contains("bad.yaml") && out.contains("line"), "\(out)")
        let noSecret = try ChildProcess.run("ct-server", ["--link-listen", "127.0.0.1:0", "--sip-listen", "127.0.0.1:0"], environment: ["HOTLINE_FLOW_LINK_SECRET": ""])
        #expect(noSecret.status != 0 && noSecret.output.contains("secret"), "\(noSecret.output)")
    }
}
