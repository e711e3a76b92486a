import Foundation
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// One RTP thread of the load generator: it owns a share of the calls and a few UDP sockets
/// (each carrying many calls, as a trunk would), sends every active call one PCMU packet per
/// 20 ms — calls spread over ten 2-ms slots so the load is smooth — with one sendmmsg per
/// socket and slot, and drains what comes back with recvmmsg, checking each packet's payload
/// (`RTPLoadPayload`): which call, which packet, whether it came from that call's far end, and
/// whether it was already seen. Nothing is allocated per packet or per tick.
final class RTPLoadWorker {
    typealias Stats = RTPLoadStats

    static let histogramBuckets = RTPLoadStats.histogramBuckets
    static let slots = 10                           // 2 ms apart: one 20-ms packet time
    static let slotNs: UInt64 = 2_000_000
    static let batch = 64                           // CPosix_sendmmsg / recvmmsg at most
    static let sendRing = 64                        // send times kept per call (1.28 s)

    let index: Int
    let workers: Int
    let localCount: Int
    let rtpFds: [Int32]
    let rtcpFds: [Int32]
    let ports: [Int]
    private let epfd: Int32
    private let timerfd: Int32

    // Per call (local index l; the call's global index is l * workers + index).
    private var active: [Bool]
    private var remote: [sockaddr_in]
    private var packetNumber: [UInt32]
    private var sequence: [UInt16]
    private var sendTimes: [UInt64]
    private var windowFirst: [UInt32]
    private var windowLast: [UInt32]
    private var seen: [UInt64]
    private let seenWords: Int
    private var buckets: [[Int]]                    // [socket * slots + slot] → local call indices

    private var stats = Stats()
    private var window: (start: UInt64, end: UInt64) = (.max, .max)

    // The inbox: calls to start or stop, the window, the end (from the SIP thread).
    private let lock = NSLock()
    private var inbox: [(local: Int, address: sockaddr_in?)] = []
    private var taken: [(local: Int, address: sockaddr_in?)] = []     // the thread's side of the inbox
    private var pendingWindow: (UInt64, UInt64)?
    private var stopSending = false
    private var finished = false
    private let done = DispatchSemaphore(value: 0)

    // I/O buffers, reused.
    private let txBuffers: UnsafeMutableRawPointer
    private let rxBuffers: UnsafeMutableRawPointer
    private let iovs: UnsafeMutablePointer<iovec>
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let addressLengths: UnsafeMutablePointer<socklen_t>
    private let lengths: UnsafeMutablePointer<UInt32>
    private let txCalls: UnsafeMutablePointer<Int>
    static let packetSize = 12 + RTPLoadPayload.size
    static let rxSize = 2048

    /// Binds `sockets` RTP/RTCP port pairs on `host` from `portBase` up.
    init(index: Int, workers: Int, calls: Int, sockets: Int, host: String, portBase: inout Int, windowPackets: Int) throws {
        self.index = index
        self.workers = workers
        localCount = calls / workers + (index < calls % workers ? 1 : 0)
        var rtp: [Int32] = [], rtcp: [Int32] = [], ps: [Int] = []
        while rtp.count < sockets {
            guard portBase < 65534 else { throw RTPLoadError("no free RTP port pairs left for the generator") }
            let p = portBase
            portBase += 2
            guard let a = try? Self.udpSocket(host: host, port: p) else { continue }
            guard let b = try? Self.udpSocket(host: host, port: p + 1) else { close(a); continue }
            rtp.append(a); rtcp.append(b); ps.append(p)
        }
        rtpFds = rtp; rtcpFds = rtcp; ports = ps
        epfd = CPosix_epoll_create()
        timerfd = CPosix_timerfd_create()
        guard epfd >= 0, timerfd >= 0 else { throw RTPLoadError("epoll/timerfd: errno \(errno)") }
        _ = CPosix_epoll_add(epfd, timerfd, CPosix_EPOLLIN, UInt64.max)
        for (i, fd) in rtp.enumerated() { _ = CPosix_epoll_add(epfd, fd, CPosix_EPOLLIN, UInt64(i)) }
        for (i, fd) in rtcp.enumerated() { _ = CPosix_epoll_add(epfd, fd, CPosix_EPOLLIN, UInt64(1 << 32 | i)) }

        active = Array(repeating: false, count: localCount)
        remote = Array(repeating: sockaddr_in(), count: localCount)
        packetNumber = Array(repeating: 0, count: localCount)
        sequence = (0..<localCount).map { UInt16(truncatingIfNeeded: $0 &* 7919) }
        sendTimes = Array(repeating: 0, count: localCount * Self.sendRing)
        windowFirst = Array(repeating: .max, count: localCount)
        windowLast = Array(repeating: 0, count: localCount)
        seenWords = (windowPackets + 63) / 64 + 1
        seen = Array(repeating: 0, count: localCount * seenWords)
        buckets = Array(repeating: [], count: sockets * Self.slots)
        for l in 0..<localCount { buckets[(l % sockets) * Self.slots + (l / sockets) % Self.slots].append(l) }

        txBuffers = .allocate(byteCount: Self.batch * Self.packetSize, alignment: 16)
        rxBuffers = .allocate(byteCount: Self.batch * Self.rxSize, alignment: 16)
        iovs = .allocate(capacity: Self.batch)
        addresses = .allocate(capacity: Self.batch)
        addressLengths = .allocate(capacity: Self.batch)
        lengths = .allocate(capacity: Self.batch)
        txCalls = .allocate(capacity: Self.batch)
    }

    deinit {
        for fd in rtpFds + rtcpFds { close(fd) }
        close(epfd); close(timerfd)
        txBuffers.deallocate(); rxBuffers.deallocate(); iovs.deallocate(); addresses.deallocate()
        addressLengths.deallocate(); lengths.deallocate(); txCalls.deallocate()
    }

    static func udpSocket(host: String, port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw RTPLoadError("socket: errno \(errno)") }
        var size: Int32 = 4 << 20
        // Root may exceed net.core.rmem_max; others get what it allows.
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, 4) != 0 { _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4) }
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, 4) != 0 { _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, 4) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { close(fd); throw RTPLoadError("\(host) is not an IPv4 address") }
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { close(fd); throw RTPLoadError("bind \(host):\(port): errno \(errno)") }
        _ = CPosix_set_nonblocking(fd)
        return fd
    }

    /// The RTP port the local call `l` offers in its SDP.
    func port(local l: Int) -> Int { ports[l % ports.count] }

    // MARK: from the SIP thread

    func start(local l: Int, remote address: sockaddr_in) { lock.lock(); inbox.append((l, address)); lock.unlock() }
    func stop(local l: Int) { lock.lock(); inbox.append((l, nil)); lock.unlock() }
    func setWindow(start: UInt64, end: UInt64) { lock.lock(); pendingWindow = (start, end); lock.unlock() }
    func stopAllSending() { lock.lock(); stopSending = true; lock.unlock() }

    /// Ends the thread and returns its figures.
    func finish() -> Stats {
        lock.lock(); finished = true; lock.unlock()
        done.wait()
        return stats
    }

    func spawn() {
        let t = Thread { [self] in
            _ = CPosix_set_thread_name("rtp-load-\(index)")
            run()
            done.signal()
        }
        t.stackSize = 1 << 20
        t.start()
    }

    // MARK: the thread

    private func run() {
        let epoch = CPosix_monotonic_ns()
        var nextSlot: UInt64 = 0
        _ = CPosix_timerfd_arm(timerfd, Self.slotNs, Self.slotNs)
        var events = [CPosix_event](repeating: CPosix_event(), count: 64)
        while true {
            lock.lock()
            let end = finished
            let stopNow = stopSending
            swap(&inbox, &taken)
            if let w = pendingWindow { window = w; pendingWindow = nil }
            lock.unlock()
            if end { break }
            for (l, a) in taken {
                if let a { remote[l] = a; active[l] = true } else { active[l] = false }
            }
            taken.removeAll(keepingCapacity: true)
            if stopNow { for l in active.indices { active[l] = false } }

            let n = events.withUnsafeMutableBufferPointer { CPosix_epoll_wait(epfd, $0.baseAddress, 64, 20) }
            if n <= 0 { continue }
            for e in events[0..<Int(n)] {
                if e.data == UInt64.max {
                    _ = CPosix_timerfd_drain(timerfd)
                    let now = CPosix_monotonic_ns()
                    var due = 0
                    while epoch + nextSlot * Self.slotNs <= now, due < Self.slots {
                        let late = now - (epoch + nextSlot * Self.slotNs)
                        stats.lateHistogram[min(Int(late / 10_000), Self.histogramBuckets)] += 1
                        sendSlot(Int(nextSlot % UInt64(Self.slots)), now: now)
                        nextSlot += 1
                        due += 1
                    }
                    if due == Self.slots {   // a whole cycle behind: start again from now
                        nextSlot = (now - epoch) / Self.slotNs + 1
                    }
                } else if e.data >> 32 == 1 {
                    drainRTCP(rtcpFds[Int(e.data & 0xFFFF_FFFF)])
                } else {
                    receive(socket: Int(e.data))
                }
            }
        }
        _ = CPosix_timerfd_arm(timerfd, 0, 0)
    }

    private func sendSlot(_ slot: Int, now: UInt64) {
        let inWindow = now >= window.start && now < window.end
        for s in 0..<rtpFds.count {
            var n = 0
            for l in buckets[s * Self.slots + slot] where active[l] {
                let p = packetNumber[l]
                let packet = txBuffers + n * Self.packetSize
                writeHeader(packet, sequence: sequence[l], timestamp: p &* 160, ssrc: UInt32(truncatingIfNeeded: 0x4C00_0000 | (l * workers + index)))
                RTPLoadPayload.write(call: l * workers + index, packet: p, into: packet + 12)
                iovs[n] = iovec(iov_base: packet, iov_len: Self.packetSize)
                withUnsafeBytes(of: remote[l]) { UnsafeMutableRawPointer(addresses + n).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                addressLengths[n] = socklen_t(MemoryLayout<sockaddr_in>.size)
                txCalls[n] = l
                n += 1
                if n == Self.batch { flush(s, n, inWindow: inWindow, now: now); n = 0 }
            }
            if n > 0 { flush(s, n, inWindow: inWindow, now: now) }
        }
    }

    private func flush(_ s: Int, _ n: Int, inWindow: Bool, now: UInt64) {
        var sent = Int(CPosix_sendmmsg(rtpFds[s], iovs, addresses, addressLengths, UInt32(n)))
        if sent < 0 { sent = 0 }
        stats.sendErrors += n - sent
        stats.sent += sent
        for i in 0..<n {
            let l = txCalls[i]
            let p = packetNumber[l]
            packetNumber[l] = p &+ 1
            sequence[l] &+= 1
            guard i < sent else { continue }
            sendTimes[l * Self.sendRing + Int(p % UInt32(Self.sendRing))] = now
            if inWindow {
                if windowFirst[l] == .max { windowFirst[l] = p }
                if Int(p - windowFirst[l]) < seenWords * 64 {
                    windowLast[l] = p
                    stats.windowSent += 1
                }
            }
        }
    }

    @inline(__always)
    private func writeHeader(_ p: UnsafeMutableRawPointer, sequence: UInt16, timestamp: UInt32, ssrc: UInt32) {
        p.storeBytes(of: UInt8(0x80), as: UInt8.self)
        p.storeBytes(of: UInt8(0), toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    private func receive(socket s: Int) {
        while true {
            for i in 0..<Self.batch { iovs[i] = iovec(iov_base: rxBuffers + i * Self.rxSize, iov_len: Self.rxSize) }
            let n = Int(CPosix_recvmmsg(rtpFds[s], iovs, addresses, addressLengths, lengths, UInt32(Self.batch)))
            guard n > 0 else { return }
            let now = CPosix_monotonic_ns()
            for i in 0..<n { check(rxBuffers + i * Self.rxSize, Int(lengths[i]), from: addresses + i, now: now) }
            if n < Self.batch { return }
        }
    }

    private func check(_ p: UnsafeMutableRawPointer, _ length: Int, from: UnsafeMutablePointer<sockaddr_storage>, now: UInt64) {
        let b = p.assumingMemoryBound(to: UInt8.self)
        guard length >= 12, b[0] >> 6 == 2, b[1] & 0x7F == 0 else { stats.foreign += 1; return }
        let header = 12 + 4 * Int(b[0] & 0x0F) + (b[0] & 0x10 != 0 && length >= 16 ? 4 + 4 * (Int(b[14]) << 8 | Int(b[15])) : 0)
        var payload = length - header
        if b[0] & 0x20 != 0, payload > 0 { payload -= Int(b[length - 1]) }
        guard payload > 0, let (call, packet) = RTPLoadPayload.read(p + header, count: payload) else { stats.corrupt += 1; return }
        guard call % workers == index, call / workers < localCount else { stats.foreign += 1; return }
        let l = call / workers
        let source = UnsafeRawPointer(from).assumingMemoryBound(to: sockaddr_in.self).pointee
        guard source.sin_port == remote[l].sin_port, source.sin_addr.s_addr == remote[l].sin_addr.s_addr else { stats.crossTalk += 1; return }
        stats.received += 1
        let age = packetNumber[l] &- packet
        if age >= 1, age <= UInt32(Self.sendRing) {
            let sentAt = sendTimes[l * Self.sendRing + Int(packet % UInt32(Self.sendRing))]
            if sentAt > 0, now >= sentAt { stats.echoHistogram[min(Int((now - sentAt) / 10_000), Self.histogramBuckets)] += 1 }
        }
        let first = windowFirst[l]
        guard first != .max, packet >= first, packet <= windowLast[l] else { return }
        let bit = Int(packet - first)
        let w = l * seenWords + bit / 64
        let mask = UInt64(1) << UInt64(bit % 64)
        if seen[w] & mask != 0 { stats.duplicates += 1; return }
        seen[w] |= mask
        stats.windowReturned += 1
    }

    private func drainRTCP(_ fd: Int32) {
        for i in 0..<Self.batch { iovs[i] = iovec(iov_base: rxBuffers + i * Self.rxSize, iov_len: Self.rxSize) }
        while CPosix_recvmmsg(fd, iovs, addresses, addressLengths, lengths, UInt32(Self.batch)) == Int32(Self.batch) {}
    }
}

public struct RTPLoadError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// What the generator's RTP threads counted (summed over them).
public struct RTPLoadStats {
    public static let histogramBuckets = 100_000          // 10 µs each: up to 1 s
    public init() {}
    public var sent = 0                 // packets handed to the kernel, whole run
    public var received = 0             // valid echoes, whole run
    public var windowSent = 0           // packets sent inside the measured window
    public var windowReturned = 0       // of those, how many came back (once each)
    public var duplicates = 0
    public var corrupt = 0              // not a frame we sent, octet for octet
    public var crossTalk = 0            // a frame of call A arriving from call B's far end
    public var foreign = 0              // not RTP/PCMU, or for a call this worker does not hold
    public var sendErrors = 0
    public var echoHistogram = [UInt32](repeating: 0, count: RTPLoadStats.histogramBuckets + 1)   // 10-µs buckets
    public var lateHistogram = [UInt32](repeating: 0, count: RTPLoadStats.histogramBuckets + 1)   // sender lateness

    public mutating func add(_ o: RTPLoadStats) {
        sent += o.sent; received += o.received; windowSent += o.windowSent; windowReturned += o.windowReturned
        duplicates += o.duplicates; corrupt += o.corrupt; crossTalk += o.crossTalk; foreign += o.foreign; sendErrors += o.sendErrors
        for i in echoHistogram.indices { echoHistogram[i] += o.echoHistogram[i]; lateHistogram[i] += o.lateHistogram[i] }
    }
}
