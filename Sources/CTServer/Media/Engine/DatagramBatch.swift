import CRTPRing
#if canImport(Glibc)
import Glibc
#endif

/// The channel loop's batched datagram I/O (issue 20, docs/benchmarks.md "Batched RTP I/O").
///
/// Each tick the loop receives one datagram per channel socket and sends one per channel.
/// With io_uring every socket's receive goes to the kernel in one submission (a second round
/// for the sockets that had something, until all are empty), and every send in one more:
/// two or three system calls a tick instead of two per channel. Without io_uring (refused by
/// the kernel, or `media.batched_io: off`) the same slots are used with one recvmsg/sendmsg per
/// socket, so the loop's code is the same either way.
///
/// The slots (message headers, addresses, packet buffers) grow by doubling when the loop has
/// more channels than ever before and are reused every tick: nothing is allocated per packet
/// or per tick.
public final class DatagramBatch {
    public enum Mode: String, Sendable, Codable { case uring, syscalls }

    public private(set) var mode: Mode
    private var ring: OpaquePointer?
    /// Why io_uring was given up after it had worked (−errno of the failed submission), for the log.
    private(set) var ringFailure: Int32?
    static let slotBytes = 1536

    private(set) var capacity = 0
    private(set) var fds: UnsafeMutablePointer<Int32>
    /// Each slot's registered-file index (`register`), or -1 to use its descriptor.
    private(set) var fixed: UnsafeMutablePointer<Int32>
    private(set) var results: UnsafeMutablePointer<Int32>
    /// Which channel (index into the loop's order) each slot belongs to this round.
    private(set) var owners: UnsafeMutablePointer<Int32>
    private var msgs: UnsafeMutablePointer<msghdr>
    private var iovs: UnsafeMutablePointer<iovec>
    private var addrs: UnsafeMutablePointer<sockaddr_storage>
    private var buffers: UnsafeMutableRawPointer
    /// System calls made (io_uring_enter, or recvmsg/sendmsg): the benchmark's count.
    private(set) var systemCalls = 0

    /// The ring's table of registered sockets: its size (0: none), slots never used yet from
    /// `fresh` up, and slots given back.
    private(set) var fileTable = 0
    private var fresh = 0
    private var released: [Int32] = []

    init(preferring wanted: Mode, capacity initial: Int = 64) {
        var r: OpaquePointer?
        if wanted == .uring { r = hl_ring_create(1024) }
        ring = r
        mode = r != nil ? .uring : .syscalls
        if let r {
            // As large as RLIMIT_NOFILE allows (the kernel refuses a table beyond it), halving
            // from 16,384; a kernel without sparse tables (before 5.19) leaves it at none.
            var n: UInt32 = 16_384
            while n >= 64 {
                let e = hl_ring_files(r, n)
                if e == 0 { fileTable = Int(n); break }
                if e != -EMFILE { break }
                n /= 2
            }
        }
        fds = .allocate(capacity: 1)
        fixed = .allocate(capacity: 1)
        results = .allocate(capacity: 1)
        owners = .allocate(capacity: 1)
        msgs = .allocate(capacity: 1)
        iovs = .allocate(capacity: 1)
        addrs = .allocate(capacity: 1)
        buffers = .allocate(byteCount: Self.slotBytes, alignment: 16)
        reserve(initial)
    }

    deinit {
        if let ring { hl_ring_destroy(ring) }
        fds.deallocate(); fixed.deallocate(); results.deallocate(); owners.deallocate(); msgs.deallocate(); iovs.deallocate(); addrs.deallocate(); buffers.deallocate()
    }

    /// Makes room for `n` slots (doubling); the only place that allocates.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = max(capacity, 64)
        while c < n { c *= 2 }
        fds.deallocate(); fixed.deallocate(); results.deallocate(); owners.deallocate(); msgs.deallocate(); iovs.deallocate(); addrs.deallocate(); buffers.deallocate()
        fds = .allocate(capacity: c)
        fixed = .allocate(capacity: c)
        results = .allocate(capacity: c)
        owners = .allocate(capacity: c)
        msgs = .allocate(capacity: c)
        iovs = .allocate(capacity: c)
        addrs = .allocate(capacity: c)
        buffers = .allocate(byteCount: c * Self.slotBytes, alignment: 16)
        for i in 0..<c {
            iovs[i] = iovec(iov_base: buffers + i * Self.slotBytes, iov_len: Self.slotBytes)
            msgs[i] = msghdr()
            msgs[i].msg_iov = iovs + i
            msgs[i].msg_iovlen = 1
            msgs[i].msg_name = UnsafeMutableRawPointer(addrs + i)
        }
        capacity = c
    }

    /// Registers a channel's socket with the ring (one system call, when the channel arrives):
    /// its operations then name the slot and the kernel skips the descriptor lookup on each.
    /// Returns the slot, or -1 (no ring, table full or refused: the descriptor is used).
    func register(_ fd: Int32) -> Int32 {
        guard let ring, fileTable > 0 else { return -1 }
        let slot: Int32
        if let s = released.popLast() { slot = s } else if fresh < fileTable { slot = Int32(fresh); fresh += 1 } else { return -1 }
        if hl_ring_file_set(ring, UInt32(slot), fd) == 0 { return slot }
        released.append(slot)
        return -1
    }

    /// Empties a channel's slot (before its socket is closed or handed to another loop).
    func unregister(_ slot: Int32) {
        guard slot >= 0 else { return }
        if let ring { _ = hl_ring_file_set(ring, UInt32(slot), -1) }
        released.append(slot)
    }

    /// Slot `i`'s packet buffer.
    @inline(__always) func buffer(_ i: Int) -> UnsafeMutableRawPointer { buffers + i * Self.slotBytes }
    /// Slot `i`'s address (the source after a receive; the destination to fill before a send).
    @inline(__always) func address(_ i: Int) -> UnsafeMutablePointer<sockaddr_storage> { addrs + i }
    @inline(__always) func addressLength(_ i: Int) -> socklen_t { msgs[i].msg_namelen }

    /// Sets slot `i` up to receive on `fd` for channel `owner`.
    @inline(__always) func armReceive(_ i: Int, fd: Int32, registered: Int32, owner: Int32) {
        fds[i] = fd
        fixed[i] = registered
        owners[i] = owner
        iovs[i].iov_len = Self.slotBytes
        msgs[i].msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        msgs[i].msg_flags = 0
    }

    /// Re-arms slot `to` to receive on slot `from`'s socket for its owner (compacting a receive
    /// round; `from` may equal `to`).
    @inline(__always) func moveReceive(from: Int, to: Int) {
        armReceive(to, fd: fds[from], registered: fixed[from], owner: owners[from])
    }

    /// Sets slot `i` up to send `length` octets (already in `buffer(i)`) to `address(i)`.
    @inline(__always) func armSend(_ i: Int, fd: Int32, registered: Int32, owner: Int32, length: Int, addressLength: socklen_t) {
        fds[i] = fd
        fixed[i] = registered
        owners[i] = owner
        iovs[i].iov_len = length
        msgs[i].msg_namelen = addressLength
        msgs[i].msg_flags = 0
    }

    /// A submission failed: from now on one system call per datagram (the ring may hold
    /// operations it never took, so it is not used again).
    private func giveUpRing(_ error: Int32) {
        if let ring { hl_ring_destroy(ring) }
        ring = nil
        fileTable = 0
        mode = .syscalls
        ringFailure = error
    }

    /// Receives into slots 0..<n; `results[i]` is the length or −errno.
    func receive(_ n: Int) { transfer(n, send: false) }

    /// Sends slots 0..<n; `results[i]` is the length sent or −errno.
    func send(_ n: Int) { transfer(n, send: true) }

    private func transfer(_ n: Int, send: Bool) {
        guard n > 0 else { return }
        if let ring {
            let r = send ? hl_ring_sendmsg_batch(ring, fds, fixed, msgs, results, UInt32(n)) : hl_ring_recvmsg_batch(ring, fds, fixed, msgs, results, UInt32(n))
            if r >= 0 { systemCalls += Int(r); return }
            giveUpRing(r)
        }
        for i in 0..<n {
            let r = send ? sendmsg(fds[i], msgs + i, Int32(Glibc.MSG_DONTWAIT)) : recvmsg(fds[i], msgs + i, Int32(Glibc.MSG_DONTWAIT))
            results[i] = r >= 0 ? Int32(r) : -errno
        }
        systemCalls += n
    }
}
