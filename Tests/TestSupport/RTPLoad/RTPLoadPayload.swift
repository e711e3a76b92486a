/// The load generator's PCMU payload (`hotline-bench rtp-load`): every 160-octet frame says
/// which call sent it and which of that call's packets it is, so each echoed packet can be
/// checked — right call, right packet, every octet intact, never twice.
///
/// Each octet carries seven bits with the top bit set (0x80...0xFF). Those are the positive
/// µ-law codes, and every one survives a G.711 decode and re-encode unchanged (0xFF is +0, the
/// code the encoder gives for silence); only 0x7F (−0) would come back changed, and it is never
/// used. So an echo that decodes, mixes nothing in and re-encodes returns the octets as sent.
///
///   octets 0–2   call index, 21 bits (7 per octet, most significant first)
///   octets 3–7   packet number within the call, 32 bits (4 + 7·4)
///   octet  8     check: the sum of octets 0–7's low seven bits, modulo 128
///   octets 9–159 a pattern that depends on call, packet and position
public enum RTPLoadPayload {
    public static let size = 160
    public static let maxCalls = 1 << 21

    /// Writes call `call`'s packet `packet` into `out` (160 octets).
    @inline(__always)
    public static func write(call: Int, packet: UInt32, into out: UnsafeMutableRawPointer) {
        let o = out.assumingMemoryBound(to: UInt8.self)
        let c = UInt32(truncatingIfNeeded: call)
        o[0] = 0x80 | UInt8((c >> 14) & 0x7F)
        o[1] = 0x80 | UInt8((c >> 7) & 0x7F)
        o[2] = 0x80 | UInt8(c & 0x7F)
        o[3] = 0x80 | UInt8((packet >> 28) & 0x0F)
        o[4] = 0x80 | UInt8((packet >> 21) & 0x7F)
        o[5] = 0x80 | UInt8((packet >> 14) & 0x7F)
        o[6] = 0x80 | UInt8((packet >> 7) & 0x7F)
        o[7] = 0x80 | UInt8(packet & 0x7F)
        var sum: UInt32 = 0
        for i in 0..<8 { sum &+= UInt32(o[i] & 0x7F) }
        o[8] = 0x80 | UInt8(sum & 0x7F)
        let seed = c &* 31 &+ packet &* 7
        for i in 9..<size { o[i] = 0x80 | UInt8((seed &+ UInt32(i)) & 0x7F) }
    }

    /// The call and packet a payload says it is, when all 160 octets are exactly what that call
    /// and packet would have sent; nil for anything else (a frame concealed, mixed, truncated,
    /// scaled or from another source).
    @inline(__always)
    public static func read(_ p: UnsafeRawPointer, count: Int) -> (call: Int, packet: UInt32)? {
        guard count == size else { return nil }
        let o = p.assumingMemoryBound(to: UInt8.self)
        var sum: UInt32 = 0
        for i in 0..<8 {
            guard o[i] & 0x80 != 0 else { return nil }
            sum &+= UInt32(o[i] & 0x7F)
        }
        guard o[8] == 0x80 | UInt8(sum & 0x7F), o[3] & 0x70 == 0 else { return nil }
        let c = UInt32(o[0] & 0x7F) << 14 | UInt32(o[1] & 0x7F) << 7 | UInt32(o[2] & 0x7F)
        let packet = UInt32(o[3] & 0x0F) << 28 | UInt32(o[4] & 0x7F) << 21 | UInt32(o[5] & 0x7F) << 14 | UInt32(o[6] & 0x7F) << 7 | UInt32(o[7] & 0x7F)
        let seed = c &* 31 &+ packet &* 7
        for i in 9..<size where o[i] != 0x80 | UInt8((seed &+ UInt32(i)) & 0x7F) { return nil }
        return (Int(c), packet)
    }
}
