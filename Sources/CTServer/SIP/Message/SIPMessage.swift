/// A SIP message (RFC 3261 §7): a start line, header fields in order, and a body.
///
/// Header values are kept verbatim (after unfolding); typed views (`SIPHeaderValues.swift`)
/// parse them on demand, so unknown headers survive untouched and relaying stays exact.
public struct SIPMessage: Equatable, Sendable {
    public enum StartLine: Equatable, Sendable {
        case request(method: String, uri: String, version: String)
        case response(version: String, code: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: [SIPHeader]
    public var body: [UInt8]

    public init(startLine: StartLine, headers: [SIPHeader] = [], body: [UInt8] = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public var isRequest: Bool { if case .request = startLine { return true } else { return false } }

    public var method: String? { if case .request(let m, _, _) = startLine { return m } else { return nil } }
    public var requestURI: String? { if case .request(_, let u, _) = startLine { return u } else { return nil } }
    public var statusCode: Int? { if case .response(_, let c, _) = startLine { return c } else { return nil } }
    public var version: String {
        switch startLine {
        case .request(_, _, let v), .response(let v, _, _): return v
        }
    }

    /// The values of every header line with this name, in order.
    public func values(_ name: SIPHeaderName) -> [String] { headers.filter { $0.name == name }.map(\.value) }

    /// The first value of this header, if any.
    public func value(_ name: SIPHeaderName) -> String? { headers.first { $0.name == name }?.value }

    /// Every comma-separated element of every line of this header (Via, Contact, Route …).
    public func listValues(_ name: SIPHeaderName) -> [Substring] {
        headers.filter { $0.name == name }.flatMap { splitHeaderList(Substring($0.value)) }
    }

    public func count(_ name: SIPHeaderName) -> Int { headers.reduce(0) { $0 + ($1.name == name ? 1 : 0) } }

    public mutating func set(_ name: SIPHeaderName, _ value: String) {
        headers.removeAll { $0.name == name }
        headers.append(SIPHeader(name: name, value: value))
    }

    public mutating func add(_ name: SIPHeaderName, _ value: String) { headers.append(SIPHeader(name: name, value: value)) }

    public mutating func remove(_ name: SIPHeaderName) { headers.removeAll { $0.name == name } }

    /// Wire form: start line, headers in order (full names), Content-Length set to the body.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + body.count)
        switch startLine {
        case .request(let m, let u, let v): out += Array("\(m) \(u) \(v)\r\n".utf8)
        case .response(let v, let c, let r):
            // A reason phrase may quote parser diagnostics: never let control octets through.
            let safe = String(String.UnicodeScalarView(r.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
            out += Array("\(v) \(c) \(safe)\r\n".utf8)
        }
        for h in headers where h.name != .contentLength {
            out += Array(h.name.canonical.utf8)
            out += [0x3A, 0x20]
            out += Array(h.value.utf8)
            out += [0x0D, 0x0A]
        }
        out += Array("Content-Length: \(body.count)\r\n\r\n".utf8)
        out += body
        return out
    }
}

public struct SIPHeader: Equatable, Sendable {
    public var name: SIPHeaderName
    public var value: String

    public init(name: SIPHeaderName, value: String) {
        self.name = name
        self.value = value
    }
}

/// A header field name, case-insensitive, with compact forms expanded (RFC 3261 §7.3.3).
public struct SIPHeaderName: Hashable, Sendable, CustomStringConvertible {
    /// Lower-case full name: the identity.
    public let key: String
    /// Spelling used when we serialise.
    public let canonical: String
    /// A small number for the names the stack knows (fast equality); 0 for others.
    let id: Int

    public init(_ canonical: String) {
        self.canonical = canonical
        key = canonical.lowercased()
        id = SIPHeaderName.knownIDs[key] ?? 0
    }

    private init(key: String, canonical: String) {
        self.key = key
        self.canonical = canonical
        id = 0
    }

    public static func == (a: SIPHeaderName, b: SIPHeaderName) -> Bool {
        if a.id != 0 || b.id != 0 { return a.id == b.id }
        return a.key == b.key
    }
    public func hash(into h: inout Hasher) { h.combine(key) }

    static let knownIDs: [String: Int] = {
        let names = ["via", "from", "to", "call-id", "cseq", "contact", "max-forwards", "content-length", "content-type",
                     "content-encoding", "route", "record-route", "require", "proxy-require", "supported", "unsupported", "allow",
                     "accept", "expires", "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate", "server",
                     "user-agent", "retry-after", "subject", "event", "refer-to", "referred-by", "session-expires", "allow-events",
                     "warning", "date", "subscription-state", "min-expires"]
        var d: [String: Int] = [:]
        for (i, n) in names.enumerated() { d[n] = i + 1 }
        return d
    }()
    public var description: String { canonical }

    public static let via = SIPHeaderName("Via")
    public static let from = SIPHeaderName("From")
    public static let to = SIPHeaderName("To")
    public static let callID = SIPHeaderName("Call-ID")
    public static let cseq = SIPHeaderName("CSeq")
    public static let contact = SIPHeaderName("Contact")
    public static let maxForwards = SIPHeaderName("Max-Forwards")
    public static let contentLength = SIPHeaderName("Content-Length")
    public static let contentType = SIPHeaderName("Content-Type")
    public static let contentEncoding = SIPHeaderName("Content-Encoding")
    public static let route = SIPHeaderName("Route")
    public static let recordRoute = SIPHeaderName("Record-Route")
    public static let require = SIPHeaderName("Require")
    public static let proxyRequire = SIPHeaderName("Proxy-Require")
    public static let supported = SIPHeaderName("Supported")
    public static let unsupported = SIPHeaderName("Unsupported")
    public static let allow = SIPHeaderName("Allow")
    public static let accept = SIPHeaderName("Accept")
    public static let expires = SIPHeaderName("Expires")
    public static let authorization = SIPHeaderName("Authorization")
    public static let proxyAuthorization = SIPHeaderName("Proxy-Authorization")
    public static let wwwAuthenticate = SIPHeaderName("WWW-Authenticate")
    public static let proxyAuthenticate = SIPHeaderName("Proxy-Authenticate")
    public static let server = SIPHeaderName("Server")
    public static let userAgent = SIPHeaderName("User-Agent")
    public static let retryAfter = SIPHeaderName("Retry-After")
    public static let subject = SIPHeaderName("Subject")
    public static let event = SIPHeaderName("Event")
    public static let referTo = SIPHeaderName("Refer-To")
    public static let referredBy = SIPHeaderName("Referred-By")
    public static let sessionExpires = SIPHeaderName("Session-Expires")
    public static let allowEvents = SIPHeaderName("Allow-Events")
    public static let warning = SIPHeaderName("Warning")
    public static let date = SIPHeaderName("Date")
    public static let subscriptionState = SIPHeaderName("Subscription-State")

    static let compact: [String: SIPHeaderName] = [
        "v": .via, "f": .from, "t": .to, "i": .callID, "m": .contact, "l": .contentLength, "c": .contentType,
        "e": .contentEncoding, "k": .supported, "s": .subject, "o": .event, "r": .referTo, "b": .referredBy,
        "x": .sessionExpires, "u": .allowEvents,
    ]

    static let known: [String: SIPHeaderName] = {
        var d: [String: SIPHeaderName] = [:]
        for n in [via, from, to, callID, cseq, contact, maxForwards, contentLength, contentType, contentEncoding, route, recordRoute,
                  require, proxyRequire, supported, unsupported, allow, accept, expires, authorization, proxyAuthorization,
                  wwwAuthenticate, proxyAuthenticate, server, userAgent, retryAfter, subject, event, referTo, referredBy,
                  sessionExpires, allowEvents, warning, date, subscriptionState] {
            d[n.key] = n
        }
        return d
    }()

    /// The name as it appeared on the wire: compact forms expanded, known names canonicalised.
    public init(parsing raw: Substring) {
        let lower = raw.lowercased()
        if let c = SIPHeaderName.compact[lower] { self = c }
        else if let k = SIPHeaderName.known[lower] { self = k }
        else { self.init(key: lower, canonical: String(raw)) }
    }
}
