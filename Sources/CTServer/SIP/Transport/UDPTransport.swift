import CPosix
import Logging
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// SIP over UDP: one datagram, one message (RFC 3261 §18.1.1). Reads in batches with recvmmsg.
final class UDPTransport: EventLoopHandler {
    let fd: Int32
    let localAddress: SocketAddress
    weak var delegate: SIPTransportDelegate?
    private let loop: EventLoop
    private let logger: Logger
    private static let batch = 32
    private static let datagramSize = 65536
    private let buffers: UnsafeMutableRawBufferPointer
    private var iovs = [iovec](repeating: iovec(), count: batch)
    private var addrs = [sockaddr_storage](repeating: sockaddr_storage(), count: batch)
    private var addrLens = [socklen_t](repeating: 0, count: batch)
    private var lens = [UInt32](repeating: 0, count: batch)
    private(set) var datagramsIn = 0
    private(set) var datagramsOut = 0
    private(set) var sendFailures = 0

    init(loop: EventLoop, address: SocketAddress, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        fd = try Sockets.udpBind(address)
        localAddress = Sockets.localAddress(fd) ?? address
        buffers = .allocate(byteCount: Self.batch * Self.datagramSize, alignment: 16)
        for i in 0..<Self.batch {
            iovs[i] = iovec(iov_base: buffers.baseAddress! + i * Self.datagramSize, iov_len: Self.datagramSize)
        }
        try loop.register(fd: fd, interest: .read, handler: self)
    }

    deinit { buffers.deallocate() }

    func handleEvents(_ events: UInt32) {
        // Bounded work per wake-up so one flooding source cannot starve the loop.
        for _ in 0..<8 {
            let n = CPosix_recvmmsg(fd, &iovs, &addrs, &addrLens, &lens, UInt32(Self.batch))
            if n <= 0 { return }
            for i in 0..<Int(n) {
                datagramsIn += 1
                let bytes = Array(UnsafeRawBufferPointer(start: buffers.baseAddress! + i * Self.datagramSize, count: Int(lens[i])))
                let from = SocketAddress(storage: addrs[i], length: addrLens[i])
                delegate?.datagramReceived(bytes, from: SIPPeer(transport: .udp, address: from))
            }
            if n < Int32(Self.batch) { return }
        }
    }

    func send(_ bytes: [UInt8], to address: SocketAddress) {
        if Sockets.sendTo(fd, bytes, address) { datagramsOut += 1 } else { sendFailures += 1 }
    }

    func close() {
        loop.unregister(fd: fd)
        Glibc.close(fd)
    }
}
