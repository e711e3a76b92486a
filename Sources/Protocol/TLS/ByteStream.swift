#if canImport(Glibc)
import Glibc
#endif
import CPosix

/// What a non-blocking read or write on a stream did.
public enum StreamStep: Equatable {
    case bytes(Int)
    /// Nothing now; retry when the socket is readable (TLS may want this even on a write).
    case wantRead
    /// Nothing now; retry when the socket is writable.
    case wantWrite
    case eof
    case failed(String)
}

/// A byte stream over a connected non-blocking socket: plain TCP or TLS.
public protocol ByteStream: AnyObject {
    var fd: Int32 { get }
    /// Drives a TLS handshake; a plain stream is always done.
    func handshake() -> StreamStep
    func read(into buffer: UnsafeMutableRawBufferPointer) -> StreamStep
    func write(_ bytes: UnsafeRawBufferPointer) -> StreamStep
    /// A short description of the security of the link ("plain", "TLSv1.3 TLS_AES_…").
    var securityDescription: String { get }
    /// Closes the socket (after a TLS close_notify where possible).
    func close()
}

public final class PlainStream: ByteStream {
    public let fd: Int32
    private var closed = false

    public init(fd: Int32) { self.fd = fd }

    public func handshake() -> StreamStep { .bytes(0) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> StreamStep {
        do {
            switch try syscall("read", { Glibc.read(fd, buffer.baseAddress, buffer.count) }) {
            case .wouldBlock: return .wantRead
            case .done(0): return .eof
            case .done(let n): return .bytes(n)
            }
        } catch {
            return .failed("\(error)")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> StreamStep {
        do {
            switch try syscall("send", { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }) {
            case .wouldBlock: return .wantWrite
            case .done(let n): return .bytes(n)
            }
        } catch {
            return .failed("\(error)")
        }
    }

    public var securityDescription: String { "plain" }

    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
