/// G.711 µ-law and A-law (ITU-T G.711), table driven. Internal audio is 8 kHz 16-bit linear.
public enum G711 {
    public enum Law: Sendable, Equatable { case ulaw, alaw }

    public static let ulawToLinear: [Int16] = (0..<256).map { decodeULaw(UInt8($0)) }
    public static let alawToLinear: [Int16] = (0..<256).map { decodeALaw(UInt8($0)) }
    /// Indexed by the sample's top 14 bits (sample >> 2, offset by 8192).
    public static let linearToULaw: [UInt8] = (0..<16384).map { encodeULaw(Int16(truncatingIfNeeded: ($0 - 8192) << 2)) }
    /// Indexed by the sample's top 13 bits (sample >> 3, offset by 4096).
    public static let linearToALaw: [UInt8] = (0..<8192).map { encodeALaw(Int16(truncatingIfNeeded: ($0 - 4096) << 3)) }

    @inline(__always) public static func encode(_ s: Int16, _ law: Law) -> UInt8 {
        switch law {
        case .ulaw: return linearToULaw[Int(s >> 2) + 8192]
        case .alaw: return linearToALaw[Int(s >> 3) + 4096]
        }
    }

    @inline(__always) public static func decode(_ b: UInt8, _ law: Law) -> Int16 {
        law == .ulaw ? ulawToLinear[Int(b)] : alawToLinear[Int(b)]
    }

    /// Decodes `count` bytes into `out` (which must hold `count` samples).
    public static func decode(_ src: UnsafeRawBufferPointer, count: Int, law: Law, into out: UnsafeMutablePointer<Int16>) {
        let table = law == .ulaw ? ulawToLinear : alawToLinear
        table.withUnsafeBufferPointer { t in
            for i in 0..<count { out[i] = t[Int(src[i])] }
        }
    }

    public static func encode(_ src: UnsafePointer<Int16>, count: Int, law: Law, into out: UnsafeMutableRawPointer) {
        switch law {
        case .ulaw:
            linearToULaw.withUnsafeBufferPointer { t in
                for i in 0..<count { out.storeBytes(of: t[Int(src[i] >> 2) + 8192], toByteOffset: i, as: UInt8.self) }
            }
        case .alaw:
            linearToALaw.withUnsafeBufferPointer { t in
                for i in 0..<count { out.storeBytes(of: t[Int(src[i] >> 3) + 4096], toByteOffset: i, as: UInt8.self) }
            }
        }
    }

    // Reference algorithms (Sun's g711.c), used to build the tables.
    static func encodeULaw(_ sample: Int16) -> UInt8 {
        let bias = 0x84, clip = 32635
        var s = Int(sample)
        let sign = s < 0 ? 0x80 : 0
        if s < 0 { s = -s }
        if s > clip { s = clip }
        s += bias
        var exponent = 7
        var mask = 0x4000
        while exponent > 0 && s & mask == 0 { exponent -= 1; mask >>= 1 }
        let mantissa = (s >> (exponent + 3)) & 0x0F
        return UInt8(~(sign | (exponent << 4) | mantissa) & 0xFF)
    }

    static func decodeULaw(_ byte: UInt8) -> Int16 {
        let u = Int(~byte & 0xFF)
        var t = ((u & 0x0F) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        return Int16(u & 0x80 != 0 ? 0x84 - t : t - 0x84)
    }

    static func encodeALaw(_ sample: Int16) -> UInt8 {
        var s = Int(sample) >> 3   // 13-bit
        var mask: Int
        if s >= 0 { mask = 0xD5 } else { mask = 0x55; s = -s - 1 }
        let segEnds = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]
        var seg = 0
        while seg < 8 && s > segEnds[seg] { seg += 1 }
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        var aval = seg << 4
        aval |= seg < 2 ? (s >> 1) & 0x0F : (s >> seg) & 0x0F
        return UInt8((aval ^ mask) & 0xFF)
    }

    static func decodeALaw(_ byte: UInt8) -> Int16 {
        let a = Int(byte) ^ 0x55
        var t = (a & 0x0F) << 4
        let seg = (a & 0x70) >> 4
        switch seg {
        case 0: t += 8
        case 1: t += 0x108
        default: t += 0x108; t <<= seg - 1
        }
        return Int16(a & 0x80 != 0 ? t : -t)
    }
}
