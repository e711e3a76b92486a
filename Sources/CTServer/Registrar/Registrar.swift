import Protocol

/// Registrar bindings (RFC 3261 §10.3) as a value type: the agents' phones.
///
/// The address-of-record is the To URI's user (an extension). Each binding remembers where the
/// REGISTER really came from, so calls to the phone reach it through NAT.
public struct Registrar: Sendable {
    public struct Binding: Sendable, Equatable {
        public var contact: SIPNameAddr
        public var expiresAt: UInt64      // monotonic ns
        public var callID: String
        public var cseq: UInt32
        public var source: SIPPeer
        public var userAgent: String?

        public static func == (a: Binding, b: Binding) -> Bool { a.contact.uriText == b.contact.uriText && a.expiresAt == b.expiresAt }
    }

    public enum Outcome: Equatable, Sendable {
        /// 200 OK listing these bindings (Contact values with their granted `expires`) and their remaining seconds.
        case ok([(contact: String, expires: Int)])
        case reject(code: Int, reason: String, headers: [SIPHeader])

        public static func == (a: Outcome, b: Outcome) -> Bool {
            switch (a, b) {
            case (.ok(let x), .ok(let y)): return x.map { "\($0.contact)\($0.expires)" } == y.map { "\($0.contact)\($0.expires)" }
            case (.reject(let c1, _, _), .reject(let c2, _, _)): return c1 == c2
            default: return false
            }
        }
    }

    public var minimumExpires = 60
    public var maximumExpires = 3600
    public var defaultExpires = 3600
    public var maximumContactsPerAOR = 10
    public internal(set) var bindings: [String: [Binding]] = [:]

    public init() {}

    /// Applies an authenticated REGISTER for `user` (RFC 3261 §10.3 steps 5–8).
    public mutating func register(_ request: SIPMessage, authenticatedUser user: String, source: SIPPeer, now: UInt64) -> Outcome {
        sweep(now: now)
        guard let to = request.to, to.uri.isSIP else {
            return .reject(code: 400, reason: "Bad Request (To must be a sip: or sips: address-of-record)", headers: [])
        }
        guard let aor = to.uri.user, aor == user else {
            return .reject(code: 403, reason: "Forbidden (credentials do not match the address-of-record)", headers: [])
        }
        guard let callID = request.callID, let cseq = request.cseq?.number else { return .reject(code: 400, reason: "Bad Request", headers: []) }
        let headerExpires = request.value(.expires).flatMap { SIPSymbols.isDigits($0) ? Int($0.prefix(10)) ?? defaultExpires : nil }
        let contacts = request.listValues(.contact)
        var current = bindings[aor] ?? []

        if contacts.contains(where: { $0 == "*" }) {
            guard contacts.count == 1, headerExpires == 0 else {
                return .reject(code: 400, reason: "Bad Request (Contact: * needs Expires: 0 and no other contact)", headers: [])
            }
            if current.contains(where: { $0.callID == callID && $0.cseq >= cseq }) {
                return .reject(code: 500, reason: "Server Internal Error (out-of-order REGISTER)", headers: [])
            }
            bindings[aor] = nil
            return .ok([])
        }

        var parsed: [(SIPNameAddr, Int)] = []
        for c in contacts {
            guard let na = try? SIPNameAddr(parsing: c) else { return .reject(code: 400, reason: "Bad Request (Contact)", headers: []) }
            var e = headerExpires ?? defaultExpires
            if let p = na.parameters["expires"] ?? nil {
                // An unparseable or huge expires is taken as the default (RFC 4475 3.1.2.4).
                e = SIPSymbols.isDigits(p) ? Int(p.prefix(10)) ?? defaultExpires : defaultExpires
            }
            if e != 0 && e < minimumExpires {
                return .reject(code: 423, reason: "Interval Too Brief", headers: [SIPHeader(name: SIPHeaderName("Min-Expires"), value: String(minimumExpires))])
            }
            parsed.append((na, min(e, maximumExpires)))
        }
        for (na, expires) in parsed {
            let key = na.uri.description
            if let i = current.firstIndex(where: { $0.contact.uri.description == key }) {
                if current[i].callID == callID && current[i].cseq >= cseq {
                    return .reject(code: 500, reason: "Server Internal Error (out-of-order REGISTER)", headers: [])
                }
                if expires == 0 { current.remove(at: i) } else {
                    current[i] = Binding(contact: na, expiresAt: now + UInt64(expires) * 1_000_000_000, callID: callID, cseq: cseq,
                                         source: source, userAgent: request.value(.userAgent))
                }
            } else if expires > 0 {
                guard current.count < maximumContactsPerAOR else {
                    return .reject(code: 403, reason: "Forbidden (too many contacts)", headers: [])
                }
                current.append(Binding(contact: na, expiresAt: now + UInt64(expires) * 1_000_000_000, callID: callID, cseq: cseq,
                                       source: source, userAgent: request.value(.userAgent)))
            }
        }
        bindings[aor] = current.isEmpty ? nil : current
        // Each binding echoed as registered (its parameters intact), with exactly one expires:
        // the one granted (RFC 3261 §10.3 step 8).
        return .ok(current.map { b in
            var c = b.contact
            let left = Int((b.expiresAt - now) / 1_000_000_000)
            c.parameters.items.removeAll { $0.name == "expires" }
            c.parameters.set("expires", String(left))
            return (c.description, left)
        })
    }

    /// Removes expired bindings.
    public mutating func sweep(now: UInt64) {
        for (aor, list) in bindings {
            let live = list.filter { $0.expiresAt > now }
            bindings[aor] = live.isEmpty ? nil : live
        }
    }

    public func contacts(of user: String, now: UInt64) -> [Binding] { (bindings[user] ?? []).filter { $0.expiresAt > now } }

    public var bindingCount: Int { bindings.values.reduce(0) { $0 + $1.count } }
}
