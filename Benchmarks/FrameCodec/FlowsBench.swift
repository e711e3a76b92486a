import Foundation
import FlowServerKit

/// Flow steps per second through FlowRun (the interpreter alone, events scripted): a call walks
/// the sample hotline flow — greeting, language menu, lookup, main menu, account collection,
/// account lookup, balance, main menu again, goodbye.
func benchFlows() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/flows/hotline.yaml")
    let def = try FlowParser().parse(String(contentsOf: url, encoding: .utf8)).get()
    let calls = 100_000
    var steps = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<calls {
        var r = FlowRun(flow: def, version: 1, environment: .init(caller: "1380000\(i % 1000)", called: "4000"))
        var actions = r.start()
        var guardCount = 0
        while !r.finished && guardCount < 50 {
            guardCount += 1
            var next: [FlowRun.Action] = []
            for a in actions {
                switch a {
                case .play(_, _, let tag): next += r.handle(.playDone(tag: tag, reason: "finished"))
                case .collect(_, let max, _, _, _, let tag):
                    // Menus: 2 (English), then 1 (account); the account: 12345; then 9 (goodbye).
                    let digits = max == 1 ? (r.trace.last?.node == "language" ? "2" : (r.trace.filter { $0.node == "main" }.count > 1 ? "9" : "1")) : "12345"
                    next += r.handle(.digitsCollected(tag: tag, digits: digits, reason: "terminator"))
                case .lookup: next += r.handle(.lookedUp(["name": "Li", "balance": "88"]))
                default: break
                }
            }
            actions = next
        }
        steps += r.trace.count
    }
    let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "flows  %d calls through the sample flow: %.0f calls/s, %.0f node steps/s (%.1f steps/call, %.2f µs/step)",
                 calls, Double(calls) / secs, Double(steps) / secs, Double(steps) / Double(calls), secs / Double(steps) * 1e6))
}
