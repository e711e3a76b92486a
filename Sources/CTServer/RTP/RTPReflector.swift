import Logging
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The echo-test number's media: RTP received on the channel's port is sent back to the
/// latched source (symmetric RTP: the first source wins; packets from any other address are
/// dropped and counted, never reflected). Runs on the SIP loop; the 20 ms channel loop with
/// de-jittering, mixing and DTMF is the media issue's (#4).
final class RTPReflector: EventLoopHandler {
    let fd: Int32
    let port: Int
    private let loop: EventLoop
    private var latched: SocketAddress?
    private let expectedHost: String
    /// Reflect packets (echo test) or only receive and count them (until the media engine).
    private let echo: Bool
    private(set) var packetsIn = 0
    private(set) var packetsOut = 0
    private(set) var foreignDropped = 0
    private var buffer = [UInt8](repeating: 0, count: 2048)

    init(loop: EventLoop, fd: Int32, port: Int, expectedHost: String, echo: Bool = true) throws {
        self.loop = loop
        self.echo = echo
        self.fd = fd
        self.port = port
        self.expectedHost = expectedHost
        try loop.register(fd: fd, interest: .read, handler: self)
    }

    func handleEvents(_ events: UInt32) {
        for _ in 0..<64 {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &ss) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) }
                }
            }
            if n <= 0 { return }
            let from = SocketAddress(storage: ss, length: len)
            // RTP version 2 and at least a 12-byte header; anything else is not echoed.
            guard n >= 12, buffer[0] >> 6 == 2 else { foreignDropped += 1; continue }
            if latched == nil {
                guard from.host == expectedHost else { foreignDropped += 1; continue }
                latched = from
            }
            guard let target = latched, target.host == from.host, target.port == from.port else { foreignDropped += 1; continue }
            packetsIn += 1
            if echo, Sockets.sendTo(fd, Array(buffer[0..<n]), target) { packetsOut += 1 }
        }
    }

    func close() {
        loop.unregister(fd: fd)
        Glibc.close(fd)
    }
}

/// Hands out RTP ports (even numbers) from the configured range.
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

    /// Binds a UDP socket on the next free even port of the range at `host`.
    mutating func bind(host: String) -> (fd: Int32, port: Int)? {
        let span = (high - low) / 2 + 1
        for _ in 0..<span {
            let p = next
            next = next + 2 > high ? low : next + 2
            guard !inUse.contains(p), let addr = try? SocketAddress(host: host, port: p),
                  let fd = try? Sockets.udpBind(addr, bufferBytes: 256 * 1024) else { continue }
            inUse.insert(p)
            return (fd, p)
        }
        return nil
    }

    mutating func release(_ port: Int) { inUse.remove(port) }

    var count: Int { inUse.count }
}
