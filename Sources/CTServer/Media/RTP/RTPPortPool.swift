import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// RTP ports for channels: even ports of the configured range, bound on demand. A port is
/// released to the pool when its channel goes; the socket itself is closed by the channel loop.
struct RTPPortPool {
    let low: Int
    let high: Int
    private var next: Int
    private var inUse: Set<Int> = []

    init(low: Int, high: Int) {
        self.low = low & ~1
        self.high = high
        next = self.low
    }

    /// Binds UDP sockets on the next free even port of the range at `host` (RTP) and the odd
    /// port above it (RTCP, RFC 3550 §11).
    mutating func bind(host: String) -> (fd: Int32, port: Int, rtcp: Int32)? {
        let span = (high - low) / 2 + 1
        for _ in 0..<span {
            let p = next
            next = next + 2 > high ? low : next + 2
            guard !inUse.contains(p), let addr = try? SocketAddress(host: host, port: p),
                  let fd = try? Sockets.udpBind(addr, bufferBytes: 256 * 1024) else { continue }
            guard let rtcpAddr = try? SocketAddress(host: host, port: p + 1), let rtcp = try? Sockets.udpBind(rtcpAddr, bufferBytes: 32 * 1024) else {
                close(fd)
                continue
            }
            inUse.insert(p)
            return (fd, p, rtcp)
        }
        return nil
    }

    mutating func release(_ port: Int) { inUse.remove(port) }

    var count: Int { inUse.count }
}
