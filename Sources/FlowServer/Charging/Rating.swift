import Foundation

/// Rates one call under the tariffs (a pure function; `RecordWriter` runs it as each record is
/// written and `rate --from --to` re-runs it). The rules (docs/operations.md, "Charging"):
///
/// - One charge per call record: the caller's leg, from its answer to its end, whatever
///   happened inside (queue, agents, transfers, consultation); a call never answered costs
///   nothing. Outbound records (call-backs, originate) are charged by the trunk they went out on.
/// - The version in force is the latest whose `effective_from` (local midnight) is not after
///   the answer.
/// - Billable time is the duration rounded up to whole seconds. The first unit covers
///   `first_unit_seconds`, each further started `unit_seconds` is one unit; each unit is priced
///   by the band in force when it starts (so a call crossing a band boundary, midnight or a
///   weekend pays each part at its own rate). Weekends and holidays use `weekends` bands.
/// - The information fee applies to calls that were served (not abandoned, failed, rejected,
///   unanswered or lost): per started minute, or per call, never above `cap_fen`.
/// - A call from or to a free number costs nothing.
/// - Money is integer fen; nothing is rounded but time.
public enum Rating {
    public struct Input: Sendable, Equatable {
        public var caller: String
        public var called: String
        public var direction: String
        public var flow: String?
        public var line: String?
        public var answeredAt: Double?
        public var endedAt: Double
        public var disposition: String

        public init(caller: String, called: String, direction: String = "inbound", flow: String? = nil, line: String? = nil,
                    answeredAt: Double?, endedAt: Double, disposition: String) {
            self.caller = caller
            self.called = called
            self.direction = direction
            self.flow = flow
            self.line = line
            self.answeredAt = answeredAt
            self.endedAt = endedAt
            self.disposition = disposition
        }
    }

    public struct Charge: Sendable, Equatable {
        public var tariffVersion: Int
        public var service: String
        public var grade: String
        public var seconds: Int
        public var units: Int
        public var basicFen: Int
        public var infoFeeFen: Int
        /// Units per band ("peak": 3 …).
        public var bands: [String: Int]
        public var totalFen: Int { basicFen + infoFeeFen }

        public static func none(version: Int, service: String = "") -> Charge {
            Charge(tariffVersion: version, service: service, grade: "", seconds: 0, units: 0, basicFen: 0, infoFeeFen: 0, bands: [:])
        }
    }

    /// Dispositions that are not charged an information fee.
    static let unserved: Set<String> = ["abandoned", "failed", "rejected", "unanswered", "lost"]

    /// The version in force at `t` from `versions` (version number, tariff); nil if none.
    public static func version(at t: Double, in versions: [(Int, Tariff)]) -> (Int, Tariff)? {
        versions.filter { $0.1.effectiveAt <= t }.max { ($0.1.effectiveAt, $0.0) < ($1.1.effectiveAt, $1.0) }
    }

    /// The charge of one call; nil when no tariff version is in force or no service matches.
    public static func rate(_ call: Input, versions: [(Int, Tariff)]) -> Charge? {
        guard let answered = call.answeredAt else { return nil }
        guard let (v, tariff) = version(at: answered, in: versions) else { return nil }
        if tariff.freeNumbers.contains(call.caller) || tariff.freeNumbers.contains(call.called) { return .none(version: v, service: "free") }
        let service = call.direction == "outbound" ? tariff.services.first { s in call.line.map { s.trunks.contains($0) } ?? false }
            : tariff.service(called: call.called, flow: call.flow, line: call.line)
        guard let service else { return nil }
        let seconds = max(0, Int((call.endedAt - answered - 1e-6).rounded(.up)))
        guard seconds > 0 else { return .none(version: v, service: service.name) }
        let units = 1 + max(0, (seconds - service.firstUnitSeconds + service.unitSeconds - 1) / service.unitSeconds)
        var basic = 0
        var unitsPerBand = [Int](repeating: 0, count: service.bands.count)
        for k in 0..<units {
            let start = answered + Double(k == 0 ? 0 : service.firstUnitSeconds + (k - 1) * service.unitSeconds)
            let b = Self.bandIndex(service, at: start, tariff: tariff)
            basic += k == 0 ? service.bands[b].firstUnitFen : service.bands[b].unitFen
            unitsPerBand[b] += 1
        }
        var perBand: [String: Int] = [:]
        for (b, n) in unitsPerBand.enumerated() where n > 0 { perBand[service.bands[b].name, default: 0] += n }
        var info = 0
        if let f = service.infoFee, !unserved.contains(call.disposition) {
            info = f.perCallFen ?? ((seconds + 59) / 60) * (f.perMinuteFen ?? 0)
            if let cap = f.capFen { info = min(info, cap) }
        }
        return Charge(tariffVersion: v, service: service.name, grade: service.infoFee?.grade ?? "", seconds: seconds, units: units,
                      basicFen: basic, infoFeeFen: info, bands: perBand)
    }

    /// The band in force at Unix time `t` (validation guarantees one), as its index.
    static func bandIndex(_ s: Tariff.Service, at t: Double, tariff: Tariff) -> Int {
        let local = t + Double(tariff.utcOffsetSeconds)
        let day = Int((local / 86_400).rounded(.down))
        let minute = Int((local - Double(day) * 86_400) / 60)
        // 1970-01-01 was a Thursday: weekday index 0 = Monday.
        let weekday = ((day % 7) + 7 + 3) % 7
        let weekend = weekday >= 5 || tariff.holidayDays.contains(day)
        return s.bands.firstIndex { $0.covers(minute: minute, weekend: weekend) } ?? 0
    }
}
