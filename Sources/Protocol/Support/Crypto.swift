import COpenSSL
import Foundation

/// Small wrappers over OpenSSL's primitives used by the link handshake.
public enum Crypto {
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let rc = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(rc == 1, "RAND_bytes failed: the process has no entropy source")
        return out
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        _ = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(COpenSSL_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, o.baseAddress, &len)
                }
            }
        }
        return out
    }

    /// Compares in time that depends only on the lengths, never on where bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
    }
}

extension Crypto {
    public enum DigestAlgorithm: String, Sendable, CaseIterable {
        case md5 = "MD5"
        case sha256 = "SHA-256"
    }

    /// Lower-case hex of the digest of `text`'s UTF-8 bytes (SIP digest authentication).
    public static func hexDigest(_ algorithm: DigestAlgorithm, _ text: String) -> String {
        let md = algorithm == .md5 ? EVP_md5() : EVP_sha256()
        var out = [UInt8](repeating: 0, count: 64)
        var len: UInt32 = 0
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { o in EVP_Digest(b.baseAddress, b.count, o.baseAddress, &len, md, nil) } }
        return out[0..<Int(len)].map { String(format: "%02x", $0) }.joined()
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

extension Crypto {
    /// PBKDF2-HMAC-SHA256 (OpenSSL) of a password.
    public static func pbkdf2SHA256(password: String, salt: [UInt8], iterations: Int, length: Int = 32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let pw = Array(password.utf8CString)   // NUL-terminated; the length passed excludes it
        let rc = pw.withUnsafeBufferPointer { p in
            salt.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    PKCS5_PBKDF2_HMAC(p.baseAddress, Int32(p.count - 1), s.baseAddress, Int32(s.count), Int32(iterations), COpenSSL_sha256(), Int32(length), o.baseAddress)
                }
            }
        }
        precondition(rc == 1, "PKCS5_PBKDF2_HMAC failed")
        return out
    }
}

/// Operator passwords at rest: "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX", never the password.
public enum PasswordHash {
    public static let defaultIterations = 210_000   // OWASP 2023 guidance for PBKDF2-HMAC-SHA256

    public static func make(_ password: String, iterations: Int = defaultIterations) -> String {
        let salt = Crypto.randomBytes(16)
        return "pbkdf2-sha256$\(iterations)$\(Crypto.hex(salt))$\(Crypto.hex(Crypto.pbkdf2SHA256(password: password, salt: salt, iterations: iterations)))"
    }

    /// Checks a password against a stored hash in constant time (for equal lengths).
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let n = Int(parts[1]), (1_000...10_000_000).contains(n),
              let salt = unhex(parts[2]), let want = unhex(parts[3]), !want.isEmpty else { return false }
        return Crypto.constantTimeEqual(Crypto.pbkdf2SHA256(password: password, salt: salt, iterations: n, length: want.count), want)
    }

    static func unhex(_ s: Substring) -> [UInt8]? {
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}

extension Crypto {
    /// The size and lower-case hex SHA-256 of a file, read in 1 MiB blocks (recordings).
    public static func sha256(file path: String) -> (size: UInt64, hex: String)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        var size: UInt64 = 0
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            size += UInt64(n)
            _ = buf.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, n) }
        }
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        guard out.withUnsafeMutableBufferPointer({ EVP_DigestFinal_ex(ctx, $0.baseAddress, &len) }) == 1 else { return nil }
        return (size, hex(Array(out[0..<Int(len)])))
    }
}
