import Foundation
import Testing
import TestSupport
@testable import Protocol

/// The running call center the ACD's end-to-end suites share (AgentTests, RecordingTests,
/// SupervisorTests, WallboardTests, ConferenceTests, OutboundTests).
extension AgentTests {
    /// A running center: PostgreSQL, a CT-Server with phones 1001–1003, a Flow-Server with the
    /// flow above and queue settings, and agents 1001 (sales 5), 1002 (sales 3), a supervisor
    /// 2001 and an admin 3001, every password "secret-<code>".
    final class Center {
        let pg: PrivatePostgres
        let ct: ChildProcess
        var flows: [ChildProcess] = []
        var apps: [String] = []
        var flow: ChildProcess { flows[0] }
        var app: String { apps[0] }
        let sip: Int
        let dir: URL
        var phones: [Baresip] = []
        var watchers: [ChildProcess] = []
        var env: [String: String] { ["HOTLINE_APP_LINK_SECRET": "e2e-app-secret"] }
        /// The CT-Server's flow link port (for a Flow-Server started again).
        let ctLinkPort: Int

        init(edge: SIPEdgeTests, queues: String, flowServers: Int = 1, trunkPort: Int? = nil, mapping: String = "default: support\n",
             extraFlows: [String: String] = [:], phones: [String] = ["1002", "1003"], busyTrunkPort: Int? = nil) throws {
            pg = try PrivatePostgres()
            var users = phones.map { "    - user: \"\($0)\"\n      password: \"pw-\($0)-secret\"" }.joined(separator: "\n")
            if let trunkPort {
                users += "\n  trunks:\n    - name: carrier\n      address: 127.0.0.1:\(trunkPort)\n      options_interval_ms: 0"
                if let busyTrunkPort { users += "\n    - name: busyline\n      address: 127.0.0.1:\(busyTrunkPort)\n      options_interval_ms: 0" }
            }
            let server = try CTServerUnderTest(extraSIP: users)
            let ct = server.process
            self.ct = ct
            self.sip = server.sip
            self.dir = server.dir
            let link = server.link
            ctLinkPort = link
            let flows = dir.appendingPathComponent("flows")
            try FileManager.default.createDirectory(at: flows, withIntermediateDirectories: true)
            try AgentTests.flow.write(to: flows.appendingPathComponent("support.yaml"), atomically: true, encoding: .utf8)
            for (name, text) in extraFlows { try text.write(to: flows.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8) }
            try mapping.write(to: flows.appendingPathComponent("mapping.yaml"), atomically: true, encoding: .utf8)
            try queues.write(to: flows.appendingPathComponent("queues.yaml"), atomically: true, encoding: .utf8)
            for (code, args) in [("1001", ["--role", "agent", "--skill", "sales:5", "--queue", "sales", "--sip-extension", "1001", "--name", "Ann", "--external"]),
                                 ("1002", ["--role", "agent", "--skill", "sales:3", "--queue", "sales", "--sip-extension", "1002", "--name", "Bo"]),
                                 ("2001", ["--role", "supervisor", "--name", "Sue"]), ("3001", ["--role", "admin", "--name", "Al"])] {
                let pw = dir.appendingPathComponent("pw-\(code)")
                try "secret-\(code)".write(to: pw, atomically: true, encoding: .utf8)
                let r = try ChildProcess.run("flow-server", ["operator", "add", code, "--database-url", pg.url, "--password-file", pw.path] + args, seconds: 30)
                #expect(r.status == 0, "\(r.output)")
            }
            for i in 0..<flowServers {
                let name = i == 0 ? "flow-acd" : "flow-acd\(i + 1)"
                let server = try FlowServerUnderTest(name: name, ct: link, database: pg.url, spool: dir.appendingPathComponent("spool-\(i)"), flows: flows,
                                                     ["--recordings", dir.appendingPathComponent("recordings").path, "--retention-days", "30"])
                let f = server.process
                self.flows.append(f)
                apps.append(server.app)
                #expect(ct.waitForLine(containing: "flow-server \(name) attached") != nil)
                #expect(f.waitForLine(containing: "queues: sales") != nil, "\(f.outputText)")
            }
        }

        /// Stops Flow-Server `i` (SIGTERM) and starts it again with the same name, database and files.
        func restartFlowServer(_ i: Int) throws {
            _ = flows[i].stop()
            let name = i == 0 ? "flow-acd" : "flow-acd\(i + 1)"
            let server = try FlowServerUnderTest(name: name, ct: ctLinkPort, database: pg.url, spool: dir.appendingPathComponent("spool-\(i)"),
                                                 flows: dir.appendingPathComponent("flows"),
                                                 ["--recordings", dir.appendingPathComponent("recordings").path, "--retention-days", "30"])
            flows[i] = server.process
            apps[i] = server.app
            #expect(server.process.waitForLine(containing: "attached to ct-server") != nil, "\(server.process.outputText)")
        }

        /// A registered phone for `ext`: answers by itself unless `answers` is false. `contacts`:
        /// how many contacts `ext` has with this one (a second phone for the same user).
        func phone(_ ext: String, answers: Bool, audio: URL, contacts: Int = 1) throws -> Baresip {
            let ports = BaresipPorts()
            let b = try Baresip(account: "<sip:\(ext)@127.0.0.1:\(sip)>;auth_pass=pw-\(ext)-secret;regint=120;answermode=\(answers ? "auto" : "manual");audio_codecs=PCMU/8000/1",
                                sipPort: ports.sip, controlPort: ports.control, rtpPorts: ports.rtp, audioSource: audio.path)
            phones.append(b)
            #expect(b.connect(), "baresip: \(b.process.outputText)")
            #expect(ct.waitForLine(containing: "\(ext) registered \(contacts) contact") != nil, "\(b.process.outputText.suffix(800))")
            return b
        }

        /// A scripted agent (`app-operate agent watch`), printing its events as JSON lines.
        func watcher(_ code: String, _ extra: [String], server: Int = 0) throws -> ChildProcess {
            let p = try ChildProcess("app-operate", ["agent", "watch", "--connect", apps[server], "--code", code, "--auto-ready"] + extra,
                                     environment: env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-\(code)"]) { $1 })
            watchers.append(p)
            #expect(p.waitForLine(containing: "\"state\":\"ready\"") != nil, "\(code) did not go ready: \(p.outputText)\n\(flow.outputText.suffix(1500))")
            return p
        }

        func appOperate(_ code: String, _ args: [String]) throws -> (status: Int32, output: String) {
            try ChildProcess.run("app-operate", args + ["--connect", app, "--code", code], environment: env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-\(code)"]) { $1 },
                                 seconds: 30)
        }

        /// A SIPp caller that streams `audio` and waits for the BYE (runs in the background).
        func caller(audio: URL, number: String = "4000") throws -> ChildProcess {
            let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_talk_until_bye.xml"), encoding: .utf8)
                .replacingOccurrences(of: "@AUDIO@", with: audio.path)
            let scenario = dir.appendingPathComponent("caller-\(UUID().uuidString.prefix(6)).xml")
            try text.write(to: scenario, atomically: true, encoding: .utf8)
            return try SIPp.start("127.0.0.1:\(sip)", scenario: scenario, ["-s", number, "-m", "1", "-d", "100", "-timeout", "60", "-timeout_error"])
        }

        func events(_ p: ChildProcess) -> [[String: Any]] {
            p.outputLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func stop() {
            for w in watchers { _ = w.stop() }
            for p in phones { p.stop(); p.remove() }
            for f in flows { _ = f.stop() }
            _ = ct.stop()
            pg.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }
}
