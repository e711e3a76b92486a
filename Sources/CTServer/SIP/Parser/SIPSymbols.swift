/// Character classes of the SIP grammar (RFC 3261 §25.1).
enum SIPSymbols {
    /// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    static let tokenTable: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(c)] = true }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(c)] = true }
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(c)] = true }
        for c in "-.!%*_+`'~".utf8 { t[Int(c)] = true }
        return t
    }()

    @inline(__always) static func isToken(_ c: UInt8) -> Bool { tokenTable[Int(c)] }

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
/// (RFC 3261 §7.3.1: several values in one header line).
func splitHeaderList(_ s: Substring) -> [Substring] {
    var parts: [Substring] = []
    var inQuote = false
    var angle = 0
    var escaped = false
    var start = s.startIndex
    var i = s.startIndex
    while i < s.endIndex {
        let c = s[i]
        if inQuote {
            if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inQuote = false }
        } else if c == "\"" {
            inQuote = true
        } else if c == "<" {
            angle += 1
        } else if c == ">" {
            angle = max(0, angle - 1)
        } else if c == "," && angle == 0 {
            parts.append(s[start..<i].trimmingLWS)
            start = s.index(after: i)
        }
        i = s.index(after: i)
    }
    parts.append(s[start...].trimmingLWS)
    return parts
}
