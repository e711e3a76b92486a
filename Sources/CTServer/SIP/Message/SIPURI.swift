/// A URI as found in SIP (RFC 3261 §19.1). sip: and sips: URIs are parsed into parts; other
/// schemes (tel:, and anything else RFC 4475 throws at us) are kept opaque.
public struct SIPURI: Equatable, Sendable, CustomStringConvertible {
    public var scheme: String
    /// Unescaped user part (may contain ';' as in RFC 4475 3.1.1.9, or NUL octets as in 3.1.1.4).
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int?
    /// URI parameters in order, names lower-cased, values unescaped (nil for flags like `lr`).
    public var parameters: [(name: String, value: String?)]
    /// Escaped `?` headers, kept as text and never turned into message headers.
    public var headers: String?
    /// For schemes other than sip/sips: everything after the colon.
    public var opaque: String?

    public static func == (a: SIPURI, b: SIPURI) -> Bool { a.description == b.description }

    public init(scheme: String = "sip", user: String? = nil, host: String, port: Int? = nil, parameters: [(name: String, value: String?)] = []) {
        self.scheme = scheme
        self.user = user
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public var isSIP: Bool { scheme == "sip" || scheme == "sips" }

    public func parameter(_ name: String) -> String?? {
        guard let p = parameters.first(where: { $0.name == name }) else { return nil }
        return .some(p.value)
    }

    /// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ":".
    static func hasScheme<S: StringProtocol>(_ s: S) -> Bool {
        guard let colon = s.utf8.firstIndex(of: 0x3A), colon != s.startIndex else { return false }
        return isScheme(s[s.startIndex..<colon].utf8)
    }

    /// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )   (RFC 3986 §3.1)
    static func isScheme<C: Collection>(_ scheme: C) -> Bool where C.Element == UInt8 {
        guard let f = scheme.first, (f | 0x20) >= 0x61 && (f | 0x20) <= 0x7A else { return false }
        return scheme.allSatisfy { c in
            let l = c | 0x20
            return (l >= 0x61 && l <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2D || c == 0x2E
        }
    }

    public init(parsing text: Substring) throws {
        guard SIPURI.hasScheme(text), let colon = text.utf8.firstIndex(of: 0x3A) else { throw SIPURIError("no scheme in \(text.prefix(40))") }
        guard !text.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 < 0x20 }) else { throw SIPURIError("white space in URI") }
        scheme = text[..<colon].lowercased()
        let rest = text[text.index(after: colon)...]
        parameters = []
        guard scheme == "sip" || scheme == "sips" else {
            host = ""
            opaque = String(rest)
            return
        }
        // The user part may hold '?', ';' and ',' (RFC 3261 user-unreserved; RFC 4475
        // 3.1.1.2), so the first '@' ends it before '?' headers or ';' params are looked for.
        var hostPart = rest
        if let at = rest.utf8.firstIndex(of: 0x40) {
            let userinfo = rest[..<at]
            hostPart = rest[rest.index(after: at)...]
            guard !userinfo.isEmpty else { throw SIPURIError("empty user") }
            if let pc = userinfo.utf8.firstIndex(of: 0x3A) {
                user = try SIPURI.unescape(userinfo[..<pc])
                password = try SIPURI.unescape(userinfo[userinfo.index(after: pc)...])
            } else {
                user = try SIPURI.unescape(userinfo)
            }
        }
        if let q = hostPart.utf8.firstIndex(of: 0x3F) {
            headers = String(hostPart[hostPart.index(after: q)...])
            hostPart = hostPart[..<q]
        }
        let pieces = hostPart.splitASCII(0x3B)
        let hostport = pieces[0]
        for p in pieces.dropFirst() {
            guard !p.isEmpty else { throw SIPURIError("empty URI parameter") }
            if let eq = p.utf8.firstIndex(of: 0x3D) {
                parameters.append((try SIPURI.unescape(p[..<eq]).lowercased(), try SIPURI.unescape(p[p.index(after: eq)...])))
            } else {
                parameters.append((try SIPURI.unescape(p).lowercased(), nil))
            }
        }
        (host, port) = try SIPURI.parseHostPort(hostport)
    }

    public init(parsing text: String) throws { try self.init(parsing: Substring(text)) }

    /// host [":" port]; host is a name, IPv4 or [IPv6].
    static func parseHostPort(_ s: Substring) throws -> (String, Int?) {
        var host: Substring
        var portText: Substring?
        if s.hasPrefix("[") {
            guard let close = s.utf8.firstIndex(of: 0x5D) else { throw SIPURIError("unclosed IPv6 reference") }
            host = s[s.startIndex...close]
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw SIPURIError("junk after IPv6 reference") }
                portText = after.dropFirst()
            }
        } else if let c = s.utf8.firstIndex(of: 0x3A) {
            host = s[..<c]
            portText = s[s.index(after: c)...]
        } else {
            host = s
        }
        guard !host.isEmpty else { throw SIPURIError("empty host") }
        if !host.hasPrefix("[") {
            guard host.utf8.allSatisfy({ c in
                (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F
            }) else { throw SIPURIError("bad host \(host.prefix(40))") }
        }
        var port: Int?
        if let pt = portText {
            guard SIPSymbols.isDigits(pt), let p = Int(pt), p <= 65535 else { throw SIPURIError("bad port") }
            port = p
        }
        return (String(host), port)
    }

    /// Decodes %HH escapes; a '%' not followed by two hex digits is an error.
    static func unescape(_ s: Substring) throws -> String {
        guard s.utf8.contains(0x25) else { return String(s) }   // a code-unit scan: Foundation's contains(String) is a CFString search
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == 0x25 {
                guard it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) else { throw SIPURIError("bad % escape") }
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }

    static func escapeUser(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if SIPSymbols.isToken(b) && b != 0x25 || "&=+$,;?/".utf8.contains(b) { out.append(c) }
            else { out += String(format: "%%%02X", b) }
        }
        return out
    }

    public var description: String {
        if let opaque { return "\(scheme):\(opaque)" }
        var s = "\(scheme):"
        if let user {
            s += SIPURI.escapeUser(user)
            if let password { s += ":" + SIPURI.escapeUser(password) }
            s += "@"
        }
        s += host
        if let port { s += ":\(port)" }
        for p in parameters { s += ";" + p.name + (p.value.map { "=" + $0 } ?? "") }
        if let headers { s += "?" + headers }
        return s
    }
}

public struct SIPURIError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
