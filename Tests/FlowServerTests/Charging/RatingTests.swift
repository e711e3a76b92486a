import Foundation
import Testing
@testable import FlowServerKit

/// Rating against hand-computed figures (all times local, +08:00; 2026-12-02 is a Wednesday,
/// 12-04 a Friday, 12-05 a Saturday, 12-25 a holiday).
@Suite struct RatingTests {
    static let source = """
    effective_from: "2026-11-01"
    utc_offset: "+08:00"
    holidays: ["2026-12-25"]
    free_numbers: ["110"]
    services:
      - name: hotline
        match: {called: ["4000"], flow: ["hotline"]}
        unit_seconds: 6
        first_unit_seconds: 60
        bands:
          - {name: peak, days: weekdays, from: "08:00", to: "20:00", first_unit_fen: 20, unit_fen: 3}
          - {name: offpeak, days: weekdays, from: "00:00", to: "08:00", first_unit_fen: 10, unit_fen: 2}
          - {name: offpeak, days: weekdays, from: "20:00", to: "24:00", first_unit_fen: 10, unit_fen: 2}
          - {name: weekend, days: weekends, first_unit_fen: 8, unit_fen: 1}
        info_fee: {grade: B, per_minute_fen: 50, cap_fen: 200}
      - name: lottery
        match: {called: ["4001"]}
        unit_seconds: 60
        bands:
          - {name: flat, first_unit_fen: 30, unit_fen: 30}
        info_fee: {grade: A, per_call_fen: 100}
      - name: callbacks
        match: {trunk: ["carrier"]}
        unit_seconds: 60
        bands:
          - {name: flat, first_unit_fen: 12, unit_fen: 12}
    """

    static func at(_ date: String, _ hh: Int, _ mm: Int, _ ss: Int = 0) -> Double {
        Tariff.localMidnight(date, utcOffsetSeconds: 8 * 3600)! + Double(hh * 3600 + mm * 60 + ss)
    }

    static func charge(_ called: String = "4000", caller: String = "13800000001", from: Double, seconds: Double, disposition: String = "answered",
                       versions: [(Int, Tariff)]? = nil, direction: String = "inbound", line: String? = nil) throws -> Rating.Charge? {
        let v = try versions ?? [(1, Tariff.parse(source))]
        return Rating.rate(.init(caller: caller, called: called, direction: direction, line: line, answeredAt: from, endedAt: from + seconds, disposition: disposition), versions: v)
    }

    @Test func unitsBandsAndInformationFees() throws {
        // Wednesday 10:00, 90 s: 1 + ceil(30/6) = 6 units, all peak: 20 + 5×3 = 35; info 2 min × 50 = 100.
        let c1 = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 90))
        #expect((c1.units, c1.basicFen, c1.infoFeeFen, c1.totalFen) == (6, 35, 100, 135))
        #expect(c1.service == "hotline" && c1.grade == "B" && c1.bands == ["peak": 6])
        // 90.4 s is 91 billable seconds: 7 units (20 + 6×3 = 38), still 2 minutes of fee.
        let c2 = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 90.4))
        #expect((c2.seconds, c2.units, c2.basicFen, c2.infoFeeFen) == (91, 7, 38, 100))
    }

    /// 19:58:30, 150 s: unit 0 at 19:58:30 (peak 20), units at 19:59:30 … 19:59:54 (5 peak × 3),
    /// the 10 from 20:00:00 off-peak (× 2): 20 + 15 + 20 = 55; info 3 min × 50 = 150.
    @Test func aCallCrossingABandBoundaryIsSplit() throws {
        let c = try #require(try Self.charge(from: Self.at("2026-12-02", 19, 58, 30), seconds: 150))
        #expect((c.units, c.basicFen, c.infoFeeFen, c.totalFen) == (16, 55, 150, 205))
        #expect(c.bands == ["peak": 6, "offpeak": 10])
    }

    /// Friday 23:59:30, 90 s: unit 0 off-peak (10), the 5 from Saturday 00:00:30 weekend (× 1):
    /// 15; info 100.
    @Test func aCallCrossingMidnightIntoTheWeekend() throws {
        let c = try #require(try Self.charge(from: Self.at("2026-12-04", 23, 59, 30), seconds: 90))
        #expect((c.basicFen, c.infoFeeFen, c.bands) == (15, 100, ["offpeak": 1, "weekend": 5]))
    }

    @Test func weekendsAndHolidays() throws {
        // Saturday and the 25th (a Friday, but a holiday) 10:00, 90 s: 8 + 5×1 = 13; info 100.
        for day in ["2026-12-05", "2026-12-25"] {
            let c = try #require(try Self.charge(from: Self.at(day, 10, 0), seconds: 90))
            #expect((c.basicFen, c.infoFeeFen, c.bands) == (13, 100, ["weekend": 6]), "\(day)")
        }
    }

    @Test func capFreeNumbersAbandonedTransferredPerCall() throws {
        // 600 s: 1 + 90 units = 20 + 270 = 290; info 10 min × 50 = 500, capped at 200.
        let capped = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 600))
        #expect((capped.basicFen, capped.infoFeeFen, capped.totalFen) == (290, 200, 490))
        // Abandoned in the queue after 90 s in the IVR: the basic rate, no information fee.
        let abandoned = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 90, disposition: "abandoned"))
        #expect((abandoned.basicFen, abandoned.infoFeeFen) == (35, 0))
        // A transferred call is one charge for its whole time: 300 s = 1 + 40 units = 140; info 5 min → cap 200.
        let transferred = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 300, disposition: "transferred"))
        #expect((transferred.basicFen, transferred.infoFeeFen, transferred.totalFen) == (140, 200, 340))
        // A free number costs nothing, from or to it.
        let free = try #require(try Self.charge(caller: "110", from: Self.at("2026-12-02", 10, 0), seconds: 300))
        #expect(free.totalFen == 0 && free.service == "free")
        // Per-call fee: 61 s on a 60-s unit = 2 units (60); fee 100 per call.
        let lottery = try #require(try Self.charge("4001", from: Self.at("2026-12-02", 10, 0), seconds: 61))
        #expect((lottery.units, lottery.basicFen, lottery.infoFeeFen, lottery.grade) == (2, 60, 100, "A"))
        // A call-back goes out on the trunk: its service; 61 s = 2 units × 12.
        let callback = try #require(try Self.charge("13900000000", from: Self.at("2026-12-02", 10, 0), seconds: 61, direction: "outbound", line: "carrier"))
        #expect((callback.service, callback.basicFen, callback.infoFeeFen) == ("callbacks", 24, 0))
        // Never answered: no charge at all; an unknown service: not rated.
        #expect(Rating.rate(.init(caller: "1", called: "4000", answeredAt: nil, endedAt: 10, disposition: "abandoned"), versions: [(1, try Tariff.parse(Self.source))]) == nil)
        #expect(try Self.charge("9999", from: Self.at("2026-12-02", 10, 0), seconds: 60) == nil)
    }

    /// A correction from 2026-12-03 (peak unit 3 → 4): calls answered before keep their charge,
    /// calls from that day on are rated by it.
    @Test func aCorrectionChangesExactlyTheCallsFromItsDate() throws {
        let v1 = try Tariff.parse(Self.source)
        let v2 = try Tariff.parse(Self.source.replacingOccurrences(of: "2026-11-01", with: "2026-12-03")
            .replacingOccurrences(of: "first_unit_fen: 20, unit_fen: 3", with: "first_unit_fen: 20, unit_fen: 4"))
        let both = [(1, v1), (2, v2)]
        let before = try #require(try Self.charge(from: Self.at("2026-12-02", 10, 0), seconds: 90, versions: both))
        let after = try #require(try Self.charge(from: Self.at("2026-12-03", 10, 0), seconds: 90, versions: both))
        #expect((before.tariffVersion, before.totalFen) == (1, 135))
        #expect((after.tariffVersion, after.basicFen, after.totalFen) == (2, 40, 140))
    }

    @Test func badTariffsAreRefusedWithTheirLine() {
        func refused(_ text: String, _ fragment: String) {
            do {
                _ = try Tariff.parse(text)
                Issue.record("accepted: \(fragment)")
            } catch let e as FlowError {
                #expect(e.message.contains(fragment), "\(e)")
            } catch { Issue.record("\(error)") }
        }
        refused(Self.source.replacingOccurrences(of: "from: \"00:00\", to: \"08:00\"", with: "from: \"00:00\", to: \"07:00\""), "no band covers weekdays at 07:00")
        refused(Self.source.replacingOccurrences(of: "unit_seconds: 6\n", with: "unit_secs: 6\n"), "unknown key 'unit_secs'")
        refused(Self.source.replacingOccurrences(of: "per_call_fen: 100", with: "per_call_fen: -1"), "whole number of fen")
        refused(Self.source.replacingOccurrences(of: "2026-11-01", with: "1 Nov"), "effective_from")
        refused(Self.source.replacingOccurrences(of: "{grade: A, per_call_fen: 100}", with: "{grade: A, per_call_fen: 100, per_minute_fen: 2}"), "one")
    }
}
