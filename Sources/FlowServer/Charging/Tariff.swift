import Foundation
import Protocol
import Yams

/// One version of the tariff (seed: 按电信资费计算基本话费 + 不同等级的信息费): basic rates per
/// service with a billing unit, a first-unit rule and time-of-day / weekday / weekend-holiday
/// bands, an information fee per service (per minute or per call, capped per call), and the free
/// numbers. Money is integer fen throughout. Parsed from YAML (docs/operations.md, "Charging"),
/// validated as a whole; versions are kept in PostgreSQL with the date they take effect.
public struct Tariff: Sendable, Equatable {
    public enum Days: String, Sendable, Equatable { case all, weekdays, weekends }

    public struct Band: Sendable, Equatable {
        public var name: String
        public var days: Days
        /// Minutes after local midnight: [from, to).
        public var from: Int
        public var to: Int
        /// The first unit's price, and each following unit's (fen).
        public var firstUnitFen: Int
        public var unitFen: Int

        func covers(minute: Int, weekend: Bool) -> Bool {
            switch days {
            case .all: break
            case .weekdays: if weekend { return false }
            case .weekends: if !weekend { return false }
            }
            return minute >= from && minute < to
        }
    }

    public struct InfoFee: Sendable, Equatable {
        public var grade: String
        public var perMinuteFen: Int?
        public var perCallFen: Int?
        public var capFen: Int?
    }

    public struct Service: Sendable, Equatable {
        public var name: String
        public var called: [String]
        public var flows: [String]
        public var trunks: [String]
        public var unitSeconds: Int
        public var firstUnitSeconds: Int
        public var bands: [Band]
        public var infoFee: InfoFee?
    }

    /// Local date (yyyy-MM-dd) from which this version rates calls.
    public let effectiveFrom: String
    /// Seconds east of UTC of the local time bands and dates follow.
    public let utcOffsetSeconds: Int
    /// The effective date's local midnight, as Unix seconds (computed once: rating asks for it
    /// for every call).
    public let effectiveAt: Double
    public var holidays: Set<String> {
        didSet { holidayDays = Self.dayNumbers(holidays) }
    }
    /// The holidays as day numbers since 1970-01-01 (what rating looks up per unit).
    private(set) var holidayDays: Set<Int> = []
    public var freeNumbers: Set<String>
    public var services: [Service]

    public init(effectiveFrom: String, utcOffsetSeconds: Int, holidays: Set<String>, freeNumbers: Set<String>, services: [Service]) {
        self.effectiveFrom = effectiveFrom
        self.utcOffsetSeconds = utcOffsetSeconds
        effectiveAt = Self.localMidnight(effectiveFrom, utcOffsetSeconds: utcOffsetSeconds) ?? 0
        self.holidays = holidays
        self.freeNumbers = freeNumbers
        self.services = services
        holidayDays = Self.dayNumbers(holidays)
    }

    static func dayNumbers(_ dates: Set<String>) -> Set<Int> {
        Set(dates.compactMap { localMidnight($0, utcOffsetSeconds: 0).map { Int(($0 / 86_400).rounded()) } })
    }


    static func localMidnight(_ date: String, utcOffsetSeconds: Int) -> Double? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: 0)
        f.dateFormat = "yyyy-MM-dd"
        guard let d = f.date(from: date) else { return nil }
        return d.timeIntervalSince1970 - Double(utcOffsetSeconds)
    }

    /// The service a call is charged under: by called number first, then flow, then trunk.
    public func service(called: String, flow: String?, line: String?) -> Service? {
        services.first { $0.called.contains(called) }
            ?? flow.flatMap { f in services.first { $0.flows.contains(f) } }
            ?? line.flatMap { l in services.first { $0.trunks.contains(l) } }
    }

    // MARK: parsing

    /// Parses and validates a tariff; every problem is reported with its line.
    public static func parse(_ text: String) throws -> Tariff {
        try YAMLLimits.check(text)
        guard let root = try Yams.compose(yaml: text), case .mapping(let top) = root else {
            throw FlowError(line: 1, column: 1, message: "a tariff is a mapping (effective_from, services …)")
        }
        func fail(_ n: Node?, _ message: String) -> FlowError { FlowError(line: n?.mark?.line ?? 1, column: n?.mark?.column ?? 1, message: message) }
        func keys(_ n: Node, _ known: [String], _ what: String) throws {
            guard case .mapping(let m) = n else { throw fail(n, "\(what) is a mapping") }
            for (k, _) in m where !known.contains(k.string ?? "") {
                throw fail(k, "unknown key '\(k.string ?? "?")' in \(what) (known: \(known.joined(separator: ", ")))")
            }
        }
        func strings(_ n: Node?) -> [String] {
            guard let n else { return [] }
            if case .sequence(let s) = n { return s.compactMap(\.string) }
            return n.string.map { [$0] } ?? []
        }
        func fen(_ n: Node?, _ what: String) throws -> Int? {
            guard let n else { return nil }
            guard let s = n.string, let v = Int(s), v >= 0, v <= 100_000_000 else { throw fail(n, "\(what) is a whole number of fen, 0 to 100000000") }
            return v
        }
        func minutes(_ n: Node?, _ what: String) throws -> Int {
            guard let s = n?.string else { throw fail(n, "\(what) is HH:MM") }
            let p = s.split(separator: ":")
            guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440 else {
                throw fail(n, "\(what) is HH:MM (00:00 to 24:00), got \(s)")
            }
            return h * 60 + m
        }
        try keys(root, ["effective_from", "utc_offset", "holidays", "free_numbers", "services"], "the tariff")
        guard let eff = root["effective_from"]?.string, localMidnight(eff, utcOffsetSeconds: 0) != nil else {
            throw fail(root["effective_from"] ?? root, "effective_from is a date, yyyy-MM-dd")
        }
        var offset = 0
        if let o = root["utc_offset"] {
            guard let s = o.string, let v = Self.offset(s) else { throw fail(o, "utc_offset is ±HH:MM") }
            offset = v
        }
        let holidays = strings(root["holidays"])
        for (i, h) in holidays.enumerated() where localMidnight(h, utcOffsetSeconds: 0) == nil {
            throw fail(root["holidays"]?.sequence?[i], "a holiday is a date, yyyy-MM-dd (got \(h))")
        }
        var services: [Service] = []
        guard case .sequence(let list)? = root["services"], !list.isEmpty else { throw fail(root["services"] ?? root, "services is a non-empty list") }
        for s in list {
            try keys(s, ["name", "match", "unit_seconds", "first_unit_seconds", "bands", "info_fee"], "a service")
            guard let name = s["name"]?.string, Self.isName(name) else { throw fail(s["name"] ?? s, "a service needs a name of letters, digits, - and _") }
            guard !services.contains(where: { $0.name == name }) else { throw fail(s["name"], "service \(name) appears twice") }
            guard let match = s["match"] else { throw fail(s, "service \(name) needs match (called, flow or trunk)") }
            try keys(match, ["called", "flow", "trunk"], "match of \(name)")
            let called = strings(match["called"]), flows = strings(match["flow"]), trunks = strings(match["trunk"])
            guard !(called.isEmpty && flows.isEmpty && trunks.isEmpty) else { throw fail(match, "service \(name): match names no called number, flow or trunk") }
            guard let us = s["unit_seconds"]?.string.flatMap(Int.init), (1...3600).contains(us) else {
                throw fail(s["unit_seconds"] ?? s, "service \(name): unit_seconds is 1 to 3600")
            }
            var first = us
            if let f = s["first_unit_seconds"] {
                guard let v = f.string.flatMap(Int.init), (1...3600).contains(v) else { throw fail(f, "service \(name): first_unit_seconds is 1 to 3600") }
                first = v
            }
            guard case .sequence(let bl)? = s["bands"], !bl.isEmpty else { throw fail(s["bands"] ?? s, "service \(name): bands is a non-empty list") }
            var bands: [Band] = []
            for b in bl {
                try keys(b, ["name", "days", "from", "to", "first_unit_fen", "unit_fen"], "a band of \(name)")
                let bname = b["name"]?.string ?? "band\(bands.count + 1)"
                guard Self.isName(bname) else { throw fail(b["name"], "\(name): a band name is letters, digits, - and _ (got \(bname))") }
                guard let days = Days(rawValue: b["days"]?.string ?? "all") else { throw fail(b["days"], "\(name)/\(bname): days is all, weekdays or weekends") }
                let from = try minutes(b["from"] ?? Node("00:00"), "\(name)/\(bname): from"), to = try minutes(b["to"] ?? Node("24:00"), "\(name)/\(bname): to")
                guard from < to else { throw fail(b["to"] ?? b, "\(name)/\(bname): to must be after from (split a band that crosses midnight in two)") }
                guard let unit = try fen(b["unit_fen"], "\(name)/\(bname): unit_fen") else { throw fail(b, "\(name)/\(bname) needs unit_fen") }
                let firstFen = try fen(b["first_unit_fen"], "\(name)/\(bname): first_unit_fen") ?? unit
                bands.append(Band(name: bname, days: days, from: from, to: to, firstUnitFen: firstFen, unitFen: unit))
            }
            // Every minute of every kind of day must have a price.
            for weekend in [false, true] {
                for minute in 0..<1440 where !bands.contains(where: { $0.covers(minute: minute, weekend: weekend) }) {
                    throw fail(s["bands"], "service \(name): no band covers \(weekend ? "weekends" : "weekdays") at \(String(format: "%02d:%02d", minute / 60, minute % 60))")
                }
            }
            var info: InfoFee?
            if let i = s["info_fee"] {
                try keys(i, ["grade", "per_minute_fen", "per_call_fen", "cap_fen"], "info_fee of \(name)")
                let f = InfoFee(grade: i["grade"]?.string ?? "", perMinuteFen: try fen(i["per_minute_fen"], "per_minute_fen"),
                                perCallFen: try fen(i["per_call_fen"], "per_call_fen"), capFen: try fen(i["cap_fen"], "cap_fen"))
                guard (f.perMinuteFen == nil) != (f.perCallFen == nil) else { throw fail(i, "service \(name): info_fee has per_minute_fen or per_call_fen (one)") }
                info = f
            }
            services.append(Service(name: name, called: called, flows: flows, trunks: trunks, unitSeconds: us, firstUnitSeconds: first, bands: bands, infoFee: info))
        }
        return Tariff(effectiveFrom: eff, utcOffsetSeconds: offset, holidays: Set(holidays), freeNumbers: Set(strings(root["free_numbers"])), services: services)
    }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }
    }

    static func offset(_ s: String) -> Int? {
        guard let sign = s.first, sign == "+" || sign == "-" else { return nil }
        let p = s.dropFirst().split(separator: ":")
        guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...14).contains(h), (0..<60).contains(m) else { return nil }
        return (sign == "-" ? -1 : 1) * (h * 3600 + m * 60)
    }
}
