import Foundation
import FlowServerKit
import Protocol
import TestSupport

/// Rating and re-rating a month of calls (default 1,000,000) into PostgreSQL: rating alone in
/// memory, then calls written with their charges (the Flow-Server's write path, 10,000 per
/// transaction), then a correction from mid-month re-rated day by day, then re-rated again
/// (idempotent: nothing changes). Checks that PostgreSQL's total equals the in-memory one.
func benchRating(url: String, count: Int) throws {
    let db = try PostgresConnection(url: url)
    try Migrator.bundled().migrate(db)
    let source = """
    effective_from: "2026-11-01"
    utc_offset: "+08:00"
    holidays: ["2026-11-11"]
    free_numbers: ["110"]
    services:
      - name: hotline
        match: {called: ["4000"]}
        unit_seconds: 6
        first_unit_seconds: 60
        bands:
          - {name: peak, days: weekdays, from: "08:00", to: "20:00", first_unit_fen: 20, unit_fen: 3}
          - {name: offpeak, days: weekdays, from: "00:00", to: "08:00", first_unit_fen: 10, unit_fen: 2}
          - {name: offpeak, days: weekdays, from: "20:00", to: "24:00", first_unit_fen: 10, unit_fen: 2}
          - {name: weekend, days: weekends, first_unit_fen: 8, unit_fen: 1}
        info_fee: {grade: B, per_minute_fen: 50, cap_fen: 500}
      - name: lottery
        match: {called: ["4001"]}
        unit_seconds: 60
        bands:
          - {name: flat, first_unit_fen: 30, unit_fen: 30}
        info_fee: {grade: A, per_call_fen: 100}
    """
    let v1 = try Tariff.parse(source)
    _ = try TariffStore.publish(db, source: source, tariff: v1, by: "bench")
    let monthStart = v1.effectiveAt
    // The month's calls, reproducibly random: arrivals over 30 days, 10 % never answered, 5 %
    // abandoned, durations 5 s to 15 min.
    var rng = SplitMix64(seed: 19)
    var calls: [CallRecord] = []
    calls.reserveCapacity(count)
    for i in 0..<count {
        let arrived = monthStart + Double(rng.next() % (30 * 86_400_000)) / 1000
        let roll = rng.next() % 100
        let duration = 5 + Double(rng.next() % 895_000) / 1000
        var c = CallRecord(callID: UUID(), channelID: "ch-\(i)", flowServer: "bench", direction: "inbound", caller: "1380\(String(format: "%07d", Int(rng.next() % 200_000)))",
                           called: roll % 7 == 0 ? "4001" : "4000", arrivedAt: arrived, endedAt: arrived + 3 + duration,
                           disposition: roll < 10 ? "abandoned" : roll < 15 ? "abandoned" : "self-service")
        if roll >= 10 { c.answeredAt = arrived + 3 }
        c.flow = "hotline"
        c.line = "sip"
        calls.append(c)
    }

    // 1. Rating alone.
    var t = Date()
    var expected = 0, rated = 0
    for c in calls {
        if let ch = Rating.rate(.init(caller: c.caller, called: c.called, answeredAt: c.answeredAt, endedAt: c.endedAt, disposition: c.disposition), versions: [(1, v1)]) {
            expected += ch.totalFen
            rated += 1
        }
    }
    var secs = Date().timeIntervalSince(t)
    print(String(format: "rating   %d calls rated in memory in %.2f s: %.0f calls/s (%d chargeable, %d fen)", count, secs, Double(count) / secs, rated, expected))

    // 2. Written with their charges, as the Flow-Server's writer does.
    let tariffs = try TariffStore.load(db)
    t = Date()
    var i = 0
    while i < calls.count {
        let batch = calls[i..<min(i + 10_000, calls.count)].map { StoredRecord.call($0) }
        try db.transaction { try RecordWriter.store(batch, db, tariffs: tariffs) }
        i += 10_000
    }
    secs = Date().timeIntervalSince(t)
    let stored = Int(try db.execute("SELECT coalesce(sum(total_fen), 0) AS s FROM call_charges").value(0, "s") ?? "") ?? -1
    print(String(format: "rating   %d calls written with %d charges in %.1f s: %.0f calls/s into PostgreSQL; total %d fen (%@)", count, rated, secs,
                 Double(count) / secs, stored, stored == expected ? "equals the in-memory total" : "DIFFERS from \(expected)"))

    // 3. A correction from mid-month (peak units 3 → 4 fen), re-rated day by day; then again.
    let v2Source = source.replacingOccurrences(of: "2026-11-01", with: "2026-11-16").replacingOccurrences(of: "first_unit_fen: 20, unit_fen: 3", with: "first_unit_fen: 20, unit_fen: 4")
    _ = try TariffStore.publish(db, source: v2Source, tariff: try Tariff.parse(v2Source), by: "bench")
    for pass in ["correction", "again"] {
        t = Date()
        var changed = 0, unchanged = 0
        for day in 0..<30 {
            let from = String(format: "%.3f", monthStart + Double(day) * 86_400), to = String(format: "%.3f", monthStart + Double(day + 1) * 86_400)
            let r = try FlowService.rerate(db, from: from, to: to, by: "bench")
            changed += Int(r.rows.first?[0] ?? "") ?? 0
            unchanged += Int(r.rows.first?[2] ?? "") ?? 0
        }
        secs = Date().timeIntervalSince(t)
        print(String(format: "rating   re-rate (%@) of %d calls in %.1f s: %.0f calls/s; %d changed, %d unchanged", pass, count, secs, Double(count) / secs, changed, unchanged))
    }
}
