import Foundation
import Protocol

/// The registrar's bindings on disk (`sip.registrations_file`), so that a restarted CT-Server
/// still reaches the phones that registered before it (issue 14). JSON, written atomically
/// (temporary file and rename) a moment after each change; expired bindings are never restored.
/// TLS bindings are not kept: their connection cannot be re-opened from our side.
public struct PersistedBinding: Codable, Equatable, Sendable {
    public var aor: String
    public var contact: String
    /// When it expires, in seconds since 1970 (monotonic time does not survive a restart).
    public var expiresAt: Double
    public var callID: String
    public var cseq: UInt32
    public var transport: String
    public var host: String
    public var port: Int
    public var userAgent: String?
}

public enum RegistrationStore {
    public static func save(_ bindings: [PersistedBinding], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try enc.encode(bindings).write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else { throw ConfigError("cannot rename \(tmp.path) to \(path): errno \(errno)") }
    }

    /// The bindings in `path` (none when it does not exist yet).
    public static func load(from path: String) throws -> [PersistedBinding] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try JSONDecoder().decode([PersistedBinding].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

extension Registrar {
    /// The live bindings, with wall-clock expiries.
    public func persisted(now: UInt64, wallNow: Double) -> [PersistedBinding] {
        bindings.sorted { $0.key < $1.key }.flatMap { aor, list in
            list.filter { $0.expiresAt > now && $0.source.transport != .tls }.map { b in
                PersistedBinding(aor: aor, contact: b.contact.description, expiresAt: wallNow + Double(b.expiresAt - now) / 1e9, callID: b.callID,
                                 cseq: b.cseq, transport: b.source.transport.rawValue, host: b.source.address.host, port: b.source.address.port,
                                 userAgent: b.userAgent)
            }
        }
    }

    /// Restores what `persisted` wrote; expired or unreadable entries are skipped. Returns how many were restored.
    @discardableResult
    public mutating func restore(_ list: [PersistedBinding], now: UInt64, wallNow: Double) -> Int {
        var n = 0
        for p in list where p.expiresAt > wallNow {
            guard let contact = try? SIPNameAddr(parsing: p.contact), let transport = SIPPeer.Transport(rawValue: p.transport), transport != .tls,
                  let address = try? SocketAddress(host: p.host, port: p.port), (bindings[p.aor]?.count ?? 0) < maximumContactsPerAOR else { continue }
            let left = UInt64(min(Double(maximumExpires), p.expiresAt - wallNow) * 1e9)
            // A stream binding's connection died with the old process: calls open a new one.
            let b = Binding(contact: contact, expiresAt: now + left, callID: p.callID, cseq: p.cseq,
                            source: SIPPeer(transport: transport, address: address), userAgent: p.userAgent)
            bindings[p.aor, default: []].removeAll { $0.contact.uri.description == contact.uri.description }
            bindings[p.aor, default: []].append(b)
            n += 1
        }
        return n
    }
}
