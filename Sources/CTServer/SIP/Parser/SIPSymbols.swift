/// Character classes of the SIP grammar (RFC 3261 §25.1).
enum SIPSymbols {
    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    /// The same set as two 64-bit masks (octets 0–63, 64–127): no table, no lazy global.
    @inline(__always) static func isToken(_ c: UInt8) -> Bool {
        c < 64 ? (0x03FF_6CA2_0000_0000 as UInt64) >> UInt64(c) & 1 == 1
            : c < 128 && (0x47FF_FFFF_87FF_FFFE as UInt64) >> UInt64(c - 64) & 1 == 1
    }

    static func isToken<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { isToken($0) }
    }

    @inline(__always) static func isWSP(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    static func isDigits<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
}

extension StringProtocol {
    /// Trims SP and HTAB (SIP's linear white space after unfolding).
    var trimmingLWS: Substring {
        let sub = Substring(self)
        let u = sub.utf8
        var start = u.startIndex
        var end = u.endIndex
        while start < end, SIPSymbols.isWSP(u[start]) { start = u.index(after: start) }
        while end > start, SIPSymbols.isWSP(u[u.index(before: end)]) { end = u.index(before: end) }
        return sub[start..<end]
    }
}

/// Splits a header value at commas that are outside quoted strings and angle brackets
/// (RFC 3261 §7.3.1: several values in one header line). Scans UTF-8 code units: the
/// delimiters are ASCII, and grapheme-level iteration was the parser's top cost.
func splitHeaderList(_ s: Substring) -> [Substring] {
    var parts: [Substring] = []
    var inQuote = false
    var angle = 0
    var escaped = false
    let u = s.utf8
    var start = u.startIndex
    var i = u.startIndex
    while i < u.endIndex {
        let c = u[i]
        if inQuote {
            if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inQuote = false }
        } else if c == 0x22 {
            inQuote = true
        } else if c == 0x3C {
            angle += 1
        } else if c == 0x3E {
            angle = max(0, angle - 1)
        } else if c == 0x2C && angle == 0 {
            parts.append(s[start..<i].trimmingLWS)
            start = u.index(after: i)
        }
        i = u.index(after: i)
    }
    parts.append(s[start...].trimmingLWS)
    return parts
}

extension Substring {
    /// Splits at an ASCII delimiter, keeping empty pieces (code-unit scan, no grapheme work).
    func splitASCII(_ delimiter: UInt8) -> [Substring] {
        var out: [Substring] = []
        var start = utf8.startIndex
        var i = utf8.startIndex
        while i < utf8.endIndex {
            if utf8[i] == delimiter {
                out.append(self[start..<i])
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        out.append(self[start...])
        return out
    }
}
