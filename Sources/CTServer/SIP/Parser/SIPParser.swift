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
        parse(bytes[...], framing: framing)
    }

    public func parse(_ input: ArraySlice<UInt8>, framing: Framing) -> Result<SIPMessage, SIPParseError> {
        var bytes = input
        // Leading CRLFs before a message are tolerated (RFC 3261 §7.5).
        while let f = bytes.first, f == SIPSymbols.cr || f == SIPSymbols.lf { bytes = bytes.dropFirst() }
        guard !bytes.isEmpty else { return .failure(SIPParseError(status: 400, reason: "Empty Message", partial: nil, isResponse: false)) }
        guard bytes.count <= maximumMessageSize else {
            return .failure(SIPParseError(status: 513, reason: "Message Too Large", partial: nil, isResponse: false))
        }
        // A datagram without the empty line ends its headers at its end.
        let end = Self.findHeaderEnd(bytes) ?? (headersEnd: bytes.endIndex, bodyStart: bytes.endIndex)
        let lines = Self.splitLines(bytes[bytes.startIndex..<end.headersEnd])
        guard let first = lines.first else {
            return .failure(SIPParseError(status: 400, reason: "Empty Message", partial: nil, isResponse: false))
        }
        let startText = String(decoding: first, as: UTF8.self)
        let looksLikeResponse = startText.hasPrefix("SIP/") || startText.uppercased().hasPrefix("SIP/")

        // Headers first: even a bad start line deserves an answer built from them.
        var headers: [SIPHeader] = []
        var headerError: String?
        var current: (name: SIPHeaderName, value: [UInt8])?
        for line in lines.dropFirst() {
            if let c = line.first, SIPSymbols.isWSP(c) {
                // Folded continuation (RFC 3261 §7.3.1): joins the previous line with one SP.
                if current != nil {
                    current!.value += [0x20] + Array(String(decoding: line, as: UTF8.self).trimmingLWS.utf8)
                } else {
                    headerError = headerError ?? "continuation line before any header"
                }
                continue
            }
            if let c = current { headers.append(SIPHeader(name: c.name, value: String(decoding: c.value, as: UTF8.self).trimmingLWS.description)) }
            current = nil
            guard let colon = line.firstIndex(of: 0x3A) else {
                headerError = headerError ?? "header line without a colon"
                continue
            }
            let rawName = String(decoding: line[line.startIndex..<colon], as: UTF8.self).trimmingLWS
            guard SIPSymbols.isToken(rawName) else {
                headerError = headerError ?? "bad header name"
                continue
            }
            current = (SIPHeaderName(parsing: rawName), Array(line[line.index(after: colon)...]))
        }
        if let c = current { headers.append(SIPHeader(name: c.name, value: String(decoding: c.value, as: UTF8.self).trimmingLWS.description)) }

        let startLine: SIPMessage.StartLine
        var startError: (Int, String)?
        switch Self.parseStartLine(first) {
        case .success(let s): startLine = s
        case .failure(let e):
            startError = (e.status, e.reason)
            let method = startText.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init) ?? "UNKNOWN"
            startLine = looksLikeResponse ? .response(version: "SIP/2.0", code: 0, reason: "") : .request(method: method, uri: "", version: "SIP/2.0")
        }

        // Body by Content-Length (RFC 3261 §18.3, §20.14).
        var body: [UInt8] = []
        var bodyError: String?
        let available = bytes[end.bodyStart...]
        let lengths = headers.filter { $0.name == .contentLength }.map(\.value)
        if Set(lengths).count > 1 {
            bodyError = "Conflicting Content-Length"
        } else if let l = lengths.first {
            if let n = Int(l), SIPSymbols.isDigits(l) {
                if n > available.count { bodyError = "Content-Length \(n) exceeds the \(available.count) octets received" }
                else { body = Array(available.prefix(n)) } // extra octets in a datagram are discarded (RFC 4475 3.1.1.8)
            } else {
                bodyError = "Bad Content-Length"
            }
        } else {
            body = framing == .datagram ? Array(available) : []
        }

        let message = SIPMessage(startLine: startLine, headers: headers, body: body)
        if let (status, reason) = startError {
            return .failure(SIPParseError(status: status, reason: reason, partial: looksLikeResponse ? nil : message, isResponse: looksLikeResponse))
        }
        if let e = headerError ?? bodyError {
            return .failure(SIPParseError(status: 400, reason: e, partial: message, isResponse: !message.isRequest))
        }
        return .success(message)
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
