import Protocol

/// Answers a digest challenge (401 WWW-Authenticate / 407 Proxy-Authenticate) for an outbound
/// request to a trunk (RFC 3261 §22.2, RFC 7616; MD5 and SHA-256, qop=auth or none).
public enum DigestClient {
    public struct Credentials: Sendable, Equatable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// The Authorization / Proxy-Authorization value for `method` `uri`, or nil if the
    /// challenge cannot be answered (unknown algorithm, qop other than auth).
    public static func authorization(challenge: String, method: String, uri: String, credentials: Credentials,
                                     cnonce: String? = nil, nc: Int = 1) -> String? {
        let cnonce = cnonce ?? SIPEndpoint.randomToken(12)
        guard let p = DigestParams(parsing: challenge), p.scheme.lowercased() == "digest", let realm = p["realm"], let nonce = p["nonce"] else { return nil }
        guard let algorithm = Crypto.DigestAlgorithm(rawValue: (p["algorithm"] ?? "MD5").uppercased()) else { return nil }
        let ha1 = Crypto.hexDigest(algorithm, "\(credentials.username):\(realm):\(credentials.password)")
        let ha2 = Crypto.hexDigest(algorithm, "\(method):\(uri)")
        var fields = ["username=\"\(credentials.username)\"", "realm=\"\(realm)\"", "nonce=\"\(nonce)\"", "uri=\"\(uri)\""]
        let response: String
        if let qops = p["qop"] {
            guard qops.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }).contains("auth") else { return nil }
            let ncText = String(format: "%08x", nc)
            response = Crypto.hexDigest(algorithm, "\(ha1):\(nonce):\(ncText):\(cnonce):auth:\(ha2)")
            fields += ["response=\"\(response)\"", "qop=auth", "nc=\(ncText)", "cnonce=\"\(cnonce)\""]
        } else {
            response = Crypto.hexDigest(algorithm, "\(ha1):\(nonce):\(ha2)")
            fields.append("response=\"\(response)\"")
        }
        fields.append("algorithm=\(algorithm.rawValue)")
        if let opaque = p["opaque"] { fields.append("opaque=\"\(opaque)\"") }
        return "Digest " + fields.joined(separator: ", ")
    }
}
