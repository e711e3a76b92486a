import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// TLS settings of one link end, as read from a service's YAML config (`tls:` block).
public struct TLSConfiguration: Sendable, Equatable, Codable {
    /// PEM certificate chain presented to the peer (required on a server; on a client only
    /// when the server verifies client certificates).
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// PEM bundle of CAs trusted to sign the peer's certificate.
    public var caFile: String?
    /// Server: require and verify a client certificate. Client: verify the server
    /// (default true on clients; turning it off is for tests only).
    public var verifyPeer: Bool?
    /// Client: the name the server certificate must carry (defaults to the dialled host).
    public var serverName: String?

    public init(certificateFile: String? = nil, privateKeyFile: String? = nil, caFile: String? = nil,
                verifyPeer: Bool? = nil, serverName: String? = nil) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.caFile = caFile
        self.verifyPeer = verifyPeer
        self.serverName = serverName
    }

    enum CodingKeys: String, CodingKey {
        case certificateFile = "certificate"
        case privateKeyFile = "private_key"
        case caFile = "ca"
        case verifyPeer = "verify_peer"
        case serverName = "server_name"
    }
}

func openSSLErrors() -> String {
    var parts: [String] = []
    while true {
        let e = ERR_get_error()
        if e == 0 { break }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(e, &buf, buf.count)
        parts.append(String(cString: buf))
    }
    return parts.isEmpty ? "unknown TLS error" : parts.joined(separator: "; ")
}

/// An OpenSSL SSL_CTX for one side of a link. TLS 1.2 is the minimum.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let isServer: Bool
    let serverName: String?
    let verifyPeer: Bool

    public init(server config: TLSConfiguration) throws {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw ProtocolError(.internalError, openSSLErrors()) }
        self.ctx = ctx
        isServer = true
        serverName = nil
        verifyPeer = config.verifyPeer ?? false
        try configure(config, requireCertificate: true)
        if verifyPeer {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
    }

    public init(client config: TLSConfiguration) throws {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw ProtocolError(.internalError, openSSLErrors()) }
        self.ctx = ctx
        isServer = false
        serverName = config.serverName
        verifyPeer = config.verifyPeer ?? true
        try configure(config, requireCertificate: false)
        SSL_CTX_set_verify(ctx, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
    }

    private func configure(_ config: TLSConfiguration, requireCertificate: Bool) throws {
        _ = COpenSSL_CTX_set_min_tls12(ctx)
        _ = COpenSSL_CTX_set_partial_write(ctx)
        if let cert = config.certificateFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw ProtocolError(.internalError, "TLS certificate \(cert): \(openSSLErrors())")
            }
            guard let key = config.privateKeyFile,
                  SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(ctx) == 1 else {
                throw ProtocolError(.internalError, "TLS private key \(config.privateKeyFile ?? "(missing)"): \(openSSLErrors())")
            }
        } else if requireCertificate {
            throw ProtocolError(.internalError, "TLS on a listening link needs `certificate` and `private_key`")
        }
        if let ca = config.caFile {
            guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1 else {
                throw ProtocolError(.internalError, "TLS CA file \(ca): \(openSSLErrors())")
            }
        } else if !isServer, config.verifyPeer ?? true {
            SSL_CTX_set_default_verify_paths(ctx)
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// Wraps a connected socket. `host` is what the client dialled (for SNI and name checks).
    public func stream(fd: Int32, host: String?) throws -> TLSStream {
        guard let ssl = SSL_new(ctx) else { throw ProtocolError(.internalError, openSSLErrors()) }
        SSL_set_fd(ssl, fd)
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let name = serverName ?? host {
                _ = COpenSSL_set_hostname(ssl, name)
                if verifyPeer { SSL_set1_host(ssl, name) }
            }
        }
        return TLSStream(ssl: ssl, fd: fd)
    }
}

/// TLS over a non-blocking socket.
public final class TLSStream: ByteStream {
    let ssl: OpaquePointer
    public let fd: Int32
    private var closed = false

    init(ssl: OpaquePointer, fd: Int32) {
        self.ssl = ssl
        self.fd = fd
    }

    deinit { SSL_free(ssl) }

    private func step(_ rc: Int32) -> StreamStep {
        if rc > 0 { return .bytes(Int(rc)) }
        let e = SSL_get_error(ssl, rc)
        switch e {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .eof
        case SSL_ERROR_SYSCALL:
            let detail = openSSLErrors()
            return errno == 0 || detail == "unknown TLS error" ? .eof : .failed("TLS: \(detail)")
        default:
            var detail = openSSLErrors()
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                detail += " (certificate: \(String(cString: X509_verify_cert_error_string(verify))))"
            }
            return .failed("TLS: \(detail)")
        }
    }

    public func handshake() -> StreamStep {
        ERR_clear_error()
        errno = 0
        return step(SSL_do_handshake(ssl))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> StreamStep {
        ERR_clear_error()
        errno = 0
        return step(SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max)))))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> StreamStep {
        ERR_clear_error()
        errno = 0
        return step(SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max)))))
    }

    public var securityDescription: String {
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "?"
        return "\(version) \(cipher)"
    }

    public func close() {
        guard !closed else { return }
        closed = true
        SSL_shutdown(ssl)
        Glibc.close(fd)
    }
}
