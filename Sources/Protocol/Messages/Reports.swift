/// Reports between App-Operate and a Flow-Server (docs/protocol.md §14).
extension MessageCatalogue {
    public static let statisticsRequest = MessageType(rawValue: 0x2001)
}

/// Ask for statistics over [from, to): by interval (15m, hour, day) and by total, queue,
/// agent or flow. Response: StatisticsReport.
public struct StatisticsRequest: WireMessage {
    public static let messageType = MessageCatalogue.statisticsRequest
    public var fromMs: UInt64
    public var toMs: UInt64
    public var interval: String
    public var grouping: String
    /// Seconds east of UTC that interval boundaries follow (a day starts at local midnight).
    public var utcOffsetSeconds: Int64

    public init(fromMs: UInt64, toMs: UInt64, interval: String, grouping: String, utcOffsetSeconds: Int64 = 0) {
        self.fromMs = fromMs
        self.toMs = toMs
        self.interval = interval
        self.grouping = grouping
        self.utcOffsetSeconds = utcOffsetSeconds
    }
    public init(fields f: inout TLVFields) throws {
        fromMs = try TLVFields.required(f.uint64(FieldTag(1, mandatory: true)), "from")
        toMs = try TLVFields.required(f.uint64(FieldTag(2, mandatory: true)), "to")
        interval = try f.string(3) ?? "hour"
        grouping = try f.string(4) ?? "total"
        utcOffsetSeconds = try f.int64(5) ?? 0
    }
    public func encode(into w: inout TLVWriter) {
        w.write(FieldTag(1, mandatory: true), fromMs)
        w.write(FieldTag(2, mandatory: true), toMs)
        w.write(3, interval)
        w.write(4, grouping)
        w.write(5, utcOffsetSeconds)
    }
}

/// One row of statistics: a group (queue, agent, flow or "all") in one interval.
public struct StatisticsRowMessage: Equatable, Sendable {
    public var startMs: UInt64
    public var key: String
    public var offered: UInt32
    public var answered: UInt32
    public var abandoned: UInt32
    public var shortAbandoned: UInt32
    /// Rates are 0…1; times in seconds. Doubles travel as IEEE-754 binary64 bits (u64).
    public var abandonRate: Double
    public var asaSeconds: Double
    public var serviceLevel: Double
    public var ahtSeconds: Double
    public var talkSeconds: Double
    public var longestWaitSeconds: Double
    /// Agents only; negative when not applicable.
    public var occupancy: Double

    public init(startMs: UInt64, key: String, offered: UInt32, answered: UInt32, abandoned: UInt32, shortAbandoned: UInt32, abandonRate: Double,
                asaSeconds: Double, serviceLevel: Double, ahtSeconds: Double, talkSeconds: Double, longestWaitSeconds: Double, occupancy: Double) {
        self.startMs = startMs
        self.key = key
        self.offered = offered
        self.answered = answered
        self.abandoned = abandoned
        self.shortAbandoned = shortAbandoned
        self.abandonRate = abandonRate
        self.asaSeconds = asaSeconds
        self.serviceLevel = serviceLevel
        self.ahtSeconds = ahtSeconds
        self.talkSeconds = talkSeconds
        self.longestWaitSeconds = longestWaitSeconds
        self.occupancy = occupancy
    }

    init(fields f: inout TLVFields) throws {
        func d(_ t: UInt16) throws -> Double { Double(bitPattern: try f.uint64(FieldTag(t)) ?? 0) }
        startMs = try f.uint64(1) ?? 0
        key = try f.string(2) ?? ""
        offered = try f.uint32(3) ?? 0
        answered = try f.uint32(4) ?? 0
        abandoned = try f.uint32(5) ?? 0
        shortAbandoned = try f.uint32(6) ?? 0
        abandonRate = try d(7)
        asaSeconds = try d(8)
        serviceLevel = try d(9)
        ahtSeconds = try d(10)
        talkSeconds = try d(11)
        longestWaitSeconds = try d(12)
        occupancy = try d(13)
    }

    func encode(into w: inout TLVWriter) {
        w.write(1, startMs)
        w.write(2, key)
        w.write(3, offered)
        w.write(4, answered)
        w.write(5, abandoned)
        w.write(6, shortAbandoned)
        for (t, v) in [(7, abandonRate), (8, asaSeconds), (9, serviceLevel), (10, ahtSeconds), (11, talkSeconds), (12, longestWaitSeconds), (13, occupancy)] {
            w.write(FieldTag(UInt16(t)), v.bitPattern)
        }
    }
}

public struct StatisticsReport: WireMessage {
    public static let messageType = MessageCatalogue.statisticsRequest   // responses carry their request's type
    public var rows: [StatisticsRowMessage]
    public init(rows: [StatisticsRowMessage]) { self.rows = rows }
    public init(fields f: inout TLVFields) throws {
        rows = try f.groups(1).map { g in
            var g = g
            return try StatisticsRowMessage(fields: &g)
        }
    }
    public func encode(into w: inout TLVWriter) {
        for r in rows { w.writeGroup(1) { r.encode(into: &$0) } }
    }
}
