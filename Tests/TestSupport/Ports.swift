import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ports for the peers the end-to-end tests start (SIPp, baresip, the CT-Server's RTP range):
/// one locked allocator per test process, handing out blocks of consecutive ports in
/// 20000–32767 — below Linux's ephemeral range, so no socket opened with port 0 holds them —
/// never the same block twice in a process, and each port checked free (UDP and TCP) when
/// handed out. Processes start at different places in the range (by pid).
public enum TestPorts {
    static let low = 20000, high = 32768
    private static let cursor = Box(20000 + Int(getpid() % 97) * 120)

    /// `count` consecutive free ports; returns the first.
    public static func block(_ count: Int) -> Int {
        var base = 0
        cursor.mutate { next in
            var tries = 0
            while true {
                if next + count > high { next = low }
                let candidate = next
                next += count
                tries += 1
                if (candidate..<candidate + count).allSatisfy(isFree) || tries > 200 {
                    base = candidate
                    return
                }
            }
        }
        return base
    }

    /// Whether 127.0.0.1:`port` can be bound over UDP and TCP now.
    static func isFree(_ port: Int) -> Bool {
        for type in [Int32(SOCK_DGRAM.rawValue), Int32(SOCK_STREAM.rawValue)] {
            let fd = socket(AF_INET, type, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if r != 0 { return false }
        }
        return true
    }
}

/// SIPp as the tests run it: the Debian package's binary, on loopback, on ports of its own.
public enum SIPp {
    public static let path = "/usr/bin/sipp"

    /// A SIPp instance's ports: SIP at `sip`, its control socket at `sip + 1`, media at
    /// `media`…`media + 3` (audio RTP/RTCP, video RTP/RTCP, which SIPp opens too).
    public struct Ports {
        public let sip: Int
        public var control: Int { sip + 1 }
        public var media: Int { sip + 4 }
        public init() { sip = TestPorts.block(8) }
        /// The block starting at `sip` (from `TestPorts.block(8)`): a peer whose port must be
        /// known before SIPp starts (a trunk's address in the CT-Server's config).
        public init(at sip: Int) { self.sip = sip }
    }

    /// The arguments every SIPp the tests start has: loopback addresses, its ports, no stdin.
    public static func base(_ p: Ports, ipv6: Bool = false) -> [String] {
        let host = ipv6 ? "::1" : "127.0.0.1"
        return ["-i", host, "-mi", host, "-p", "\(p.sip)", "-cp", "\(p.control)", "-mp", "\(p.media)", "-bind_local", "-nostdin"]
    }

    /// Starts SIPp in the background: `target` (nil for a UAS), a scenario file or built-in.
    public static func start(_ target: String?, scenario: URL? = nil, builtin: String? = nil, ports: Ports = Ports(), ipv6: Bool = false,
                             _ args: [String]) throws -> ChildProcess {
        try ChildProcess(path, arguments(target, scenario: scenario, builtin: builtin, ports: ports, ipv6: ipv6, args))
    }

    /// Runs SIPp to its end (bounded by `seconds`): its exit status and output.
    public static func run(_ target: String?, scenario: URL? = nil, builtin: String? = nil, ports: Ports = Ports(), ipv6: Bool = false,
                           _ args: [String], seconds: Double = 60) throws -> (status: Int32, output: String) {
        try ChildProcess.run(path, arguments(target, scenario: scenario, builtin: builtin, ports: ports, ipv6: ipv6, args), seconds: seconds)
    }

    static func arguments(_ target: String?, scenario: URL?, builtin: String?, ports: Ports, ipv6: Bool, _ args: [String]) -> [String] {
        var a: [String] = target.map { [$0] } ?? []
        if let scenario { a += ["-sf", scenario.path] }
        if let builtin { a += ["-sn", builtin] }
        return a + base(ports, ipv6: ipv6) + args
    }
}
