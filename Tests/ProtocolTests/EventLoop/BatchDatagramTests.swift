import CPosix
import Foundation
import Testing
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The shim's recvmmsg/sendmmsg wrappers over real UDP sockets on 127.0.0.1 (the channel
/// loop's batched RTP I/O is built on them).
@Suite struct BatchDatagramTests {
    func udpSocket() throws -> (Int32, sockaddr_storage, socklen_t) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        let any = try SocketAddress(host: "127.0.0.1", port: 0)
        var ss = any.sockaddrStorage
        let rc = withUnsafePointer(to: &ss) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, any.length) } }
        #expect(rc == 0)
        var bound = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, bound, len)
    }

    @Test func sendAndReceiveABatch() throws {
        let (rx, rxAddr, rxLen) = try udpSocket()
        let (tx, _, _) = try udpSocket()
        defer { close(rx); close(tx) }
        let n = 32
        var payloads = (0..<n).map { i in [UInt8](repeating: UInt8(i), count: 160 + i) }
        var iovs = [iovec](repeating: iovec(), count: n)
        var addrs = [sockaddr_storage](repeating: rxAddr, count: n)
        var lens = [socklen_t](repeating: rxLen, count: n)
        var sent: Int32 = 0
        payloads.withUnsafeMutableBufferPointer { pb in
            for i in 0..<n {
                iovs[i] = pb[i].withUnsafeMutableBytes { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
            }
            sent = CPosix_sendmmsg(tx, &iovs, &addrs, &lens, UInt32(n))
        }
        #expect(sent == Int32(n))

        var buffers = [[UInt8]](repeating: [UInt8](repeating: 0, count: 2048), count: n)
        var rIovs = [iovec](repeating: iovec(), count: n)
        var from = [sockaddr_storage](repeating: sockaddr_storage(), count: n)
        var fromLens = [socklen_t](repeating: 0, count: n)
        var sizes = [UInt32](repeating: 0, count: n)
        var got: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(5)
        while got.count < n && Date() < deadline {
            buffers.withUnsafeMutableBufferPointer { bb in
                for i in 0..<n { rIovs[i] = bb[i].withUnsafeMutableBytes { iovec(iov_base: $0.baseAddress, iov_len: $0.count) } }
                let r = CPosix_recvmmsg(rx, &rIovs, &from, &fromLens, &sizes, UInt32(n))
                if r > 0 { for i in 0..<Int(r) { got.append(Array(bb[i][0..<Int(sizes[i])])) } }
            }
            if got.count < n { usleep(1000) }
        }
        #expect(got == (0..<n).map { i in [UInt8](repeating: UInt8(i), count: 160 + i) })
    }
}

import TestSupport

@Suite struct ExclusiveUDPBindTests {
    /// A UDP port is never shared: a second bind fails (RTP of two channels, or two servers,
    /// must not silently split each other's datagrams).
    @Test func secondBindOfAUDPPortFails() throws {
        let first = try Sockets.udpBind(try SocketAddress(host: "127.0.0.1", port: 0))
        defer { close(first) }
        let port = try #require(Sockets.localAddress(first)).port
        #expect(throws: SystemError.self) { _ = try Sockets.udpBind(try SocketAddress(host: "127.0.0.1", port: port)) }
    }
}
