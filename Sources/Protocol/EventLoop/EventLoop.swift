import COpenSSL
import CPosix
import HeapModule
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Something that owns a file descriptor registered with an `EventLoop`.
public protocol EventLoopHandler: AnyObject {
    /// Called on the loop thread with the epoll event bits that fired.
    func handleEvents(_ events: UInt32)
}

/// Interest in readiness, as epoll bits.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = Interest(rawValue: CPosix_EPOLLIN | CPosix_EPOLLRDHUP)
    public static let write = Interest(rawValue: CPosix_EPOLLOUT)
}

/// A timer handle returned by `schedule`; pass it to `cancel`.
public struct TimerID: Hashable, Sendable { let raw: UInt64 }

/// A single-threaded event loop over epoll, with timerfd timers and an eventfd wake-up.
///
/// Everything except `execute`, `stop` and `isInLoop` must be called on the loop's thread.
/// Other threads hand work to the loop with `execute`, which queues a closure under a lock
/// and writes the eventfd; the loop drains the queue on its next turn.
public final class EventLoop: @unchecked Sendable {
    private let epfd: Int32
    private let wakeFD: Int32
    private let timerFD: Int32

    private var handlers: [UInt64: EventLoopHandler] = [:]
    private var tokens: [Int32: UInt64] = [:]
    private var nextToken: UInt64 = 16

    private struct TimerEntry: Comparable {
        let deadline: UInt64
        let id: UInt64
        static func < (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id }
    }
    private var timerHeap = Heap<TimerEntry>()
    private var timerCallbacks: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var armedDeadline: UInt64 = 0

    private let lock = NSLock()
    private var pending: [() -> Void] = []
    private var stopRequested = false
    private var threadID: pthread_t?

    /// A read buffer shared by every connection of this loop (one loop = one thread, so one
    /// read at a time): connections keep only the bytes of incomplete frames.
    public let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    private static let wakeToken: UInt64 = 1
    private static let timerToken: UInt64 = 2

    public init() throws {
        epfd = CPosix_epoll_create()
        guard epfd >= 0 else { throw SystemError(errno: CPosix_errno(), function: "epoll_create1") }
        wakeFD = CPosix_eventfd_create()
        guard wakeFD >= 0 else { throw SystemError(errno: CPosix_errno(), function: "eventfd") }
        timerFD = CPosix_timerfd_create()
        guard timerFD >= 0 else { throw SystemError(errno: CPosix_errno(), function: "timerfd_create") }
        _ = CPosix_epoll_add(epfd, wakeFD, CPosix_EPOLLIN, Self.wakeToken)
        _ = CPosix_epoll_add(epfd, timerFD, CPosix_EPOLLIN, Self.timerToken)
    }

    deinit {
        readScratch.deallocate()
        close(epfd)
        close(wakeFD)
        close(timerFD)
    }

    public var isInLoop: Bool {
        guard let t = threadID else { return false }
        return pthread_equal(t, pthread_self()) != 0
    }

    /// Monotonic now, nanoseconds.
    public var now: UInt64 { CPosix_monotonic_ns() }

    // MARK: cross-thread

    /// Runs `work` on the loop thread. Safe from any thread.
    public func execute(_ work: @escaping () -> Void) {
        lock.lock()
        pending.append(work)
        lock.unlock()
        _ = CPosix_eventfd_signal(wakeFD)
    }

    /// Asks the loop to return from `run()` after the current turn. Safe from any thread.
    public func stop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
        _ = CPosix_eventfd_signal(wakeFD)
    }

    /// Runs `work` on the loop and waits for its result (for tests and start-up code on
    /// other threads; never call it from the loop thread).
    public func submitAndWait<T>(_ work: @escaping () throws -> T) throws -> T {
        precondition(!isInLoop, "submitAndWait from the loop thread would deadlock")
        let done = DispatchSemaphore(value: 0)
        var result: Result<T, Error>!
        execute {
            result = Result { try work() }
            done.signal()
        }
        done.wait()
        return try result.get()
    }

    // MARK: registration (loop thread)

    public func register(fd: Int32, interest: Interest, handler: EventLoopHandler) throws {
        let token = nextToken
        nextToken += 1
        guard CPosix_epoll_add(epfd, fd, interest.rawValue, token) == 0 else {
            throw SystemError(errno: CPosix_errno(), function: "epoll_ctl(ADD)")
        }
        tokens[fd] = token
        handlers[token] = handler
    }

    public func reregister(fd: Int32, interest: Interest) {
        guard let token = tokens[fd] else { return }
        _ = CPosix_epoll_mod(epfd, fd, interest.rawValue, token)
    }

    /// Removes `fd`; events already collected for it in this turn are dropped, because the
    /// token they carry no longer maps to a handler (so a reused fd number is safe).
    public func unregister(fd: Int32) {
        guard let token = tokens.removeValue(forKey: fd) else { return }
        handlers.removeValue(forKey: token)
        _ = CPosix_epoll_del(epfd, fd)
    }

    // MARK: timers (loop thread)

    @discardableResult
    public func schedule(afterNanoseconds delay: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        let id = nextTimerID
        nextTimerID += 1
        let deadline = now &+ delay
        timerHeap.insert(TimerEntry(deadline: deadline, id: id))
        timerCallbacks[id] = callback
        armIfNeeded()
        return TimerID(raw: id)
    }

    @discardableResult
    public func schedule(afterMilliseconds ms: Int, _ callback: @escaping () -> Void) -> TimerID {
        schedule(afterNanoseconds: UInt64(max(0, ms)) * 1_000_000, callback)
    }

    public func cancel(_ timer: TimerID) {
        timerCallbacks.removeValue(forKey: timer.raw)
    }

    private func armIfNeeded() {
        while let top = timerHeap.min, timerCallbacks[top.id] == nil { _ = timerHeap.removeMin() }
        guard let top = timerHeap.min else {
            if armedDeadline != 0 { _ = CPosix_timerfd_arm(timerFD, 0, 0); armedDeadline = 0 }
            return
        }
        if armedDeadline == top.deadline { return }
        let n = now
        let delay = top.deadline > n ? top.deadline - n : 1
        _ = CPosix_timerfd_arm(timerFD, delay, 0)
        armedDeadline = top.deadline
    }

    private func fireTimers() {
        _ = CPosix_timerfd_drain(timerFD)
        armedDeadline = 0
        let n = now
        while let top = timerHeap.min, top.deadline <= n {
            _ = timerHeap.removeMin()
            if let cb = timerCallbacks.removeValue(forKey: top.id) { cb() }
        }
        armIfNeeded()
    }

    // MARK: running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        threadID = pthread_self()
        var events = [CPosix_event](repeating: CPosix_event(), count: 256)
        while true {
            lock.lock()
            let stopping = stopRequested
            lock.unlock()
            if stopping { break }
            let n = events.withUnsafeMutableBufferPointer { CPosix_epoll_wait(epfd, $0.baseAddress, Int32($0.count), -1) }
            if n < 0 { continue }
            for i in 0..<Int(n) {
                let ev = events[i]
                switch ev.data {
                case Self.wakeToken:
                    _ = CPosix_eventfd_drain(wakeFD)
                    runPending()
                case Self.timerToken:
                    fireTimers()
                default:
                    handlers[ev.data]?.handleEvents(ev.events)
                }
            }
        }
        runPending()
        threadID = nil
    }

    private func runPending() {
        lock.lock()
        let work = pending
        pending.removeAll()
        lock.unlock()
        for w in work { w() }
    }

    /// Starts `run()` on a new thread and returns once the loop is running.
    /// `onExit` runs on the thread after the loop stopped (a caller that must not exit the
    /// process while the loop still frees its resources waits for it).
    public func startThread(name: String, onExit: (() -> Void)? = nil) -> Thread {
        let started = DispatchSemaphore(value: 0)
        let t = Thread { [self] in
            execute { started.signal() }
            run()
            // Free this thread's OpenSSL state now, before the caller is told: left to the
            // thread-exit destructor it could run while the process exits (OpenSSL's atexit
            // cleanup on the main thread) — a one-shot app-operate crashed so in libcrypto.
            OPENSSL_thread_stop()
            onExit?()
        }
        t.name = name
        t.start()
        started.wait()
        return t
    }
}
