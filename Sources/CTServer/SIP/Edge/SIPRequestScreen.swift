/// The first check every incoming message passes: turns parse failures and semantic faults
/// into the answer RFC 3261 prescribes (and RFC 4475 tests), in one place.
///
/// Requests that pass are handed to the transaction layer; responses that pass go to the
/// client transactions. A request is never answered when it is an ACK, and a response never.
public struct SIPRequestScreen: Sendable {
    public enum Verdict: Equatable, Sendable {
        case accept(SIPMessage)
        /// Answer the request with this status (and headers), statelessly.
        case reject(request: SIPMessage, code: Int, reason: String, headers: [SIPHeader])
        /// Discard silently (a bad response, a bad ACK, or too broken to answer).
        case drop(String)
    }

    /// Methods this UA implements.
    public var allowedMethods: [String] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "REFER", "NOTIFY"]
    /// Methods SIP defines that we do not implement: 405 with Allow, not 501.
    public var knownMethods: Set<String> = ["MESSAGE", "SUBSCRIBE", "PUBLISH", "PRACK"]
    /// Option tags we support (Require with anything else gets 420).
    public var supportedExtensions: Set<String> = []
    /// Request-URI schemes we serve (anything else gets 416).
    public var uriSchemes: Set<String> = ["sip", "sips", "tel"]
    /// More Via values than this and a request is dropped unanswered.
    public var maximumVias = 70

    public init() {}

    public func screen(_ parsed: Result<SIPMessage, SIPParseError>) -> Verdict {
        switch parsed {
        case .failure(let e):
            if e.isResponse { return .drop("malformed response: \(e.reason)") }
            guard let partial = e.partial, canAnswer(partial) else { return .drop("unanswerable request: \(e.reason)") }
            if partial.method == "ACK" { return .drop("malformed ACK: \(e.reason)") }
            return .reject(request: partial, code: e.status, reason: e.status == 400 ? "Bad Request (\(e.reason))" : e.reason, headers: [])
        case .success(let m):
            return m.isRequest ? screenRequest(m) : screenResponse(m)
        }
    }

    /// A response needs a parseable top Via and CSeq to be matched to a client transaction.
    func screenResponse(_ m: SIPMessage) -> Verdict {
        guard (try? m.vias.first) != nil, m.cseq != nil, m.count(.cseq) == 1, m.count(.callID) == 1 else {
            return .drop("response without a usable Via/CSeq/Call-ID")
        }
        return .accept(m)
    }

    /// Enough to answer: a Via line to copy and a CSeq. Responses go to the packet's source
    /// address, so even an unparseable Via (RFC 4475 3.1.2.1) can be answered; a request
    /// missing From, To or Call-ID still gets its 400 with what it has (3.3.1).
    func canAnswer(_ m: SIPMessage) -> Bool {
        m.count(.cseq) > 0 && m.count(.via) > 0
    }

    func screenRequest(_ m: SIPMessage) -> Verdict {
        let method = m.method ?? ""
        func reject(_ code: Int, _ why: String? = nil, _ headers: [SIPHeader] = []) -> Verdict {
            if method == "ACK" { return .drop("bad ACK: \(why ?? String(code))") }
            guard canAnswer(m) else { return .drop("unanswerable request: \(why ?? String(code))") }
            let phrase = SIPMessage.reasonPhrase(code)
            return .reject(request: m, code: code, reason: why.map { "\(phrase) (\($0))" } ?? phrase, headers: headers)
        }
        // Mandatory headers, each exactly once (RFC 3261 §8.1.1; RFC 4475 3.3.1, 3.3.8).
        for h in [SIPHeaderName.to, .from, .callID, .cseq] {
            let n = m.count(h)
            if n == 0 { return reject(400, "missing \(h.canonical)") }
            if n > 1 { return reject(400, "multiple \(h.canonical)") }
        }
        if m.count(.maxForwards) > 1 { return reject(400, "multiple Max-Forwards") }
        // A missing Max-Forwards is tolerated (RFC 2543 peers, RFC 4475 3.4.1); a UAS does not forward.
        let vias: [SIPVia]
        do { vias = try m.vias } catch { return reject(400, "bad Via: \(error)") }
        guard let top = vias.first else { return reject(400, "missing Via") }
        // Hundreds of Vias: no proxy chain is that long (Max-Forwards starts at 70), and the
        // answer would copy them all — dropped before any transaction exists.
        if vias.count > maximumVias { return .drop("\(vias.count) Via values (at most \(maximumVias))") }
        if let b = top.branch, b.lowercased() == "z9hg4bk" { return reject(400, "Via branch is only the magic cookie") }
        guard let cseq = try? SIPCSeq(parsing: Substring(m.value(.cseq)!)) else { return reject(400, "bad CSeq") }
        if let mf = m.value(.maxForwards) {
            guard SIPSymbols.isDigits(mf), let v = Int(mf), v <= 255 else { return reject(400, "bad Max-Forwards") }
        }
        do {
            _ = try SIPNameAddr(parsing: m.value(.from)!)
            _ = try SIPNameAddr(parsing: m.value(.to)!)
            for c in m.listValues(.contact) where c != "*" { _ = try SIPNameAddr(parsing: c) }
        } catch {
            return reject(400, "\(error)")
        }
        // Request-URI (RFC 4475 3.3.2, 3.3.3).
        let uri: SIPURI
        do { uri = try SIPURI(parsing: m.requestURI ?? "") } catch { return reject(400, "bad Request-URI") }
        guard uriSchemes.contains(uri.scheme) else { return reject(416) }
        // Method (RFC 3261 §8.2.1): unknown → 501, known but not ours → 405 with Allow.
        guard allowedMethods.contains(method) else {
            if knownMethods.contains(method) { return reject(405, nil, [SIPHeader(name: .allow, value: allowedMethods.joined(separator: ", "))]) }
            return reject(501)
        }
        guard cseq.method == method else { return reject(400, "CSeq method \(cseq.method) does not match \(method)") }
        // Extensions (RFC 3261 §8.2.2.3; RFC 4475 3.3.5).
        let unsupported = m.optionTags(.require).filter { !supportedExtensions.contains($0.lowercased()) }
        if !unsupported.isEmpty, method != "ACK", method != "CANCEL" {
            return reject(420, nil, [SIPHeader(name: .unsupported, value: unsupported.joined(separator: ", "))])
        }
        // Body types (RFC 3261 §8.2.3; RFC 4475 3.3.6).
        if !m.body.isEmpty, let ct = m.value(.contentType) {
            let type = ct.split(separator: ";").first.map { $0.trimmingLWS.lowercased() } ?? ""
            let accepted = Self.acceptedBodies[method] ?? []
            if !accepted.contains(type) {
                return reject(415, nil, [SIPHeader(name: .accept, value: accepted.isEmpty ? "application/sdp" : accepted.joined(separator: ", "))])
            }
        }
        // An INVITE whose sender cannot accept SDP cannot be answered (RFC 4475 3.3.15).
        if method == "INVITE", m.count(.accept) > 0 {
            let types = m.listValues(.accept).map { $0.split(separator: ";").first.map { $0.trimmingLWS.lowercased() } ?? "" }
            if !types.contains(where: { $0 == "application/sdp" || $0 == "application/*" || $0 == "*/*" || $0.isEmpty }) {
                return reject(406, nil, [SIPHeader(name: .warning, value: "399 hotline \"only application/sdp bodies are offered\"")])
            }
        }
        return .accept(m)
    }

    static let acceptedBodies: [String: [String]] = [
        "INVITE": ["application/sdp"], "ACK": ["application/sdp"], "UPDATE": ["application/sdp"], "BYE": [],
        "INFO": ["application/dtmf-relay", "application/dtmf"], "NOTIFY": ["message/sipfrag"], "OPTIONS": ["application/sdp"],
        "REGISTER": [], "REFER": [], "CANCEL": [],
    ]
}
