/// A small JSON writer for the desktop's events (strings, numbers, booleans, string maps,
/// arrays and objects of those): several times faster than JSONSerialization, which was most of
/// App-Operate's CPU with hundreds of sessions (docs/benchmarks.md, "Web desktop").
/// Keys are written in sorted order, so equal values give equal text.
enum JSONText {
    static func encode(_ value: Any) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    static func write(_ value: Any, into out: inout String) {
        switch value {
        case let s as String: string(s, into: &out)
        case let b as Bool: out += b ? "true" : "false"
        case let i as Int: out += String(i)
        case let i as Int64: out += String(i)
        case let u as UInt64: out += String(u)
        case let u as UInt32: out += String(u)
        case let d as Double: out += d.isFinite ? String(d) : "null"
        case let m as [String: String]:
            out += "{"
            var first = true
            for k in m.keys.sorted() {
                if !first { out += "," }
                first = false
                string(k, into: &out)
                out += ":"
                string(m[k]!, into: &out)
            }
            out += "}"
        case let m as [String: Any]:
            out += "{"
            var first = true
            for k in m.keys.sorted() {
                if !first { out += "," }
                first = false
                string(k, into: &out)
                out += ":"
                write(m[k]!, into: &out)
            }
            out += "}"
        case let a as [[String: String]]:
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += "," }
                write(x, into: &out)
            }
            out += "]"
        case let a as [String]:
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += "," }
                string(x, into: &out)
            }
            out += "]"
        case let a as [Any]:
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += "," }
                write(x, into: &out)
            }
            out += "]"
        default:
            out += "null"
        }
    }

    /// RFC 8259 §7: quote, backslash and control characters escaped; everything else as is.
    static func string(_ s: String, into out: inout String) {
        out += "\""
        var plain = true
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { plain = false; break }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
