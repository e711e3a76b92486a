#if canImport(Glibc)
import Glibc
#endif
import CPosix

/// An IPv4 or IPv6 socket address, parsed from "host:port", "[v6]:port" or "v6-literal" forms.
public struct SocketAddress: CustomStringConvertible, Sendable, Equatable {
    public enum Family: Sendable { case v4, v6 }
    var storage: sockaddr_storage
    public let length: socklen_t

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool { a.description == b.description }

    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// The raw address, for callers that make their own system calls.
    public var sockaddrStorage: sockaddr_storage { storage }

    public var family: Family { Int32(storage.ss_family) == AF_INET6 ? .v6 : .v4 }

    /// Resolves `host` (a literal or a name, e.g. "localhost") and `port`.
    public init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw ProtocolError(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var ss = sockaddr_storage()
        withUnsafeMutableBytes(of: &ss) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        self.init(storage: ss, length: first.pointee.ai_addrlen)
    }

    /// Parses "host:port", "[::1]:port". Throws a clear error on anything else.
    public init(parsing text: String) throws {
        let (host, port) = try SocketAddress.split(text)
        try self.init(host: host, port: port)
    }

    public static func split(_ text: String) throws -> (String, Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ProtocolError(.badMessage, "bad address \(text)") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ProtocolError(.badMessage, "address \(text) lacks a port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ProtocolError(.badMessage, "address \(text) lacks a port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ProtocolError(.badMessage, "bad port in address \(text)")
        }
        return (String(host), port)
    }

    public var port: Int {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                if Int32(sa.pointee.sa_family) == AF_INET6 {
                    return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
                return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
    }

    public var host: String {
        var s = storage
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> String in
                if Int32(sa.pointee.sa_family) == AF_INET6 {
                    return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                        var addr = a.pointee.sin6_addr
                        inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                        return String(cString: buf)
                    }
                }
                return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    var addr = a.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                    return String(cString: buf)
                }
            }
        }
    }

    public var description: String { family == .v6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// Stream-socket helpers: every socket is non-blocking and close-on-exec.
public enum Sockets {
    public static func listen(on address: SocketAddress, backlog: Int32 = 512) throws -> Int32 {
        let domain = address.family == .v6 ? AF_INET6 : AF_INET
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, function: "socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SystemError(errno: e, function: "bind(\(address))")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SystemError(errno: e, function: "listen")
        }
        return fd
    }

    /// Starts a non-blocking connect. The socket becomes writable when it completes.
    public static func startConnect(to address: SocketAddress) throws -> Int32 {
        let domain = address.family == .v6 ? AF_INET6 : AF_INET
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, function: "socket") }
        setNoDelay(fd)
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let e = errno
            close(fd)
            throw SystemError(errno: e, function: "connect(\(address))")
        }
        return fd
    }

    /// A non-blocking UDP socket bound to `address` (exclusively; receive and send buffers
    /// raised to `bufferBytes` where the kernel allows).
    public static func udpBind(_ address: SocketAddress, bufferBytes: Int32 = 4 << 20) throws -> Int32 {
        let domain = address.family == .v6 ? AF_INET6 : AF_INET
        let fd = socket(domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(errno: errno, function: "socket(udp)") }
        // No SO_REUSEADDR: for UDP it lets a second socket bind the same port, and datagrams then
        // go to one of them — two servers (or two channels' RTP) would silently share a port.
        var size = bufferBytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SystemError(errno: e, function: "bind(udp \(address))")
        }
        return fd
    }

    /// Sends one datagram; false when the kernel would block or refuses (the caller counts it).
    @discardableResult
    public static func sendTo(_ fd: Int32, _ bytes: [UInt8], _ address: SocketAddress) -> Bool {
        let n = bytes.withUnsafeBytes { raw in
            address.withSockAddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), $0, $1) }
        }
        return n == bytes.count
    }

    /// The pending error of a socket (completes a non-blocking connect).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Accepts one connection, or returns nil when none is pending.
    public static func accept(_ listener: Int32) throws -> (Int32, SocketAddress)? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try syscall("accept4") { CPosix_accept(listener, &ss, &len) }
        switch r {
        case .wouldBlock: return nil
        case .done(let fd):
            setNoDelay(fd)
            return (fd, SocketAddress(storage: ss, length: len))
        }
    }

    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: ss, length: len) : nil
    }
}
