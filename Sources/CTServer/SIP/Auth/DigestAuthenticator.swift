import Protocol

/// SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760: MD5 and SHA-256, qop=auth).
///
/// Credentials are held as HA1 = H(user:realm:password) per algorithm, never as passwords.
/// Nonces are stateless: `time.random.mac` with an HMAC over the first two, so any nonce we
/// issued can be checked and aged without a table; an expired one gets `stale=true`.
/// Known and unknown users see identical challenges; repeated failures from one user and
/// source lock that pair out for a while.
public struct DigestAuthenticator: Sendable {
    public struct Credentials: Sendable, Equatable {
        public var ha1: [Crypto.DigestAlgorithm: String]
        public init(ha1: [Crypto.DigestAlgorithm: String]) { self.ha1 = ha1 }

        public static func fromPassword(user: String, realm: String, password: String) -> Credentials {
            var h: [Crypto.DigestAlgorithm: String] = [:]
            for a in Crypto.DigestAlgorithm.allCases { h[a] = Crypto.hexDigest(a, "\(user):\(realm):\(password)") }
            return Credentials(ha1: h)
        }
    }

    public enum Outcome: Equatable, Sendable {
        case authenticated(user: String)
        /// Answer 401 with these challenges (stale when only the nonce had expired).
        case challenge(stale: Bool)
        /// Locked out after repeated failures (answer 403): this user from this source, this
        /// user from any source it never authenticated from, or this source for every user.
        case lockedOut(LockScope, user: String)
        /// The Authorization header is malformed: answer 400.
        case malformed(String)
    }

    public enum LockScope: String, Sendable { case userAtSource = "user from this address", user = "user from any new address", source = "address for every user" }

    public let realm: String
    public var users: [String: Credentials]
    public var nonceLifetimeSeconds: UInt64 = 300
    public var maximumFailures = 5
    public var lockoutSeconds: UInt64 = 60
    /// Failures for one user, from every source together, within `failureWindowSeconds`, after
    /// which the user is locked out from every source it has not authenticated from before —
    /// guesses spread over many addresses (40 × 5) lock the user too, and the phones that
    /// authenticated before keep working.
    public var maximumUserFailures = 20
    /// Failures from one source, for every user together, after which the source is locked out.
    public var maximumSourceFailures = 30
    public var failureWindowSeconds: UInt64 = 600
    private var userFailures: [String: (count: Int, first: UInt64, lockedUntil: UInt64)] = [:]
    private var sourceFailures: [String: (count: Int, first: UInt64, lockedUntil: UInt64)] = [:]
    /// Sources each user authenticated from (at most 16 each): not locked out by the user-wide lock.
    private var knownSources: [String: [String]] = [:]
    /// Challenges offered, in this order (RFC 8760 §2.4). Default: MD5 only. Measured here:
    /// SIPp 3.6 uses only the first challenge and fails on SHA-256; baresip 1.0 (libre 0.6)
    /// fails the whole REGISTER (ENOSYS) if *any* challenge is SHA-256. Sites whose phones
    /// speak RFC 8760 set `digest_algorithms: [SHA-256, MD5]` or `[SHA-256]`. Both HA1s are kept.
    public var algorithms: [Crypto.DigestAlgorithm] = [.md5]
    private let secret: [UInt8]
    private var failures: [String: (count: Int, first: UInt64, lockedUntil: UInt64)] = [:]

    public init(realm: String, users: [String: Credentials], secret: [UInt8] = Crypto.randomBytes(32)) {
        self.realm = realm
        self.users = users
        self.secret = secret
    }

    // MARK: challenges

    public func makeNonce(now: UInt64) -> String {
        let stamp = String(now / 1_000_000_000, radix: 16)
        let random = Crypto.hex(Crypto.randomBytes(8))
        return "\(stamp).\(random).\(mac(stamp + "." + random))"
    }

    private func mac(_ s: String) -> String { Crypto.hex(Array(Crypto.hmacSHA256(key: secret, data: Array(s.utf8)).prefix(12))) }

    /// WWW-Authenticate values, strongest first (RFC 8760 §2.4).
    public func challenges(now: UInt64, stale: Bool) -> [String] {
        let nonce = makeNonce(now: now)
        return algorithms.map { a in
            "Digest realm=\"\(realm)\", nonce=\"\(nonce)\", opaque=\"hotline\", algorithm=\(a.rawValue), qop=\"auth\"" + (stale ? ", stale=true" : "")
        }
    }

    enum NonceCheck { case valid, expired, forged }

    func checkNonce(_ nonce: String, now: UInt64) -> NonceCheck {
        let parts = nonce.split(separator: ".")
        guard parts.count == 3, let stamp = UInt64(parts[0], radix: 16),
              Crypto.constantTimeEqual(Array(mac("\(parts[0]).\(parts[1])").utf8), Array(parts[2].utf8)) else { return .forged }
        let age = now / 1_000_000_000 &- stamp
        return age <= nonceLifetimeSeconds ? .valid : .expired
    }

    // MARK: verification

    /// Checks the Authorization header of `request` from `source` (an IP address string).
    public mutating func verify(_ request: SIPMessage, header: SIPHeaderName = .authorization, source: String, now: UInt64) -> Outcome {
        let digests = request.values(header).compactMap { DigestParams(parsing: $0) }.filter { $0.scheme.lowercased() == "digest" }
        guard let p = digests.first(where: { $0["realm"] == realm }) ?? digests.first else { return .challenge(stale: false) }
        guard let user = p["username"], let nonce = p["nonce"], let uri = p["uri"], let response = p["response"] else {
            return .malformed("digest credentials lack username, nonce, uri or response")
        }
        let lockKey = "\(user)|\(source)"
        let nowS = now / 1_000_000_000
        if let f = failures[lockKey], f.lockedUntil > nowS { return .lockedOut(.userAtSource, user: user) }
        if let f = sourceFailures[source], f.lockedUntil > nowS { return .lockedOut(.source, user: user) }
        if let f = userFailures[user], f.lockedUntil > nowS, !(knownSources[user]?.contains(source) ?? false) { return .lockedOut(.user, user: user) }
        func fail(_ key: String, _ now: UInt64) -> Outcome { self.fail(user: user, source: source, now) }
        guard p["realm"] == realm else { return fail(lockKey, nowS) }
        let algorithm = Crypto.DigestAlgorithm(rawValue: (p["algorithm"] ?? "MD5").uppercased()) ?? .md5
        if (p["algorithm"].map { Crypto.DigestAlgorithm(rawValue: $0.uppercased()) == nil } ?? false) { return .challenge(stale: false) }
        switch checkNonce(nonce, now: now) {
        case .forged: return fail(lockKey, nowS)
        case .expired: return .challenge(stale: true)
        case .valid: break
        }
        // Unknown users are checked against a throwaway HA1 so the work and the answer match.
        let ha1 = users[user]?.ha1[algorithm] ?? Crypto.hexDigest(algorithm, "\(user):\(realm):\(Crypto.hex(secret))")
        let ha2 = Crypto.hexDigest(algorithm, "\(request.method ?? ""):\(uri)")
        let expected: String
        if let qop = p["qop"] {
            guard qop.lowercased() == "auth", let nc = p["nc"], let cnonce = p["cnonce"] else { return .malformed("unsupported qop") }
            expected = Crypto.hexDigest(algorithm, "\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
        } else {
            expected = Crypto.hexDigest(algorithm, "\(ha1):\(nonce):\(ha2)")
        }
        guard users[user] != nil, Crypto.constantTimeEqual(Array(expected.utf8), Array(response.lowercased().utf8)) else {
            return fail(lockKey, nowS)
        }
        failures.removeValue(forKey: lockKey)
        var known = knownSources[user] ?? []
        if !known.contains(source) {
            known.append(source)
            if known.count > 16 { known.removeFirst() }
            knownSources[user] = known
        }
        return .authenticated(user: user)
    }

    private mutating func fail(user: String, source: String, _ now: UInt64) -> Outcome {
        let pair = Self.count(&failures, "\(user)|\(source)", now: now, window: lockoutSeconds, ceiling: maximumFailures, lockout: lockoutSeconds)
        let byUser = Self.count(&userFailures, user, now: now, window: failureWindowSeconds, ceiling: maximumUserFailures, lockout: lockoutSeconds)
        let bySource = Self.count(&sourceFailures, source, now: now, window: failureWindowSeconds, ceiling: maximumSourceFailures, lockout: lockoutSeconds)
        if pair { return .lockedOut(.userAtSource, user: user) }
        if bySource { return .lockedOut(.source, user: user) }
        if byUser, !(knownSources[user]?.contains(source) ?? false) { return .lockedOut(.user, user: user) }
        return .challenge(stale: false)
    }

    /// Counts a failure under `key` in `table`; true when the key is now locked out.
    private static func count(_ table: inout [String: (count: Int, first: UInt64, lockedUntil: UInt64)], _ key: String, now: UInt64,
                              window: UInt64, ceiling: Int, lockout: UInt64) -> Bool {
        var f = table[key] ?? (0, now, 0)
        if now - f.first > window { f = (0, now, 0) }
        f.count += 1
        if f.count >= ceiling { f.lockedUntil = now + lockout }
        if table.count > 100_000 { table = table.filter { $0.value.lockedUntil > now } }
        table[key] = f
        return f.lockedUntil > now
    }
}

/// `Digest name=value, name="value", …` (RFC 3261 §25.1 credentials).
struct DigestParams {
    let scheme: String
    private var values: [String: String] = [:]

    subscript(_ k: String) -> String? { values[k] }

    init?(parsing text: String) {
        let t = text.trimmingLWS
        guard let sp = t.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        scheme = String(t[..<sp])
        for item in splitHeaderList(t[sp...]) {
            guard let eq = item.utf8.firstIndex(of: 0x3D) else { continue }
            let k = item[..<eq].trimmingLWS.lowercased()
            var v = item[item.index(after: eq)...].trimmingLWS
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = v.dropFirst().dropLast() }
            values[k] = String(v)
        }
    }
}
