/// Typed views of the headers the stack acts on (RFC 3261 §20). Each parses one header value
/// (one element of a comma list) and throws `SIPHeaderError` on bad syntax.
public struct SIPHeaderError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// `;name=value` parameters after a header's main part. Names are lower-cased; values keep
/// quotes stripped. An empty parameter (";;") is an error (RFC 4475 3.1.2.1).
public struct SIPParameters: Equatable, Sendable {
    public var items: [(name: String, value: String?)] = []

    public static func == (a: SIPParameters, b: SIPParameters) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public init() {}

    public subscript(_ name: String) -> String?? {
        guard let p = items.first(where: { $0.name == name }) else { return nil }
        return .some(p.value)
    }

    public func has(_ name: String) -> Bool { items.contains { $0.name == name } }

    public mutating func set(_ name: String, _ value: String?) {
        if let i = items.firstIndex(where: { $0.name == name }) { items[i].value = value } else { items.append((name, value)) }
    }

    /// Parses text that starts with ';' (or is empty).
    init(parsing s: Substring) throws {
        var rest = s.trimmingLWS
        while !rest.isEmpty {
            guard rest.first == ";" else { throw SIPHeaderError("expected ';' before parameter") }
            rest = rest.dropFirst().trimmingLWS
            // Find the end of this parameter: next ';' outside quotes (scanning code units).
            let u = rest.utf8
            var end = u.startIndex
            var inQuote = false
            var escaped = false
            while end < u.endIndex {
                let c = u[end]
                if inQuote {
                    if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inQuote = false }
                } else if c == 0x22 { inQuote = true } else if c == 0x3B { break }
                end = u.index(after: end)
            }
            guard !inQuote else { throw SIPHeaderError("unterminated quoted parameter") }
            let item = rest[rest.startIndex..<end].trimmingLWS
            rest = rest[end...]
            guard !item.isEmpty else { throw SIPHeaderError("empty parameter") }
            if let eq = item.utf8.firstIndex(of: 0x3D) {
                let name = item[..<eq].trimmingLWS
                var value = item[item.index(after: eq)...].trimmingLWS
                guard SIPSymbols.isToken(name), !value.isEmpty else { throw SIPHeaderError("bad parameter \(item.prefix(30))") }
                if value.first == "\"" {
                    guard value.count >= 2, value.last == "\"" else { throw SIPHeaderError("bad quoted parameter") }
                    value = value.dropFirst().dropLast()
                } else {
                    // token / host (IPv6 reference allowed)
                    guard value.utf8.allSatisfy({ SIPSymbols.isToken($0) || $0 == 0x3A || $0 == 0x5B || $0 == 0x5D }) else {
                        throw SIPHeaderError("bad parameter value \(value.prefix(30))")
                    }
                }
                items.append((name.lowercased(), String(value)))
            } else {
                guard SIPSymbols.isToken(item) else { throw SIPHeaderError("bad parameter \(item.prefix(30))") }
                items.append((item.lowercased(), nil))
            }
        }
    }

    /// Serialised as RFC 3261 `generic-param`s: a value that is a token or a host stays bare,
    /// anything else (`+sip.instance="<urn:uuid:…>"`) is a quoted-string again.
    public var description: String { items.map { ";" + $0.name + ($0.value.map { "=" + Self.quotedIfNeeded($0) } ?? "") }.joined() }

    static func quotedIfNeeded(_ v: String) -> String {
        if !v.isEmpty, v.utf8.allSatisfy({ SIPSymbols.isToken($0) || $0 == 0x3A || $0 == 0x5B || $0 == 0x5D }) { return v }
        return "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Via: SIP/2.0/transport sent-by *(;params)   (RFC 3261 §20.42, §18.2.2; RFC 3581)
public struct SIPVia: Equatable, Sendable {
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters

    public init(transport: String, host: String, port: Int?, parameters: SIPParameters = SIPParameters()) {
        self.transport = transport
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public var branch: String? { parameters["branch"] ?? nil }

    public init(parsing text: Substring) throws {
        let s = text.trimmingLWS
        guard let slash1 = s.utf8.firstIndex(of: 0x2F) else { throw SIPHeaderError("Via without protocol") }
        let proto = s[..<slash1].trimmingLWS
        let afterProto = s[s.index(after: slash1)...].trimmingLWS
        guard let slash2 = afterProto.utf8.firstIndex(of: 0x2F) else { throw SIPHeaderError("Via without version") }
        let version = afterProto[..<slash2].trimmingLWS
        var rest = afterProto[afterProto.index(after: slash2)...].trimmingLWS
        guard proto.uppercased() == "SIP", version == "2.0" else { throw SIPHeaderError("Via protocol \(proto)/\(version)") }
        guard let sp = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) else { throw SIPHeaderError("Via without sent-by") }
        let t = rest[..<sp]
        guard SIPSymbols.isToken(t) else { throw SIPHeaderError("bad Via transport") }
        transport = t.uppercased()
        rest = rest[sp...].trimmingLWS
        let semi = rest.utf8.firstIndex(of: 0x3B) ?? rest.endIndex
        let sentBy = rest[..<semi].trimmingLWS
        (host, port) = try SIPURI.parseHostPort(sentBy)
        parameters = try SIPParameters(parsing: rest[semi...])
    }

    public var description: String {
        "SIP/2.0/\(transport) \(host)\(port.map { ":\($0)" } ?? "")\(parameters.description)"
    }
}

/// name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route,
/// Refer-To (RFC 3261 §20.10, §25.1).
public struct SIPNameAddr: Equatable, Sendable {
    public var displayName: String?
    public var uri: SIPURI
    /// The URI text as written (kept for exact echo).
    public var uriText: String
    public var parameters: SIPParameters
    /// Whether the URI was enclosed in <> (it must be when it has ',', ';' or '?').
    public var bracketed: Bool

    public var tag: String? { parameters["tag"] ?? nil }

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.uriText = uri.description
        self.parameters = parameters
        self.bracketed = true
    }

    public init(parsing text: Substring) throws {
        let s = text.trimmingLWS
        guard !s.isEmpty else { throw SIPHeaderError("empty address") }
        var rest: Substring
        if s.first == "\"" {
            // quoted-string display name
            var i = s.index(after: s.startIndex)
            var name = ""
            var closed = false
            while i < s.endIndex {
                let c = s[i]
                if c == "\\" {
                    let n = s.index(after: i)
                    guard n < s.endIndex else { break }
                    name.append(s[n])
                    i = s.index(after: n)
                    continue
                }
                if c == "\"" { closed = true; break }
                name.append(c)
                i = s.index(after: i)
            }
            guard closed else { throw SIPHeaderError("unterminated quoted display name") }
            displayName = name
            rest = s[s.index(after: i)...].trimmingLWS
            guard rest.first == "<" else { throw SIPHeaderError("display name without <URI>") }
        } else if let lt = s.utf8.firstIndex(of: 0x3C) {
            let dn = s[..<lt].trimmingLWS
            // Unquoted display name: *(token LWS) (RFC 4475 3.1.2.15 puts a ',' here).
            for word in dn.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !SIPSymbols.isToken(word) {
                throw SIPHeaderError("display name must be quoted")
            }
            displayName = dn.isEmpty ? nil : String(dn)
            rest = s[lt...]
        } else {
            rest = s
        }
        if rest.first == "<" {
            guard let gt = rest.utf8.firstIndex(of: 0x3E) else { throw SIPHeaderError("unclosed <") }
            let inner = rest[rest.index(after: rest.startIndex)..<gt]
            guard inner.first != " ", inner.last != " " else { throw SIPHeaderError("spaces inside <>") }
            uri = try SIPURI(parsing: inner)
            uriText = String(inner)
            bracketed = true
            parameters = try SIPParameters(parsing: rest[rest.index(after: gt)...])
        } else {
            // addr-spec: parameters after ';' belong to the header, and '?' or ',' must not appear.
            let semi = rest.utf8.firstIndex(of: 0x3B) ?? rest.endIndex
            let spec = rest[..<semi].trimmingLWS
            guard !spec.utf8.contains(0x3F), !spec.utf8.contains(0x2C) else { throw SIPHeaderError("URI with '?' or ',' must be in <>") }
            uri = try SIPURI(parsing: spec)
            uriText = String(spec)
            bracketed = false
            parameters = try SIPParameters(parsing: rest[semi...])
        }
    }

    public init(parsing text: String) throws { try self.init(parsing: Substring(text)) }

    public var description: String {
        var s = ""
        if let d = displayName {
            s += "\"" + d.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\" "
        }
        s += "<\(uriText)>" + parameters.description
        return s
    }
}

/// CSeq: number method (number < 2^32, RFC 3261 §8.1.1.5).
public struct SIPCSeq: Equatable, Sendable {
    public var number: UInt32
    public var method: String

    public init(number: UInt32, method: String) {
        self.number = number
        self.method = method
    }

    public init(parsing text: Substring) throws {
        let parts = text.trimmingLWS.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, SIPSymbols.isDigits(parts[0]), SIPSymbols.isToken(parts[1]) else { throw SIPHeaderError("bad CSeq") }
        guard let n = UInt32(parts[0]) else { throw SIPHeaderError("CSeq number over 2^32-1") }
        number = n
        method = String(parts[1])
    }

    public var description: String { "\(number) \(method)" }
}

extension SIPMessage {
    public var vias: [SIPVia] { get throws { try listValues(.via).map { try SIPVia(parsing: $0) } } }
    public var topVia: SIPVia? { listValues(.via).first.flatMap { try? SIPVia(parsing: $0) } }
    public var cseq: SIPCSeq? { value(.cseq).flatMap { try? SIPCSeq(parsing: Substring($0)) } }
    public var callID: String? { value(.callID) }
    public var from: SIPNameAddr? { value(.from).flatMap { try? SIPNameAddr(parsing: $0) } }
    public var to: SIPNameAddr? { value(.to).flatMap { try? SIPNameAddr(parsing: $0) } }
    public var maxForwards: Int? { value(.maxForwards).flatMap { SIPSymbols.isDigits($0) ? Int($0) : nil } }
    /// Option tags of a Require/Supported/Proxy-Require-like header.
    public func optionTags(_ name: SIPHeaderName) -> [String] { listValues(name).map(String.init).filter { !$0.isEmpty } }
}
