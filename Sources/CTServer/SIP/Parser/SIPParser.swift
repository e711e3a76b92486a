#if canImport(Glibc)
import Glibc
#endif

/// Why a message could not be accepted, and the answer it deserves (RFC 3261 §8.2, §21).
public struct SIPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The status to answer a request with (400, 505, 513 …). Responses are never answered.
    public let status: Int
    public let reason: String
    /// What could be parsed, so the answer can copy Via, From, To, Call-ID and CSeq.
    /// nil when nothing usable was found (the message is then dropped).
    public let partial: SIPMessage?
    /// The message looked like a response (it is dropped, never answered).
    public let isResponse: Bool

    public var description: String { "\(status) \(reason)" }
}

/// Parses SIP messages from datagrams and from stream buffers (RFC 3261 §7, §18.3).
public struct SIPParser: Sendable {
    /// Largest message accepted; larger ones get 513 (stream) or are dropped (datagram).
    public var maximumMessageSize: Int

    public init(maximumMessageSize: Int = 65535) { self.maximumMessageSize = maximumMessageSize }

    public enum Framing: Sendable { case datagram, stream }

    // MARK: stream framing

    /// The outcome of looking at a stream buffer.
    public enum StreamItem: Equatable, Sendable {
        /// A CRLF keep-alive (RFC 5626 §3.5.1): double CRLF is a ping to answer with CRLF.
        case keepAlive(ping: Bool)
        /// One whole message's bytes.
        case message([UInt8])
    }

    /// Takes the next message (or keep-alive) off the front of `buffer`, or returns nil when more
    /// bytes are needed (buffer untouched). Throws when the stream cannot be framed any more
    /// (bad or missing length, oversized): the connection must then be closed.
    public func nextFromStream(_ buffer: inout [UInt8]) throws -> StreamItem? {
        guard !buffer.isEmpty else { return nil }
        if buffer[0] == SIPSymbols.cr || buffer[0] == SIPSymbols.lf {
            var n = 0
            while n < buffer.count, buffer[n] == SIPSymbols.cr || buffer[n] == SIPSymbols.lf { n += 1 }
            // Maybe the first half of a CRLFCRLF ping: wait for more.
            if n == buffer.count && n < 4 { return nil }
            buffer.removeFirst(n)
            return .keepAlive(ping: n >= 4)
        }
        guard let headerEnd = Self.findHeaderEnd(buffer[...]) else {
            if buffer.count > maximumMessageSize {
                throw SIPParseError(status: 513, reason: "Message Too Large", partial: nil, isResponse: false)
            }
            return nil
        }
        let lengths = Self.contentLengths(buffer[..<headerEnd.headersEnd])
        // When the stream cannot be framed, the headers still let us answer before closing.
        func unframable(_ status: Int, _ reason: String) -> SIPParseError {
            let headersOnly = Array(buffer[..<headerEnd.headersEnd])
            var m: SIPMessage?
            switch parse(headersOnly + [13, 10], framing: .datagram) {
            case .success(let ok): m = ok
            case .failure(let e): m = e.partial
            }
            m?.body = []
            return SIPParseError(status: status, reason: reason, partial: m, isResponse: m.map { !$0.isRequest } ?? false)
        }
        guard Set(lengths).count <= 1 else { throw unframable(400, "Conflicting Content-Length") }
        var bodyLength = 0
        if let l = lengths.first {
            guard SIPSymbols.isDigits(l) else { throw unframable(400, "Bad Content-Length") }
            // A length beyond what we accept (or beyond Int) is a message too large, not a bad one.
            guard let n = Int(l), n <= maximumMessageSize else { throw unframable(513, "Message Too Large") }
            bodyLength = n
        }
        let total = headerEnd.bodyStart + bodyLength
        guard total <= maximumMessageSize else { throw unframable(513, "Message Too Large") }
        guard buffer.count >= total else { return nil }
        let message = Array(buffer[0..<total])
        buffer.removeFirst(total)
        return .message(message)
    }

    // MARK: parsing

    public func parse(_ bytes: [UInt8], framing: Framing = .datagram) -> Result<SIPMessage, SIPParseError> {
        parse(raw: bytes, from: 0, to: bytes.count, framing: framing)
    }

    public func parse(_ input: ArraySlice<UInt8>, framing: Framing) -> Result<SIPMessage, SIPParseError> {
        parse(raw: Array(input), from: 0, to: input.count, framing: framing)
    }

    /// One pass over the octets: lines are found with memchr, header names are looked up
    /// without making a String, and each value is kept as a span of `raw` (a String is made
    /// only when a value is read). Only the Request-URI, a status line's reason, unknown
    /// header names, folded values and the body are copied.
    func parse(raw: [UInt8], from: Int, to: Int, framing: Framing) -> Result<SIPMessage, SIPParseError> {
        raw.withUnsafeBufferPointer { all in parse(raw: raw, all, from: from, to: to, framing: framing) }
    }

    private func parse(raw: [UInt8], _ b: UnsafeBufferPointer<UInt8>, from: Int, to: Int, framing: Framing) -> Result<SIPMessage, SIPParseError> {
        var lo = from
        // Leading CRLFs before a message are tolerated (RFC 3261 §7.5).
        while lo < to, b[lo] == SIPSymbols.cr || b[lo] == SIPSymbols.lf { lo += 1 }
        guard lo < to else { return .failure(SIPParseError(status: 400, reason: "Empty Message", partial: nil, isResponse: false)) }
        guard to - lo <= maximumMessageSize else {
            return .failure(SIPParseError(status: 513, reason: "Message Too Large", partial: nil, isResponse: false))
        }
        let base = b.baseAddress!

        /// The next line from `pos`: its content (CR before LF dropped) and where the next begins.
        @inline(__always) func line(at pos: Int) -> (start: Int, end: Int, next: Int) {
            if let p = memchr(base + pos, Int32(SIPSymbols.lf), to - pos) {
                let lf = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
                var e = lf
                if e > pos, b[e - 1] == SIPSymbols.cr { e -= 1 }
                return (pos, e, lf + 1)
            }
            var e = to
            if e > pos, b[e - 1] == SIPSymbols.cr { e -= 1 }
            return (pos, e, to)
        }

        let first = line(at: lo)
        let looksLikeResponse = Self.hasVersionPrefix(b, first.start, first.end)

        // Headers first: even a bad start line deserves an answer built from them.
        var fields: [SIPMessage.Field] = []
        fields.reserveCapacity(16)
        var unknownNames: [SIPHeaderName] = []
        var texts: [String] = []
        let table = SIPHeaderName.table
        var headerError: String?
        var bodyStart = to
        var pos = first.next
        // The field being read: its name, its trimmed value's span, its value as received
        // (for folding), and the octets gathered when it is folded over several lines.
        var name: Int32?
        var valueStart = 0, valueEnd = 0, rawStart = 0, rawEnd = 0
        var folded: [UInt8]?
        while true {
            let atEnd = pos >= to
            var l = (start: to, end: to, next: to)
            if !atEnd { l = line(at: pos); pos = l.next }
            let continuation = !atEnd && l.start < l.end && SIPSymbols.isWSP(b[l.start])
            if !continuation, let n = name {
                // The previous field is complete.
                if var f = folded {
                    // Trim what the fold gathered (RFC 3261 §7.3.1: the lines join with one SP).
                    while let c = f.last, SIPSymbols.isWSP(c) { f.removeLast() }
                    var s = 0
                    while s < f.count, SIPSymbols.isWSP(f[s]) { s += 1 }
                    texts.append(String(decoding: f[s...], as: UTF8.self))
                    fields.append(SIPMessage.Field(name: n, text: Int32(texts.count - 1), start: 0, end: 0))
                    folded = nil
                } else {
                    fields.append(SIPMessage.Field(name: n, text: -1, start: Int32(truncatingIfNeeded: valueStart), end: Int32(truncatingIfNeeded: valueEnd)))
                }
                name = nil
            }
            if atEnd { break }
            if l.start == l.end {
                // The empty line: the body follows.
                bodyStart = l.next
                break
            }
            if continuation {
                // Folded continuation (RFC 3261 §7.3.1): joins the previous line with one SP.
                guard name != nil else {
                    headerError = headerError ?? "continuation line before any header"
                    continue
                }
                if folded == nil { folded = Array(b[rawStart..<rawEnd]) }
                let (s, e) = Self.trimmed(b, l.start, l.end)
                folded!.append(0x20)
                folded! += b[s..<e]
                continue
            }
            // Names are short: a plain scan finds the colon sooner than a call to memchr.
            var colonAt = l.start
            while colonAt < l.end, b[colonAt] != 0x3A { colonAt += 1 }
            guard colonAt < l.end else {
                headerError = headerError ?? "header line without a colon"
                continue
            }
            let colon = colonAt
            let (ns, ne) = Self.trimmed(b, l.start, colon)
            let octets = UnsafeBufferPointer(rebasing: b[ns..<ne])
            // A known name is a token by construction; only others are checked octet by octet.
            let id = table.find(octets)
            if id != 0 {
                name = Int32(id)
            } else {
                var token = ns < ne
                var i = ns
                while token, i < ne { token = SIPSymbols.isToken(b[i]); i += 1 }
                guard token else {
                    headerError = headerError ?? "bad header name"
                    continue
                }
                unknownNames.append(table.name(0, orText: octets))
                name = -Int32(unknownNames.count)
            }
            (valueStart, valueEnd) = Self.trimmed(b, colon + 1, l.end)
            (rawStart, rawEnd) = (colon + 1, l.end)
        }

        let startLine: SIPMessage.StartLine
        var startError: (Int, String)?
        switch Self.parseStartLine(b, first.start, first.end, looksLikeResponse: looksLikeResponse) {
        case .success(let s): startLine = s
        case .failure(let e):
            startError = (e.status, e.reason)
            let startText = String(decoding: b[first.start..<first.end], as: UTF8.self)
            let method = startText.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init) ?? "UNKNOWN"
            startLine = looksLikeResponse ? .response(version: "SIP/2.0", code: 0, reason: "") : .request(method: method, uri: "", version: "SIP/2.0")
        }

        var message = SIPMessage(startLine: startLine, fields: fields, names: unknownNames, texts: texts, raw: raw)

        // Body by Content-Length (RFC 3261 §18.3, §20.14).
        var bodyError: String?
        let available = to - bodyStart
        var length: SIPMessage.Field?
        var conflicting = false
        let contentLength = Int32(SIPHeaderName.contentLength.id)
        for f in fields where f.name == contentLength {
            if let l = length { if !message.sameValue(l, f) { conflicting = true } } else { length = f }
        }
        if conflicting {
            bodyError = "Conflicting Content-Length"
        } else if let l = length {
            if let n = Self.decimal(message, l) {
                if n > available { bodyError = "Content-Length \(n) exceeds the \(available) octets received" }
                else { message.bodySpan = Int32(bodyStart)..<Int32(bodyStart + n) } // extra octets in a datagram are discarded (RFC 4475 3.1.1.8)
            } else {
                bodyError = "Bad Content-Length"
            }
        } else if framing == .datagram, available > 0 {
            message.bodySpan = Int32(bodyStart)..<Int32(to)
        }

        if let (status, reason) = startError {
            return .failure(SIPParseError(status: status, reason: reason, partial: looksLikeResponse ? nil : message, isResponse: looksLikeResponse))
        }
        if let e = headerError ?? bodyError {
            return .failure(SIPParseError(status: 400, reason: e, partial: message, isResponse: !message.isRequest))
        }
        return .success(message)
    }

    /// A Content-Length value: digits only, within Int.
    static func decimal(_ m: SIPMessage, _ v: SIPMessage.Field) -> Int? {
        if v.text < 0, v.start < v.end, v.end - v.start <= 18 {
            var n = 0
            for c in m.raw[Int(v.start)..<Int(v.end)] {
                guard c >= 0x30 && c <= 0x39 else { return nil }
                n = n * 10 + Int(c - 0x30)
            }
            return n
        }
        let s = m.text(of: v)
        guard SIPSymbols.isDigits(s) else { return nil }
        return Int(s)
    }

    @inline(__always) static func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start, e = end
        while s < e, SIPSymbols.isWSP(b[s]) { s += 1 }
        while e > s, SIPSymbols.isWSP(b[e - 1]) { e -= 1 }
        return (s, e)
    }

    @inline(__always) static func index(of c: UInt8, _ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        guard start < end, let p = memchr(b.baseAddress! + start, Int32(c), end - start) else { return nil }
        return b.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    /// Starts with "SIP/", in any case.
    @inline(__always) static func hasVersionPrefix(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        end - start >= 4 && b[start] | 0x20 == 0x73 && b[start + 1] | 0x20 == 0x69 && b[start + 2] | 0x20 == 0x70 && b[start + 3] == 0x2F
    }

    /// "SIP" "/" 1*DIGIT "." 1*DIGIT
    static func isVersion(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard hasVersionPrefix(b, start, end) else { return false }
        var i = start + 4, digits = 0, dots = 0, run = 0
        while i < end {
            let c = b[i]
            if c == 0x2E { guard run > 0 else { return false }; dots += 1; run = 0 }
            else if c >= 0x30 && c <= 0x39 { run += 1; digits += 1 }
            else { return false }
            i += 1
        }
        return dots == 1 && run > 0
    }

    /// Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP
    /// Status-Code SP Reason-Phrase. Single spaces only (RFC 4475 3.1.2.9, 3.1.2.10).
    static func parseStartLine(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, looksLikeResponse: Bool) -> Result<SIPMessage.StartLine, SIPParseError> {
        func bad(_ r: String) -> Result<SIPMessage.StartLine, SIPParseError> {
            .failure(SIPParseError(status: 400, reason: r, partial: nil, isResponse: false))
        }
        func text(_ s: Int, _ e: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self) }
        let sp1 = index(of: 0x20, b, start, end)
        if looksLikeResponse {
            guard let sp1 else { return bad("Bad Status-Line") }
            let sp2 = index(of: 0x20, b, sp1 + 1, end) ?? end
            guard sp2 - sp1 - 1 == 3 else { return bad("Bad Status-Code") }
            var c = 0
            for i in sp1 + 1..<sp2 {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return bad("Bad Status-Code") }
                c = c * 10 + Int(b[i] - 0x30)
            }
            guard (100...699).contains(c) else { return bad("Bad Status-Code") }
            guard isVersion(b, start, sp1) else { return bad("Bad SIP-Version") }
            let version = isExactly20(b, start, sp1) && b[start] == 0x53 && b[start + 1] == 0x49 && b[start + 2] == 0x50 ? "SIP/2.0" : text(start, sp1)
            return .success(.response(version: version, code: c, reason: sp2 < end ? text(sp2 + 1, end) : ""))
        }
        guard let sp1, let sp2 = index(of: 0x20, b, sp1 + 1, end), index(of: 0x20, b, sp2 + 1, end) == nil else { return bad("Bad Request-Line") }
        var token = sp1 > start
        for i in start..<sp1 where !SIPSymbols.isToken(b[i]) { token = false }
        guard token else { return bad("Bad Method") }
        guard isVersion(b, sp2 + 1, end) else { return bad("Bad SIP-Version") }
        guard isExactly20(b, sp2 + 1, end) else {
            return .failure(SIPParseError(status: 505, reason: "Version Not Supported", partial: nil, isResponse: false))
        }
        guard let colon = index(of: 0x3A, b, sp1 + 1, sp2), colon > sp1 + 1,
              SIPURI.isScheme(UnsafeBufferPointer(rebasing: b[(sp1 + 1)..<colon])) else { return bad("Bad Request-URI") }
        return .success(.request(method: Self.method(b, start, sp1), uri: text(sp1 + 1, sp2), version: "SIP/2.0"))
    }

    /// "SIP/2.0" in any case.
    @inline(__always) static func isExactly20(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        end - start == 7 && hasVersionPrefix(b, start, end) && b[start + 4] == 0x32 && b[start + 5] == 0x2E && b[start + 6] == 0x30
    }

    static let commonMethods = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK",
                                "REFER", "NOTIFY", "SUBSCRIBE", "MESSAGE", "PUBLISH"].map { (Array($0.utf8), $0) }

    /// The method, shared with a literal when it is a common one (methods are case-sensitive).
    static func method(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        for (octets, name) in commonMethods where octets.count == end - start {
            if octets.withUnsafeBufferPointer({ memcmp($0.baseAddress!, b.baseAddress! + start, end - start) == 0 }) { return name }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
    }

    // MARK: helpers

    /// Finds the empty line: returns where the header block ends and where the body starts.
    static func findHeaderEnd(_ b: ArraySlice<UInt8>) -> (headersEnd: Int, bodyStart: Int)? {
        var i = b.startIndex
        while i < b.endIndex {
            if b[i] == SIPSymbols.lf {
                // LF followed by (CR)LF: an empty line.
                var j = i + 1
                if j < b.endIndex, b[j] == SIPSymbols.cr { j += 1 }
                if j < b.endIndex, b[j] == SIPSymbols.lf { return (i + 1, j + 1) }
            }
            i += 1
        }
        return nil
    }

    /// Splits on CRLF or bare LF.
    static func splitLines(_ b: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = b.startIndex
        var i = b.startIndex
        while i < b.endIndex {
            if b[i] == SIPSymbols.lf {
                var e = i
                if e > start, b[e - 1] == SIPSymbols.cr { e -= 1 }
                lines.append(b[start..<e])
                start = i + 1
            }
            i += 1
        }
        if start < b.endIndex {
            var e = b.endIndex
            if b[e - 1] == SIPSymbols.cr { e -= 1 }
            if e > start { lines.append(b[start..<e]) }
        }
        return lines
    }

    static func contentLengths(_ headerBlock: ArraySlice<UInt8>) -> [String] {
        splitLines(headerBlock).dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: 0x3A) else { return nil }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).trimmingLWS.lowercased()
            guard name == "content-length" || name == "l" else { return nil }
            return String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingLWS.description
        }
    }

    /// Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP
    /// Status-Code SP Reason-Phrase. Single spaces only (RFC 4475 3.1.2.9, 3.1.2.10).
    static func parseStartLine(_ line: ArraySlice<UInt8>) -> Result<SIPMessage.StartLine, SIPParseError> {
        let text = String(decoding: line, as: UTF8.self)
        func bad(_ r: String) -> Result<SIPMessage.StartLine, SIPParseError> {
            .failure(SIPParseError(status: 400, reason: r, partial: nil, isResponse: false))
        }
        if text.uppercased().hasPrefix("SIP/") {
            let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2 else { return bad("Bad Status-Line") }
            let code = parts[1]
            guard code.utf8.count == 3, SIPSymbols.isDigits(code), let c = Int(code), (100...699).contains(c) else {
                return bad("Bad Status-Code")
            }
            guard isVersion(parts[0]) else { return bad("Bad SIP-Version") }
            return .success(.response(version: String(parts[0]), code: c, reason: parts.count > 2 ? String(parts[2]) : ""))
        }
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return bad("Bad Request-Line") }
        guard SIPSymbols.isToken(parts[0]) else { return bad("Bad Method") }
        guard isVersion(parts[2]) else { return bad("Bad SIP-Version") }
        guard parts[2].uppercased() == "SIP/2.0" else {
            return .failure(SIPParseError(status: 505, reason: "Version Not Supported", partial: nil, isResponse: false))
        }
        guard SIPURI.hasScheme(parts[1]) else { return bad("Bad Request-URI") }
        return .success(.request(method: String(parts[0]), uri: String(parts[1]), version: "SIP/2.0"))
    }

    /// "SIP" "/" 1*DIGIT "." 1*DIGIT
    static func isVersion(_ s: Substring) -> Bool {
        guard s.uppercased().hasPrefix("SIP/") else { return false }
        let nums = s.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false)
        return nums.count == 2 && nums.allSatisfy { SIPSymbols.isDigits($0) }
    }
}
