extension SIPMessage {
    /// Builds a response to this request (RFC 3261 §8.2.6.2): Via lines, From, To (with
    /// `toTag` added when it has none and the response is not 100), Call-ID and CSeq copied.
    public func makeResponse(_ code: Int, _ reason: String, toTag: String? = nil, extraHeaders: [SIPHeader] = [],
                             body: [UInt8] = [], contentType: String? = nil) -> SIPMessage {
        var r = SIPMessage(startLine: .response(version: "SIP/2.0", code: code, reason: reason))
        for v in values(.via) { r.add(.via, v) }
        if let f = value(.from) { r.add(.from, f) }
        if let t = value(.to) {
            var to = t
            if code != 100, let tag = toTag, (try? SIPNameAddr(parsing: t))?.tag == nil { to += ";tag=\(tag)" }
            r.add(.to, to)
        }
        if let c = value(.callID) { r.add(.callID, c) }
        if let c = value(.cseq) { r.add(.cseq, c) }
        r.add(extraHeaders)
        if let contentType { r.add(.contentType, contentType) }
        r.body = body
        return r
    }

    /// The standard reason phrase of a status code.
    public static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: return "Trying"
        case 180: return "Ringing"
        case 183: return "Session Progress"
        case 200: return "OK"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 415: return "Unsupported Media Type"
        case 416: return "Unsupported URI Scheme"
        case 420: return "Bad Extension"
        case 423: return "Interval Too Brief"
        case 480: return "Temporarily Unavailable"
        case 481: return "Call/Transaction Does Not Exist"
        case 482: return "Loop Detected"
        case 483: return "Too Many Hops"
        case 486: return "Busy Here"
        case 487: return "Request Terminated"
        case 488: return "Not Acceptable Here"
        case 491: return "Request Pending"
        case 500: return "Server Internal Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "Version Not Supported"
        case 513: return "Message Too Large"
        case 603: return "Decline"
        default: return "Status \(code)"
        }
    }
}
