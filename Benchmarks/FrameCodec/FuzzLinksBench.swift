import Foundation
import Protocol
import TestSupport

/// `hotline-bench fuzz-links [MINUTES] [SEED]`: the link fuzzer of the test suite, run against
/// the call center `deploy/up` started (secrets and operators from run/secrets), for as long as
/// asked: the App-Operate link of flow-1 as every sample operator (agent, supervisor, admin),
/// then the CT-Server's Flow-Server link. Prints each round's figures; exits 1 when a server
/// stopped answering.
func benchFuzzLinks(minutes: Double, seed: UInt64) throws {
    let run = URL(fileURLWithPath: ProcessInfo.processInfo.environment["HOTLINE_RUN_DIR"] ?? "run")
    func secret(_ name: String) throws -> [UInt8] {
        Array(try String(contentsOf: run.appendingPathComponent("secrets/\(name)"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }
    let env = ProcessInfo.processInfo.environment
    let ctPort = Int(env["HOTLINE_CT_PORT"] ?? "") ?? 7100
    let appPort = Int(env["HOTLINE_FLOW1_PORT"] ?? "") ?? 7200
    let operators = try String(contentsOf: run.appendingPathComponent("secrets/operators"), encoding: .utf8)
        .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.count == 2 }
    let appSecret = try secret("app-link"), flowSecret = try secret("flow-link")
    let deadline = Date().addingTimeInterval(minutes * 60)
    var round = 0
    print("fuzz-links: app link 127.0.0.1:\(appPort) as \(operators.map { $0[0] }.joined(separator: ",")), flow link 127.0.0.1:\(ctPort); \(minutes) min, seed \(seed)")
    while Date() < deadline {
        round += 1
        for op in operators where Date() < deadline {
            let fuzzer = LinkFuzzer(seed: seed &+ UInt64(round) &* 7919 &+ (UInt64(op[0]) ?? 0), connect: {
                let c = try LinkTestClient(port: appPort, secret: appSecret, role: .appOperate, name: "fuzz-\(op[0])", expectedPeer: [.flowServer])
                guard let r = try c.request(OperatorLogin(workCode: op[0], password: op[1], sipExtension: op[0], mode: "console", attach: true)), !r.isError else {
                    c.close()
                    throw LinkTestClient.Failure(description: "login as \(op[0]) refused")
                }
                return c
            }, probe: { c in (try c.request(TopologyRequest()).map { !$0.isError }) ?? false })
            let r = try fuzzer.run(LinkFuzzFamilies.appLink, count: 200, deadline: deadline)
            print("round \(round) app link as \(op[0]): \(r.summary.split(separator: "\n").first ?? "")")
        }
        guard Date() < deadline else { break }
        let fuzzer = LinkFuzzer(seed: seed &+ UInt64(round), connect: {
            try LinkTestClient(port: ctPort, secret: flowSecret, role: .flowServer, name: "fuzz-flow", expectedPeer: [.ctServer])
        }, probe: { c in (try c.request(TopologyRequest()).map { !$0.isError }) ?? false })
        let r = try fuzzer.run(LinkFuzzFamilies.flowLink, count: 200, deadline: deadline)
        print("round \(round) flow link: \(r.summary.split(separator: "\n").first ?? "")")
    }
    print("fuzz-links: \(round) rounds; every server answered its probes throughout")
}
