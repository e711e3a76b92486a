#if canImport(Glibc)
import Glibc
#endif

/// Reception statistics of one RTP source (RFC 3550 §6.4.1 and Appendix A.1/A.3): extended
/// highest sequence, cumulative and interval loss, and what an RTCP report block says.
public struct RTPReceptionStats: Sendable, Equatable {
    private var baseSeq: UInt32 = 0
    private var maxSeq: UInt16 = 0
    private var cycles: UInt32 = 0
    private var started = false
    public private(set) var received: UInt32 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0
    public private(set) var ssrc: UInt32 = 0

    public init() {}

    public mutating func update(sequence seq: UInt16, ssrc s: UInt32) {
        if !started || s != ssrc {
            started = true
            ssrc = s
            baseSeq = UInt32(seq)
            maxSeq = seq
            cycles = 0
            received = 0
            expectedPrior = 0
            receivedPrior = 0
        }
        let delta = seq &- maxSeq
        if delta < 3000 {
            if seq < maxSeq { cycles &+= 65536 }
            maxSeq = seq
        }
        received &+= 1
    }

    public var extendedMax: UInt32 { cycles &+ UInt32(maxSeq) }
    public var expected: UInt32 { started ? extendedMax &- baseSeq &+ 1 : 0 }
    public var cumulativeLost: Int32 { Int32(truncatingIfNeeded: Int64(expected) - Int64(received)) }

    /// The fraction lost since the last report (8-bit fixed point) — advances the interval.
    public mutating func takeFractionLost() -> UInt8 {
        let expectedInterval = expected &- expectedPrior
        let receivedInterval = received &- receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        guard expectedInterval > 0, lostInterval > 0 else { return 0 }
        return UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
    }
}

/// RTCP compound packets (RFC 3550 §6): we send SR (or RR when we have not sent) + SDES CNAME;
/// we read SR sender info and the report block about us from SR/RR.
public enum RTCP {
    public struct ReportBlock: Sendable, Equatable {
        public var ssrc: UInt32
        public var fractionLost: UInt8
        public var cumulativeLost: Int32
        public var extendedMax: UInt32
        public var jitter: UInt32
        public var lastSR: UInt32
        public var delaySinceLastSR: UInt32
    }

    public struct Parsed: Sendable, Equatable {
        /// The middle 32 bits of the sender's NTP timestamp in its SR (for LSR).
        public var senderReportNTP: UInt32?
        public var senderSSRC: UInt32 = 0
        public var blocks: [ReportBlock] = []
        public var bye = false
    }

    /// NTP time now (seconds since 1900 in 32.32 fixed point).
    public static func ntpNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let secs = UInt64(ts.tv_sec) + 2_208_988_800
        let frac = (UInt64(ts.tv_nsec) << 32) / 1_000_000_000
        return secs << 32 | frac
    }

    /// Writes a compound SR/RR + SDES packet into `out`; returns its length.
    public static func build(into out: UnsafeMutableRawPointer, capacity: Int, ssrc: UInt32, sender: (ntp: UInt64, rtpTimestamp: UInt32, packets: UInt32, octets: UInt32)?,
                             block: ReportBlock?, cname: String) -> Int {
        var o = 0
        func u8(_ v: UInt8) { out.storeBytes(of: v, toByteOffset: o, as: UInt8.self); o += 1 }
        func u16(_ v: UInt16) { out.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self); o += 2 }
        func u32(_ v: UInt32) { out.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self); o += 4 }
        let rc: UInt8 = block == nil ? 0 : 1
        let words = (sender == nil ? 1 : 6) + Int(rc) * 6   // length in 32-bit words minus one
        u8(0x80 | rc); u8(sender == nil ? 201 : 200); u16(UInt16(words)); u32(ssrc)
        if let s = sender { u32(UInt32(s.ntp >> 32)); u32(UInt32(truncatingIfNeeded: s.ntp)); u32(s.rtpTimestamp); u32(s.packets); u32(s.octets) }
        if let b = block {
            u32(b.ssrc)
            let lost = UInt32(bitPattern: max(-0x800000, min(0x7FFFFF, b.cumulativeLost))) & 0xFFFFFF
            u32(UInt32(b.fractionLost) << 24 | lost)
            u32(b.extendedMax); u32(b.jitter); u32(b.lastSR); u32(b.delaySinceLastSR)
        }
        // SDES with one chunk: CNAME, then END, padded to a word.
        let name = Array(cname.utf8.prefix(255))
        let chunk = 4 + 2 + name.count + 1
        let padded = (chunk + 3) & ~3
        guard o + 4 + padded <= capacity else { return o }
        u8(0x81); u8(202); u16(UInt16(padded / 4)); u32(ssrc)
        u8(1); u8(UInt8(name.count)); for c in name { u8(c) }
        for _ in 0..<(padded - chunk + 1) { u8(0) }
        return o
    }

    /// Reads a compound packet; nil when it is not RTCP.
    public static func parse(_ p: UnsafeRawBufferPointer) -> Parsed? {
        guard p.count >= 8, p[0] >> 6 == 2, (200...204).contains(p[1]) else { return nil }
        var result = Parsed()
        var o = 0
        func u32(_ at: Int) -> UInt32 { UInt32(p[at]) << 24 | UInt32(p[at + 1]) << 16 | UInt32(p[at + 2]) << 8 | UInt32(p[at + 3]) }
        while o + 4 <= p.count {
            guard p[o] >> 6 == 2 else { return nil }
            let count = Int(p[o] & 0x1F), type = p[o + 1]
            let length = ((Int(p[o + 2]) << 8 | Int(p[o + 3])) + 1) * 4
            guard o + length <= p.count, length >= 8 else { return nil }
            var b = o + 8
            switch type {
            case 200:
                guard length >= 28 else { return nil }
                result.senderSSRC = u32(o + 4)
                result.senderReportNTP = u32(o + 8) << 16 | u32(o + 12) >> 16
                b = o + 28
                fallthrough
            case 201:
                if type == 201 { result.senderSSRC = u32(o + 4) }
                for _ in 0..<count where b + 24 <= o + length {
                    let w = u32(b + 4)
                    var lost = Int32(bitPattern: w & 0xFFFFFF)
                    if lost & 0x800000 != 0 { lost |= ~0xFFFFFF }
                    result.blocks.append(ReportBlock(ssrc: u32(b), fractionLost: UInt8(w >> 24), cumulativeLost: lost, extendedMax: u32(b + 8),
                                                     jitter: u32(b + 12), lastSR: u32(b + 16), delaySinceLastSR: u32(b + 20)))
                    b += 24
                }
            case 203:
                result.bye = true
            default:
                break
            }
            o += length
        }
        return result
    }
}
