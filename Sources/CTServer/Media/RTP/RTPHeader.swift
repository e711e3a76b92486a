/// An RTP fixed header (RFC 3550 §5.1) read from or written to a datagram.
public struct RTPHeader: Equatable, Sendable {
    public var marker = false
    public var payloadType: UInt8 = 0
    public var sequence: UInt16 = 0
    public var timestamp: UInt32 = 0
    public var ssrc: UInt32 = 0
    /// Where the payload starts and how long it is (after CSRCs, extension and padding).
    public var payloadOffset = 12
    public var payloadLength = 0

    public init(marker: Bool = false, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
    }

    /// Parses a datagram; nil if it is not RTP version 2 or its lengths do not add up.
    /// RTCP (payload types 72-76 with the marker bit, RFC 5761) is rejected too.
    public static func parse(_ p: UnsafeRawBufferPointer) -> RTPHeader? {
        guard p.count >= 12, p[0] >> 6 == 2 else { return nil }
        let pt = p[1] & 0x7F
        if (72...76).contains(pt) { return nil }
        let cc = Int(p[0] & 0x0F)
        var offset = 12 + 4 * cc
        guard p.count >= offset else { return nil }
        if p[0] & 0x10 != 0 {
            guard p.count >= offset + 4 else { return nil }
            let words = Int(p[offset + 2]) << 8 | Int(p[offset + 3])
            offset += 4 + 4 * words
            guard p.count >= offset else { return nil }
        }
        var end = p.count
        if p[0] & 0x20 != 0 {
            let pad = Int(p[p.count - 1])
            guard pad > 0, end - pad >= offset else { return nil }
            end -= pad
        }
        var h = RTPHeader(marker: p[1] & 0x80 != 0, payloadType: pt,
                          sequence: UInt16(p[2]) << 8 | UInt16(p[3]),
                          timestamp: UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7]),
                          ssrc: UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11]))
        h.payloadOffset = offset
        h.payloadLength = end - offset
        return h
    }

    /// Writes the 12-byte header at `p`.
    public func write(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: (marker ? 0x80 : 0) | payloadType & 0x7F, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
    }
}

/// An RFC 4733 telephone-event payload (4 bytes).
public struct TelephoneEvent: Equatable, Sendable {
    public var event: UInt8
    public var end: Bool
    public var volume: UInt8
    public var duration: UInt16

    public init(event: UInt8, end: Bool, volume: UInt8 = 10, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    public static func parse(_ p: UnsafeRawBufferPointer) -> TelephoneEvent? {
        guard p.count >= 4 else { return nil }
        return TelephoneEvent(event: p[0], end: p[1] & 0x80 != 0, volume: p[1] & 0x3F, duration: UInt16(p[2]) << 8 | UInt16(p[3]))
    }

    public func write(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: event, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: (end ? 0x80 : 0) | volume & 0x3F, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: duration.bigEndian, toByteOffset: 2, as: UInt16.self)
    }

    public static let digits: [Character] = Array("0123456789*#ABCD")
    public static func digit(_ event: UInt8) -> Character? { event < 16 ? digits[Int(event)] : nil }
    public static func event(for digit: Character) -> UInt8? { digits.firstIndex(of: Character(digit.uppercased())).map(UInt8.init) }
}

/// Turns a stream of telephone-event packets into digits: one digit per event (keyed by the
/// event's RTP timestamp, RFC 4733 §2.5.1.3), reported on its first packet, so that lost or
/// repeated end packets neither lose nor double a digit.
public struct DTMFEventReceiver: Sendable {
    private var lastTimestamp: UInt32?
    private var lastEvent: UInt8 = 255
    public init() {}

    public mutating func receive(_ e: TelephoneEvent, timestamp: UInt32) -> Character? {
        if timestamp == lastTimestamp && e.event == lastEvent { return nil }
        lastTimestamp = timestamp
        lastEvent = e.event
        return TelephoneEvent.digit(e.event)
    }
}
