/// A SIP message (RFC 3261 §7): a start line, header fields in order, and a body.
///
/// A parsed message keeps the bytes it was parsed from; each header field is then a name and
/// the span of its (trimmed) value in those bytes, and becomes a String only when it is read
/// (`value`, `values`, `listValues`). Typed views (`SIPHeaderValues.swift`) parse a value on
/// demand, so unknown headers survive untouched, relaying stays exact, and a message the
/// screen drops costs no string at all. Fields set or added in code hold their text.
public struct SIPMessage: Equatable, Sendable {
    public enum StartLine: Equatable, Sendable {
        case request(method: String, uri: String, version: String)
        case response(version: String, code: Int, reason: String)
    }

    /// A header field, plain data: its name (a known id, or an entry of `names`) and its
    /// value (a span of `raw`, or an entry of `texts`). Copying fields touches no reference count.
    struct Field: Sendable {
        /// > 0: a known name's id; < 0: `names[-name - 1]`.
        var name: Int32
        /// ≥ 0: `texts[text]`; −1: the value is `raw[start..<end]`, LWS-trimmed, on one line.
        var text: Int32
        var start: Int32
        var end: Int32
    }

    public var startLine: StartLine
    /// The fields in order.
    var fields: [Field]
    /// Names we do not know, and values set in code or unfolded, referred to by `fields`.
    var names: [SIPHeaderName] = []
    var texts: [String] = []
    /// The bytes the message was parsed from (empty for a message built in code).
    let raw: [UInt8]
    /// The body: octets `bodySpan` of `raw` until it is set in code.
    private var bodyText: [UInt8]?
    var bodySpan: Range<Int32> = 0..<0
    public var body: [UInt8] {
        get { bodyText ?? (bodySpan.isEmpty ? [] : Array(raw[Int(bodySpan.lowerBound)..<Int(bodySpan.upperBound)])) }
        set { bodyText = newValue }
    }
    /// The body's length without copying it.
    public var bodyCount: Int { bodyText?.count ?? bodySpan.count }

    public init(startLine: StartLine, headers: [SIPHeader] = [], body: [UInt8] = []) {
        self.startLine = startLine
        fields = []
        raw = []
        bodyText = body
        add(headers)
    }

    init(startLine: StartLine, fields: [Field], names: [SIPHeaderName], texts: [String], raw: [UInt8]) {
        self.startLine = startLine
        self.fields = fields
        self.names = names
        self.texts = texts
        self.raw = raw
    }

    /// Every header line as name and text, in order. Reading it makes a String of every value;
    /// the accessors below make only the ones asked for.
    public var headers: [SIPHeader] {
        get { fields.map { SIPHeader(name: name(of: $0), value: text(of: $0)) } }
        set {
            fields.removeAll()
            names.removeAll()
            texts.removeAll()
            add(newValue)
        }
    }

    @inline(__always) func name(of f: Field) -> SIPHeaderName {
        f.name > 0 ? SIPHeaderName.table.names[Int(f.name)] : names[Int(-f.name - 1)]
    }

    @inline(__always) func text(of f: Field) -> String {
        if f.text >= 0 { return texts[Int(f.text)] }
        return raw.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[Int(f.start)..<Int(f.end)]), as: UTF8.self) }
    }

    @inline(__always) func matches(_ f: Field, _ n: SIPHeaderName) -> Bool {
        n.id != 0 ? Int(f.name) == n.id : f.name < 0 && names[Int(-f.name - 1)].key == n.key
    }

    /// Whether two fields hold the same octets (no String made for spans).
    func sameValue(_ a: Field, _ b: Field) -> Bool {
        if a.text < 0, b.text < 0 {
            return a.end - a.start == b.end - b.start && raw[Int(a.start)..<Int(a.end)].elementsEqual(raw[Int(b.start)..<Int(b.end)])
        }
        return text(of: a) == text(of: b)
    }

    private mutating func field(_ n: SIPHeaderName, _ value: String) -> Field {
        var ref = Int32(n.id)
        if n.id == 0 {
            names.append(n)
            ref = -Int32(names.count)
        }
        texts.append(value)
        return Field(name: ref, text: Int32(texts.count - 1), start: 0, end: 0)
    }

    public static func == (a: SIPMessage, b: SIPMessage) -> Bool {
        a.startLine == b.startLine && a.body == b.body && a.headers == b.headers
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
    public func values(_ name: SIPHeaderName) -> [String] { fields.compactMap { matches($0, name) ? text(of: $0) : nil } }

    /// The first value of this header, if any.
    public func value(_ name: SIPHeaderName) -> String? {
        for f in fields where matches(f, name) { return text(of: f) }
        return nil
    }

    /// Every comma-separated element of every line of this header (Via, Contact, Route …).
    public func listValues(_ name: SIPHeaderName) -> [Substring] {
        var out: [Substring] = []
        for f in fields where matches(f, name) { out += splitHeaderList(Substring(text(of: f))) }
        return out
    }

    public func count(_ name: SIPHeaderName) -> Int { fields.reduce(0) { $0 + (matches($1, name) ? 1 : 0) } }

    public mutating func set(_ name: SIPHeaderName, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func add(_ name: SIPHeaderName, _ value: String) { fields.append(field(name, value)) }

    /// Appends these header lines, in order.
    public mutating func add(_ headers: [SIPHeader]) {
        for h in headers { add(h.name, h.value) }
    }

    /// Puts a header line first among the fields (a new top Via).
    public mutating func prepend(_ name: SIPHeaderName, _ value: String) { fields.insert(field(name, value), at: 0) }

    /// Replaces the value of the `index`-th field (an index into `headers`).
    public mutating func replaceValue(at index: Int, with value: String) {
        texts.append(value)
        fields[index].text = Int32(texts.count - 1)
    }

    /// The index (into `headers`) of the first line with this name.
    public func firstIndex(of name: SIPHeaderName) -> Int? { fields.firstIndex { matches($0, name) } }

    public mutating func remove(_ name: SIPHeaderName) {
        let before = fields.count
        let kept = fields.filter { !matches($0, name) }
        fields = kept
        if fields.count != before, fields.count * 2 < texts.count { headers = headers }   // drop orphaned texts
    }

    /// Wire form: start line, headers in order (full names), Content-Length set to the body.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + bodyCount)
        switch startLine {
        case .request(let m, let u, let v):
            out += m.utf8; out.append(0x20); out += u.utf8; out.append(0x20); out += v.utf8; out += [0x0D, 0x0A]
        case .response(let v, let c, let r):
            // A reason phrase may quote parser diagnostics: never let control octets through.
            let safe = String(String.UnicodeScalarView(r.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
            out += Array("\(v) \(c) \(safe)\r\n".utf8)
        }
        for f in fields where !matches(f, .contentLength) {
            out += name(of: f).canonical.utf8
            out += [0x3A, 0x20]
            if f.text >= 0 { out += texts[Int(f.text)].utf8 } else { out += raw[Int(f.start)..<Int(f.end)] }
            out += [0x0D, 0x0A]
        }
        out += Array("Content-Length: \(bodyCount)\r\n\r\n".utf8)
        if let bodyText { out += bodyText } else { out += raw[Int(bodySpan.lowerBound)..<Int(bodySpan.upperBound)] }
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
