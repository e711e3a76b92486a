import Foundation
import Yams

/// The YAML form of one link end (`flow_link:`, `ct_link:`, `app_link:` in service configs).
/// Every key is optional; `resolve` fills defaults and checks what is required.
public struct LinkSettings: Codable, Equatable, Sendable {
    /// Listening side: "host:port" ("[::1]:7100" for IPv6; port 0 picks a free one).
    public var listen: String?
    /// Dialling side: "host:port" of the peer.
    public var connect: String?
    /// The shared secret (prefer `secret_file`, or the environment variable the service names).
    public var secret: String?
    public var secretFile: String?
    public var heartbeatMs: Int?
    public var requestTimeoutMs: Int?
    public var handshakeTimeoutMs: Int?
    public var maxFrameBytes: Int?
    public var compressThresholdBytes: Int?
    public var maxOutgoingBytes: Int?
    public var maxConnections: Int?
    /// Connections from one address that have not completed the handshake (listening side).
    public var maxUnauthenticatedPerSource: Int?
    public var backoffInitialMs: Int?
    public var backoffMaxMs: Int?
    public var tls: TLSConfiguration?
    /// The directory of the config file these settings came from (not a YAML key): a relative
    /// `secret_file` is looked for in the working directory, then there.
    public var configDirectory: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case listen, connect, secret, tls
        case secretFile = "secret_file"
        case heartbeatMs = "heartbeat_ms"
        case requestTimeoutMs = "request_timeout_ms"
        case handshakeTimeoutMs = "handshake_timeout_ms"
        case maxFrameBytes = "max_frame_bytes"
        case compressThresholdBytes = "compress_threshold_bytes"
        case maxOutgoingBytes = "max_outgoing_bytes"
        case maxConnections = "max_connections"
        case maxUnauthenticatedPerSource = "max_unauthenticated_per_source"
        case backoffInitialMs = "backoff_initial_ms"
        case backoffMaxMs = "backoff_max_ms"
    }

    /// Resolves the secret: `environment[envName]` beats `secret_file` beats `secret`.
    public func resolvedSecret(environmentVariable envName: String) throws -> [UInt8] {
        if let v = ProcessInfo.processInfo.environment[envName], !v.isEmpty { return Array(v.utf8) }
        if let file = secretFile {
            // Absolute, or relative to the working directory, else to the config file's directory.
            var tried = [file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file]
            if !file.hasPrefix("/"), let dir = configDirectory { tried.append(URL(fileURLWithPath: dir).appendingPathComponent(file).standardized.path) }
            guard let text = tried.lazy.compactMap({ try? String(contentsOfFile: $0, encoding: .utf8) }).first else {
                throw ConfigError("cannot read secret_file \(file) (tried \(tried.joined(separator: ", "))); give an absolute path or set \(envName)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ConfigError("secret_file \(file) is empty") }
            return Array(trimmed.utf8)
        }
        if let secret, !secret.isEmpty { return Array(secret.utf8) }
        throw ConfigError("no link secret: set `secret_file`, `secret`, or \(envName)")
    }

    public func linkConfiguration(secretEnvironmentVariable: String) throws -> LinkConfiguration {
        let secret = try resolvedSecret(environmentVariable: secretEnvironmentVariable)
        guard secret.count >= 8 else { throw ConfigError("the link secret must be at least 8 bytes") }
        var c = LinkConfiguration(secret: secret)
        if let v = heartbeatMs { guard v >= 100 else { throw ConfigError("heartbeat_ms must be ≥ 100") }; c.heartbeatIntervalMs = v }
        if let v = requestTimeoutMs { c.requestTimeoutMs = max(1, v) }
        if let v = handshakeTimeoutMs { c.handshakeTimeoutMs = max(100, v) }
        if let v = maxFrameBytes { guard v >= 1024 else { throw ConfigError("max_frame_bytes must be ≥ 1024") }; c.maximumFrameSize = v }
        if let v = compressThresholdBytes { c.compressionThreshold = max(0, v) }
        if let v = maxOutgoingBytes { c.maximumOutgoingBytes = max(c.maximumFrameSize, v) }
        return c
    }

    public var backoff: Backoff { Backoff(initialMs: backoffInitialMs ?? 100, maximumMs: backoffMaxMs ?? 10_000) }

    public func serverTLS() throws -> TLSContext? { try tls.map { try TLSContext(server: $0) } }
    public func clientTLS() throws -> TLSContext? { try tls.map { try TLSContext(client: $0) } }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Loads a YAML config file into `T`, reporting the line of a syntax error.
public func loadYAMLConfig<T: Decodable>(_ type: T.Type, path: String?) throws -> T? {
    guard let path else { return nil }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError("cannot read config file \(path)") }
    do {
        try YAMLLimits.check(text)
        try ConfigKeys.check(text, as: T.self)
        return try YAMLDecoder().decode(T.self, from: text)
    } catch let e as YAMLLimits.Violation {
        throw ConfigError("\(path): \(e)")
    } catch let e as ConfigKeys.UnknownKey {
        throw ConfigError("\(path): \(e)")
    } catch let e as YamlError {
        throw ConfigError("\(path): \(e)")
    } catch let e as DecodingError {
        throw ConfigError("\(path): \(describe(e))")
    }
}

func describe(_ e: DecodingError) -> String {
    func path(_ ctx: DecodingError.Context) -> String { ctx.codingPath.map(\.stringValue).joined(separator: ".") }
    switch e {
    case .keyNotFound(let k, let ctx): return "missing key \((path(ctx).isEmpty ? "" : path(ctx) + ".") + k.stringValue)"
    case .dataCorrupted(let ctx) where ctx.underlyingError is YamlError:
        return "\(ctx.underlyingError!)"
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
        return "\(path(ctx)): \(ctx.debugDescription)"
    @unknown default: return "\(e)"
    }
}
