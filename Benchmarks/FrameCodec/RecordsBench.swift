import Foundation
import Logging
import FlowServerKit

/// CDRs (each with 2 legs and 8 events) through the spool into PostgreSQL: the cost of
/// `submit` on the call path (what the Flow-Server's loop pays), and records written per second.
func benchRecords(url: String, count: Int) throws {
    let logger = Logger(label: "bench")
    try Migrator.bundled().migrate(try PostgresConnection(url: url))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-bench-spool-\(getpid())")
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = try RecordWriter(databaseURL: url, spoolDirectory: dir, logger: logger)
    w.start()
    defer { w.stop() }
    let t0 = Date().timeIntervalSince1970
    var records: [StoredRecord] = []
    records.reserveCapacity(count)
    for i in 0..<count {
        var c = CallRecord(channelID: "ch-\(i)", flowServer: "bench", direction: "inbound", caller: "1380000\(i % 10000)", called: "4000",
                           arrivedAt: t0 + Double(i) * 0.01, endedAt: t0 + Double(i) * 0.01 + 180, disposition: "answered")
        c.queue = "sales"; c.queuedAt = c.arrivedAt + 20; c.agent = "A\(i % 50)"; c.agentAnsweredAt = c.arrivedAt + 35; c.flow = "hotline"
        c.legs = [.init(leg: 1, channelID: c.channelID, party: c.caller, role: "caller", startedAt: c.arrivedAt),
                  .init(leg: 2, channelID: "a-\(i)", party: c.agent!, role: "agent", startedAt: c.arrivedAt + 30)]
        c.events = (0..<8).map { .init(at: c.arrivedAt + Double($0), kind: ["arrived", "flow-node", "flow-node", "queued", "offered", "answered", "held", "ended"][$0],
                                        detail: ["n": String($0)]) }
        records.append(.call(c))
    }
    var lat: [Double] = []
    lat.reserveCapacity(count)
    let start = Date()
    for r in records {
        let s = DispatchTime.now().uptimeNanoseconds
        w.submit(r)
        lat.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1000)
    }
    guard w.waitUntilWritten(timeout: 600) else { print("records: not all written: \(w.currentStatus)"); return }
    let secs = Date().timeIntervalSince(start)
    lat.sort()
    print(String(format: "records  %d CDRs (2 legs + 8 events each) written in %.2f s: %.0f CDRs/s, %.0f rows/s", count, secs,
                 Double(count) / secs, Double(count * 11) / secs))
    print(String(format: "records  added latency on the call path (submit): p50 %.2f µs, p99 %.2f µs, max %.1f µs",
                 lat[lat.count / 2], lat[lat.count * 99 / 100], lat.last ?? 0))
}
