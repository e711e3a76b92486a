import Foundation
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The address Hotline puts in what a peer reads back — Via, Contact, SDP `c=`/`o=` — for each
/// peer: never the wildcard it listens on.
///
/// - `external_address` (a server behind NAT) for peers outside `local_networks`;
/// - else, listening on a wildcard (0.0.0.0, ::), the address of the interface the kernel routes
///   to the peer through (a UDP socket connected to the peer, then getsockname — no packet is
///   sent), cached per peer host;
/// - else the address it listens on.
public final class AdvertisedAddresses {
    /// An IPv4 or IPv6 prefix ("10.0.0.0/8", "fd00::/8"; a bare address is /32 or /128).
    public struct Network: Equatable, Sendable {
        let bytes: [UInt8]
        let prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let b = Self.address(String(parts[0])) else { return nil }
            let max = b.count * 8
            let p = parts.count == 2 ? Int(parts[1]) : max
            guard let p, (0...max).contains(p) else { return nil }
            bytes = b
            prefix = p
        }

        public func contains(_ host: String) -> Bool {
            guard let b = Self.address(host), b.count == bytes.count else { return false }
            var bits = prefix
            for i in 0..<b.count where bits > 0 {
                let n = min(8, bits)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - n))
                if b[i] & mask != bytes[i] & mask { return false }
                bits -= n
            }
            return true
        }

        /// The address's bytes (4 or 16), or nil if it is not a literal address.
        static func address(_ text: String) -> [UInt8]? {
            let t = text.trimmingCharacters(in: ["[", "]"])
            var v4 = in_addr()
            if inet_pton(AF_INET, t, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, t, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
            return nil
        }

        /// Loopback, private (RFC 1918), link-local, CGNAT (RFC 6598) and unique-local IPv6.
        public static let privateDefaults = ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                                             "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10"].compactMap(Network.init)
    }

    public let externalAddress: String?
    public let localNetworks: [Network]
    private var routeCache: [String: String] = [:]

    public init(externalAddress: String?, localNetworks: [Network] = Network.privateDefaults) {
        self.externalAddress = externalAddress
        self.localNetworks = localNetworks
    }

    static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" }

    /// The host (no port, IPv6 without brackets) to advertise to `peer`, for a socket bound to `bound`.
    public func host(toward peer: SocketAddress, bound: SocketAddress) -> String {
        if let externalAddress, !localNetworks.contains(where: { $0.contains(peer.host) }) { return externalAddress }
        guard Self.isWildcard(bound.host) else { return bound.host }
        return route(toward: peer) ?? (peer.family == .v6 ? "::1" : "127.0.0.1")
    }

    /// `host:port` (IPv6 in brackets).
    public func hostPort(toward peer: SocketAddress, bound: SocketAddress) -> String {
        let h = host(toward: peer, bound: bound)
        return h.contains(":") ? "[\(h)]:\(bound.port)" : "\(h):\(bound.port)"
    }

    /// The source address the kernel picks for `peer` (its route's interface).
    func route(toward peer: SocketAddress) -> String? {
        if let c = routeCache[peer.host] { return c }
        let fd = socket(peer.family == .v6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var ss = peer.sockaddrStorage
        let rc = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, peer.length) } }
        guard rc == 0, let local = Sockets.localAddress(fd), !Self.isWildcard(local.host) else { return nil }
        if routeCache.count >= 4096 { routeCache.removeAll(keepingCapacity: true) }
        routeCache[peer.host] = local.host
        return local.host
    }
}
