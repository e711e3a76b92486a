import Foundation

/// The load generator's SIP (RFC 3261 over UDP, as a UAC that calls one number): the requests
/// it sends and just enough parsing of what comes back — status, Call-ID, CSeq, To tag,
/// Contact and the answer's SDP address. It talks to our own CT-Server or any SIP server that
/// answers with audio; it is a test tool, not a second SIP stack.
public struct RTPLoadMessage {
    /// "SIP/2.0 200 OK" or "BYE sip:… SIP/2.0".
    public let startLine: Substring
    /// Names in lower case, compact forms expanded.
    public let headers: [(name: String, value: Substring)]
    public let body: Substring

    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard let text = String(bytes: bytes, encoding: .utf8) ?? String(bytes: bytes, encoding: .isoLatin1),
              let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[text.startIndex..<split.lowerBound]
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        startLine = lines.removeFirst()
        var hs: [(String, Substring)] = []
        for line in lines {
            if let f = line.first, f == " " || f == "\t", !hs.isEmpty {   // folded continuation
                hs[hs.count - 1].1 = Substring(String(hs[hs.count - 1].1) + " " + line.drop { $0 == " " || $0 == "\t" })
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            hs.append((Self.compact[name] ?? name, line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }))
        }
        headers = hs
        body = text[split.upperBound...]
    }

    static let compact = ["i": "call-id", "t": "to", "f": "from", "v": "via", "m": "contact", "l": "content-length", "c": "content-type"]

    public func header(_ name: String) -> Substring? { headers.first { $0.name == name }?.value }
    public func all(_ name: String) -> [Substring] { headers.filter { $0.name == name }.map(\.value) }

    public var isResponse: Bool { startLine.hasPrefix("SIP/2.0 ") }
    public var statusCode: Int? {
        guard isResponse else { return nil }
        return Int(startLine.split(separator: " ").dropFirst().first ?? "")
    }
    public var method: Substring? { isResponse ? nil : startLine.split(separator: " ").first }
    public var callID: Substring? { header("call-id").map { $0.trimmingCharacters(in: .whitespaces)[...] } }
    /// (sequence number, method) of CSeq.
    public var cseq: (Int, Substring)? {
        guard let v = header("cseq") else { return nil }
        let parts = v.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, let n = Int(parts[0]) else { return nil }
        return (n, parts[1])
    }
    public var toTag: Substring? { header("to").flatMap { Self.parameter("tag", in: $0) } }

    /// The URI inside Contact's angle brackets (or the bare value).
    public var contactURI: Substring? {
        guard let v = header("contact") else { return nil }
        if let a = v.firstIndex(of: "<"), let b = v[a...].firstIndex(of: ">") { return v[v.index(after: a)..<b] }
        return v.split(separator: ";").first
    }

    /// The audio address an SDP answer gives: c= host and the first m=audio port.
    public var sdpAudio: (host: String, port: Int)? {
        var host: String?, port: Int?
        for line in body.split(whereSeparator: { $0.isNewline }) {
            if line.hasPrefix("c=IN IP4 ") || line.hasPrefix("c=IN IP6 ") {
                let h = line.dropFirst(9).split(separator: "/").first.map(String.init)
                if port == nil { host = h } else if host == nil { host = h }
            } else if line.hasPrefix("m=audio "), port == nil {
                port = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            }
        }
        guard let h = host, let p = port else { return nil }
        return (h, p)
    }

    static func parameter(_ name: String, in value: Substring) -> Substring? {
        for p in value.split(separator: ";").dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == name { return kv[1].split(separator: " ").first ?? kv[1] }
        }
        return nil
    }
}

/// The requests and responses the generator sends, as text.
public struct RTPLoadDialogText {
    public let run: String
    public let number: String
    public let target: String          // host:port of the SIP server
    public let local: String           // host:port of our SIP socket
    public let mediaHost: String

    public func callID(_ i: Int) -> String { "rl-\(run)-\(i)@\(mediaHost)" }
    public func fromTag(_ i: Int) -> String { "rl\(i)" }

    /// The call index a Call-ID of ours carries.
    public func callIndex(_ callID: Substring) -> Int? {
        let prefix = "rl-\(run)-"
        guard callID.hasPrefix(prefix), let at = callID.firstIndex(of: "@") else { return nil }
        return Int(callID[callID.index(callID.startIndex, offsetBy: prefix.count)..<at])
    }

    /// The offer: PCMU only, 20 ms, both ways.
    public func sdp(_ i: Int, rtpPort: Int) -> String {
        "v=0\r\no=- \(i) 1 IN IP4 \(mediaHost)\r\ns=-\r\nc=IN IP4 \(mediaHost)\r\nt=0 0\r\n"
            + "m=audio \(rtpPort) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    }

    public func invite(_ i: Int, branch: String, rtpPort: Int) -> String {
        let sdp = sdp(i, rtpPort: rtpPort)
        return "INVITE sip:\(number)@\(target) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP \(local);branch=\(branch);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <sip:load\(i)@\(local)>;tag=\(fromTag(i))\r\n"
            + "To: <sip:\(number)@\(target)>\r\n"
            + "Call-ID: \(callID(i))\r\n"
            + "CSeq: 1 INVITE\r\n"
            + "Contact: <sip:load\(i)@\(local)>\r\n"
            + "User-Agent: hotline-bench rtp-load\r\n"
            + "Content-Type: application/sdp\r\n"
            + "Content-Length: \(sdp.utf8.count)\r\n\r\n" + sdp
    }

    /// ACK for a 2xx (its own branch, to the Contact) or for a failure (the INVITE's branch).
    public func ack(_ i: Int, uri: String, branch: String, toTag: Substring?) -> String {
        "ACK \(uri) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP \(local);branch=\(branch);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <sip:load\(i)@\(local)>;tag=\(fromTag(i))\r\n"
            + "To: <sip:\(number)@\(target)>\(toTag.map { ";tag=\($0)" } ?? "")\r\n"
            + "Call-ID: \(callID(i))\r\n"
            + "CSeq: 1 ACK\r\n"
            + "Content-Length: 0\r\n\r\n"
    }

    public func bye(_ i: Int, uri: String, branch: String, toTag: Substring) -> String {
        "BYE \(uri) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP \(local);branch=\(branch);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <sip:load\(i)@\(local)>;tag=\(fromTag(i))\r\n"
            + "To: <sip:\(number)@\(target)>;tag=\(toTag)\r\n"
            + "Call-ID: \(callID(i))\r\n"
            + "CSeq: 2 BYE\r\n"
            + "Content-Length: 0\r\n\r\n"
    }

    /// A response to a request the server sent us (its Via, From, To, Call-ID and CSeq copied).
    public func response(_ code: Int, _ reason: String, to m: RTPLoadMessage, body: String = "") -> String {
        var s = "SIP/2.0 \(code) \(reason)\r\n"
        for v in m.all("via") { s += "Via: \(v)\r\n" }
        for n in ["from", "to", "call-id", "cseq"] { if let v = m.header(n) { s += "\(n == "call-id" ? "Call-ID" : n == "cseq" ? "CSeq" : n.capitalized): \(v)\r\n" } }
        if !body.isEmpty { s += "Content-Type: application/sdp\r\n" }
        return s + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }
}
