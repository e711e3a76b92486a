import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: errno and the name of the call.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let errno: Int32
    public let function: String

    public init(errno: Int32, function: String) {
        self.errno = errno
        self.function = function
    }

    public var description: String { "\(function): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Result of a non-blocking call.
public enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// Runs a system call: retries EINTR, maps EAGAIN to `.wouldBlock`, throws other errors.
/// EBADF and EFAULT are programming errors and stop the process.
@inline(never)
public func syscall<T: FixedWidthInteger>(_ function: String, _ body: () -> T) throws -> IOResult<T> {
    while true {
        let r = body()
        if r >= 0 { return .done(r) }
        let e = CPosix_errno()
        switch e {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EBADF, EFAULT: preconditionFailure("\(function) failed with \(e): a file-descriptor bug")
        default: throw SystemError(errno: e, function: function)
        }
    }
}

/// Monotonic time in nanoseconds.
public func monotonicNanoseconds() -> UInt64 { CPosix_monotonic_ns() }
