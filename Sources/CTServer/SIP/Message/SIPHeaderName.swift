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

    fileprivate init(key: String, canonical: String, id: Int) {
        self.key = key
        self.canonical = canonical
        self.id = id
    }

    public static func == (a: SIPHeaderName, b: SIPHeaderName) -> Bool {
        if a.id != 0 || b.id != 0 { return a.id == b.id }
        return a.key == b.key
    }
    public func hash(into h: inout Hasher) { h.combine(key) }
    public var description: String { canonical }

    /// The names the stack knows, in id order (id = index + 1).
    static let knownSpellings = ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length", "Content-Type",
                                 "Content-Encoding", "Route", "Record-Route", "Require", "Proxy-Require", "Supported", "Unsupported",
                                 "Allow", "Accept", "Expires", "Authorization", "Proxy-Authorization", "WWW-Authenticate",
                                 "Proxy-Authenticate", "Server", "User-Agent", "Retry-After", "Subject", "Event", "Refer-To",
                                 "Referred-By", "Session-Expires", "Allow-Events", "Warning", "Date", "Subscription-State", "Min-Expires"]

    static let knownIDs: [String: Int] = {
        var d: [String: Int] = [:]
        for (i, n) in knownSpellings.enumerated() { d[n.lowercased()] = i + 1 }
        return d
    }()

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
    public static let minExpires = SIPHeaderName("Min-Expires")

    /// Compact forms (RFC 3261 §7.3.3 and the extensions that define one).
    static let compact: [String: SIPHeaderName] = [
        "v": .via, "f": .from, "t": .to, "i": .callID, "m": .contact, "l": .contentLength, "c": .contentType,
        "e": .contentEncoding, "k": .supported, "s": .subject, "o": .event, "r": .referTo, "b": .referredBy,
        "x": .sessionExpires, "u": .allowEvents,
    ]

    /// The name as it appeared on the wire: compact forms expanded, known names canonicalised.
    public init(parsing raw: Substring) {
        var s = String(raw)
        self = s.withUTF8 { SIPHeaderName.table.name(SIPHeaderName.table.find($0), orText: $0) }
    }

    /// The parser's lookup: a name's octets to a known id without making a String.
    static let table = SIPHeaderNameTable()
}

/// Known header names in one open-addressed table keyed by (length, first and last octet,
/// case-folded), their lower-case spellings in one contiguous block. One lookup costs a hash
/// and one case-insensitive compare, and allocates nothing. The table lives as long as the
/// process (it is a static), so its blocks are plain pointers: no bounds checks, no closures.
final class SIPHeaderNameTable: @unchecked Sendable {
    /// By id; index 0 is unused.
    let names: [SIPHeaderName]
    /// Lower-case spellings, back to back; `offsets[id]..<offsets[id] + lengths[id]`.
    private let spellings: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>
    private let lengths: UnsafeMutablePointer<Int>
    /// Slot → id (0: empty). Linear probing.
    private let slots: UnsafeMutablePointer<UInt16>
    /// Compact letter (lower case) → id.
    private let compact: UnsafeMutablePointer<UInt16>
    static let slotCount = 256

    init() {
        var names = [SIPHeaderName(key: "", canonical: "", id: 0)]
        var spellings: [UInt8] = [], offsets = [0], lengths = [0]
        for s in SIPHeaderName.knownSpellings {
            let n = SIPHeaderName(s)
            names.append(n)
            offsets.append(spellings.count)
            lengths.append(n.key.utf8.count)
            spellings += n.key.utf8
        }
        var slots = [UInt16](repeating: 0, count: Self.slotCount)
        for id in 1..<names.count {
            let k = offsets[id]
            var h = Self.hash(length: lengths[id], first: spellings[k], last: spellings[k + lengths[id] - 1])
            while slots[h] != 0 { h = (h + 1) & (Self.slotCount - 1) }
            slots[h] = UInt16(id)
        }
        var compact = [UInt16](repeating: 0, count: 256)
        for (letter, n) in SIPHeaderName.compact { compact[Int(letter.utf8.first!)] = UInt16(n.id) }
        func block<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        self.names = names
        self.spellings = block(spellings)
        self.offsets = block(offsets)
        self.lengths = block(lengths)
        self.slots = block(slots)
        self.compact = block(compact)
    }

    @inline(__always) static func fold(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }

    @inline(__always) static func hash(length: Int, first: UInt8, last: UInt8) -> Int {
        (length &* 37 &+ Int(fold(first)) &* 11 &+ Int(fold(last))) & (slotCount - 1)
    }

    /// The id of the name in these octets (compact forms expanded), or 0 for a name we do not know.
    func find(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        let n = p.count
        guard n > 0, let base = p.baseAddress else { return 0 }
        if n == 1 { return Int(compact[Int(Self.fold(base[0]))]) }
        var h = Self.hash(length: n, first: base[0], last: base[n - 1])
        while true {
            let id = Int(slots[h])
            if id == 0 { return 0 }
            if lengths[id] == n {
                let sp = spellings + offsets[id]
                var i = 0
                while i < n, Self.fold(base[i]) == sp[i] { i += 1 }
                if i == n { return id }
            }
            h = (h + 1) & (Self.slotCount - 1)
        }
    }

    /// The name for an id from `find`, or a new one spelt as these octets.
    func name(_ id: Int, orText p: UnsafeBufferPointer<UInt8>) -> SIPHeaderName {
        if id != 0 { return names[id] }
        let text = String(decoding: p, as: UTF8.self)
        return SIPHeaderName(key: text.lowercased(), canonical: text, id: 0)
    }
}
