import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hosts and networks for end-to-end tests, made of Linux network namespaces and veth pairs
/// (tests run as root): a server on "another host", a home router that masquerades (nftables).
/// Everything it creates is removed by `tearDown()`; names carry the test process's pid.
public final class NetworkLab {
    public static let ip = "/usr/sbin/ip"
    private let tag: String
    private var namespaces: [String] = []
    private var rootLinks: [String] = []
    private var rootRoutes: [[String]] = []

    public init() {
        tag = String(getpid() % 100_000, radix: 36)
    }

    /// Runs `ip ARGS` (in namespace `ns` when given); throws with its output on failure.
    @discardableResult
    public func ip(_ args: [String], in ns: String? = nil) throws -> String {
        let r = try ChildProcess.run(Self.ip, (ns.map { ["-n", $0] } ?? []) + args, seconds: 10)
        guard r.status == 0 else { throw LabError("ip \(args.joined(separator: " ")): \(r.output)") }
        return r.output
    }

    /// Runs a program inside a namespace.
    @discardableResult
    public func exec(_ ns: String, _ program: String, _ args: [String]) throws -> String {
        let r = try ChildProcess.run(Self.ip, ["netns", "exec", ns, program] + args, seconds: 20)
        guard r.status == 0 else { throw LabError("\(program) \(args.joined(separator: " ")) in \(ns): \(r.output)") }
        return r.output
    }

    /// A new namespace with loopback up.
    public func host(_ name: String) throws -> String {
        let ns = "hl-\(name)-\(tag)"
        try ip(["netns", "add", ns])
        namespaces.append(ns)
        try ip(["link", "set", "lo", "up"], in: ns)
        return ns
    }

    /// A veth pair between `a` and `b` (nil: this, the root namespace) with an address on each
    /// end ("10.77.1.2/24"); returns the two interface names.
    @discardableResult
    public func link(_ a: String?, _ addressA: String, _ b: String, _ addressB: String) throws -> (String, String) {
        let n = namespaces.count + rootLinks.count
        let ea = "hv\(tag)\(n)a", eb = "hv\(tag)\(n)b"
        try ip(["link", "add", ea, "type", "veth", "peer", "name", eb])
        if a == nil { rootLinks.append(ea) }
        if let a { try ip(["link", "set", ea, "netns", a]) }
        try ip(["link", "set", eb, "netns", b])
        try ip(["addr", "add", addressA, "dev", ea], in: a)
        try ip(["addr", "add", addressB, "dev", eb], in: b)
        try ip(["link", "set", ea, "up"], in: a)
        try ip(["link", "set", eb, "up"], in: b)
        return (ea, eb)
    }

    /// A route in the root namespace (removed at tear-down).
    public func rootRoute(_ prefix: String, via gateway: String) throws {
        try ip(["route", "add", prefix, "via", gateway])
        rootRoutes.append(["route", "del", prefix, "via", gateway])
    }

    /// Makes `ns` a router that masquerades what its LAN (`inside`, a subnet) sends out through
    /// `outside` (a home NAT). Only the LAN's packets: what the router itself sends from an
    /// outside address keeps that address (rewritten, a second device's packets would share the
    /// phone's public address and port range — no longer "a third address").
    public func masquerade(_ ns: String, outside: String, inside: String) throws {
        try exec(ns, "/usr/sbin/sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"])
        let rules = dir.appendingPathComponent("nat-\(ns).nft")
        try """
        table ip hotline_nat {
          chain post { type nat hook postrouting priority 100; ip saddr \(inside) oifname "\(outside)" masquerade; }
          chain counted { type filter hook forward priority 0; counter; }
        }
        """.write(to: rules, atomically: true, encoding: .utf8)
        try exec(ns, "/usr/sbin/nft", ["-f", rules.path])
    }

    private lazy var dir: URL = TestSupport.temporaryDirectory("netlab")

    public func tearDown() {
        for r in rootRoutes { _ = try? ChildProcess.run(Self.ip, r, seconds: 5) }
        for l in rootLinks { _ = try? ChildProcess.run(Self.ip, ["link", "del", l], seconds: 5) }
        for ns in namespaces.reversed() { _ = try? ChildProcess.run(Self.ip, ["netns", "delete", ns], seconds: 5) }
        try? FileManager.default.removeItem(at: dir)
    }

    public struct LabError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }
}
