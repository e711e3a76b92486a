import Foundation
import Testing
import TestSupport
@testable import Protocol

/// Issue 21: mutated requests of every family on the protocol links, after the handshake and
/// (App-Operate link) after logging in with every role, never stop a server: each is answered
/// or closes only its own connection, and the server answers a probe afterwards. The count per
/// family is bounded here (HOTLINE_FUZZ_COUNT, default 100); `hotline-bench fuzz-links` runs the
/// same fuzzer as long as asked (docs/benchmarks.md).
@Suite(.serialized) struct LinkFuzzTests {
    static var count: Int { Int(ProcessInfo.processInfo.environment["HOTLINE_FUZZ_COUNT"] ?? "") ?? 100 }
    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["HOTLINE_FUZZ_SEED"] ?? "") ?? 21 }

    static func fatal(_ p: ChildProcess) -> [String] {
        p.outputLines.filter { $0.contains("Fatal error") || $0.contains("Stack dump") || $0.contains("Illegal instruction") }
    }

    @Test func appLinkEveryRoleEveryFamily() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let operators = [("1001", "agent"), ("2001", "supervisor"), ("3001", "admin")]
        for (code, role) in operators { _ = try pg.addOperator(code, roles: [role], password: "secret-\(code)") }
        let dir = TestSupport.temporaryDirectory("hotline-fuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ct = try CTServerUnderTest(top: "media:\n  recording_directory: \(dir.path)/rec\n  prompt_directory: \(dir.path)/prompts", name: "ct-fuzz")
        defer { ct.stop() }
        let flow = try FlowServerUnderTest(name: "flow-fuzz", ct: ct.link, database: pg.url)
        defer { flow.stop() }
        for (code, role) in operators {
            let seed = Self.seed &+ (UInt64(code) ?? 0)
            let fuzzer = LinkFuzzer(seed: seed, connect: {
                let c = try LinkTestClient(port: flow.appPort, secret: Array("e2e-app-secret".utf8), role: .appOperate, name: "fuzz-\(code)",
                                           expectedPeer: [.flowServer])
                guard let r = try c.request(OperatorLogin(workCode: code, password: "secret-\(code)", sipExtension: "1001", mode: "console", attach: true)), !r.isError else {
                    c.close()
                    throw LinkTestClient.Failure(description: "login as \(code) refused")
                }
                return c
            }, probe: { c in (try c.request(TopologyRequest()).map { !$0.isError }) ?? false })
            let report = try fuzzer.run(LinkFuzzFamilies.appLink, count: Self.count)
            print("app link as \(role) (seed \(seed)):\n\(report.summary)")
            #expect(report.total.sent >= LinkFuzzFamilies.appLink.count * Self.count * 9 / 10, "\(report.summary)")
            #expect(flow.process.isRunning, "the flow-server died fuzzed as \(role): \(flow.process.outputText.suffix(2000))")
            #expect(Self.fatal(flow.process).isEmpty)
        }
        // Still serving: a fresh login and a request.
        let c = try LinkTestClient(port: flow.appPort, secret: Array("e2e-app-secret".utf8), role: .appOperate, name: "after", expectedPeer: [.flowServer])
        #expect(try c.request(OperatorLogin(workCode: "2001", password: "secret-2001", mode: "console")).map { !$0.isError } == true)
        #expect(try c.request(AgentCommand(action: "board")).map { !$0.isError } == true)
    }

    /// The CT-Server's Flow-Server link, fuzzed by a client that is the only attached
    /// "Flow-Server", so SIPp's calls are offered to it and the seeds aim at live channels.
    @Test func flowLinkEveryFamilyOnLiveChannels() throws {
        let dir = TestSupport.temporaryDirectory("hotline-fuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ct = try CTServerUnderTest(top: "media:\n  recording_directory: \(dir.path)/rec\n  prompt_directory: \(dir.path)/prompts", name: "ct-fuzz")
        defer { ct.stop() }
        let fuzzer = LinkFuzzer(seed: Self.seed, connect: {
            try LinkTestClient(port: ct.link, secret: Array("e2e-flow-link-secret".utf8), role: .flowServer, name: "fuzz-flow", expectedPeer: [.ctServer])
        }, probe: { c in (try c.request(TopologyRequest()).map { !$0.isError }) ?? false })
        // Calls keep arriving while the fuzzer runs: each is offered to it.
        let calls = try SIPp.start("127.0.0.1:\(ct.sip)", builtin: "uac", ["-s", "2000", "-r", "4", "-d", "3000", "-m", "400", "-timeout", "120"])
        defer { calls.stop() }
        let report = try fuzzer.run(LinkFuzzFamilies.flowLink, count: Self.count)
        print("flow link (seed \(Self.seed)):\n\(report.summary)")
        #expect(report.total.sent >= LinkFuzzFamilies.flowLink.count * Self.count * 9 / 10, "\(report.summary)")
        #expect(ct.process.isRunning, "the ct-server died: \(ct.process.outputText.suffix(2000))")
        #expect(Self.fatal(ct.process).isEmpty)
        #expect(ct.process.outputLines.contains { $0.contains("offered to a Flow-Server") }, "calls reached the fuzzer")
    }
}
