import Foundation
import Logging
import Protocol
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the test targets: loops on threads, bounded waits, paths, processes.
public enum TestSupport {
    /// The package root (Tests/TestSupport/ is two levels down).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// How many schema migrations the Flow-Server ships (what `schema_migrations` holds once applied).
    public static var migrationCount: String {
        let dir = packageRoot.appendingPathComponent("Sources/FlowServer/Storage/Migrations")
        return String(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".sql") }.count)
    }

    /// Folder of built executables: $HOTLINE_BIN_DIR, else .build/debug.
    public static var binDirectory: URL {
        if let d = ProcessInfo.processInfo.environment["HOTLINE_BIN_DIR"] { return URL(fileURLWithPath: d) }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    /// The RFC 4475 torture messages, put in place by deploy/lib/rfc4475.py (deploy/test runs
    /// it): $HOTLINE_RFC4475_DIR, else .build/fixtures/rfc4475. Never silently absent: a test
    /// that needs a message fails with how to get them.
    public static var rfc4475Directory: URL {
        if let d = ProcessInfo.processInfo.environment["HOTLINE_RFC4475_DIR"] { return URL(fileURLWithPath: d) }
        return packageRoot.appendingPathComponent(".build/fixtures/rfc4475")
    }

    public struct MissingFixture: Error, CustomStringConvertible {
        public var description: String
    }

    /// One RFC 4475 message's bytes.
    public static func rfc4475Message(_ name: String) throws -> [UInt8] {
        let url = rfc4475Directory.appendingPathComponent("\(name).dat")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MissingFixture(description: "RFC 4475 message \(name) not found in \(rfc4475Directory.path): run deploy/lib/rfc4475.py \(rfc4475Directory.path) (deploy/test does)")
        }
        return [UInt8](data)
    }


    public static let logger: Logger = {
        var l = Logger(label: "test")
        l.logLevel = ProcessInfo.processInfo.environment["HOTLINE_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        return l
    }()

    /// Polls `condition` every 10 ms until it holds or `seconds` pass. Generous limits only:
    /// tests never fail because the machine is slow.
    @discardableResult
    public static func waitUntil(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(10_000)
        }
        return try condition()
    }

    public static func temporaryDirectory(_ prefix: String = "hotline-test") -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// An event loop running on its own thread for the duration of a test.
public final class LoopThread {
    public let loop: EventLoop
    private let thread: Thread

    public init(_ name: String = "test-loop") throws {
        loop = try EventLoop()
        thread = loop.startThread(name: name)
    }

    /// Runs `body` on the loop and returns its result.
    public func sync<T>(_ body: @escaping () throws -> T) throws -> T { try loop.submitAndWait(body) }

    public func stop() { loop.stop() }

    deinit { loop.stop() }
}

extension TestSupport {
    /// A block of 40 ports for one SIP peer (baresip: SIP at +0, its TLS at +1, control at +3,
    /// RTP in +10…+39), from the one allocator (TestPorts).
    public static func portBlock() -> Int { TestPorts.block(40) }
}

/// Baresip's port layout inside a block from TestSupport.portBlock().
public struct BaresipPorts {
    public let sip: Int, control: Int, rtp: ClosedRange<Int>
    public init(block: Int = TestSupport.portBlock()) {
        sip = block
        control = block + 3
        rtp = (block + 10)...(block + 39)
    }
}

/// A thread-safe box for values written by loop callbacks and read by the test.
public final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    public init(_ v: T) { _value = v }
    public var value: T {
        get { lock.lock(); defer { lock.unlock() }; return _value }
        set { lock.lock(); _value = newValue; lock.unlock() }
    }
    public func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&_value); lock.unlock() }
}

/// A blocking TCP client socket for feeding raw bytes to servers.
public final class RawClient {
    /// -1 once closed: a descriptor is closed exactly once (a second close could hit a number
    /// another test has since been given).
    public private(set) var fd: Int32

    /// Connects to `host:port`, from `source` when given (any 127.x.y.z: one machine can be
    /// many sources).
    public init(port: Int, host: String = "127.0.0.1", source: String? = nil) throws {
        let addr = try SocketAddress(host: host, port: port)
        fd = socket(addr.family == .v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let fdLocal = fd
        if let source {
            let local = try SocketAddress(host: source, port: 0)
            guard local.withSockAddrForTests({ bind(fdLocal, $0, $1) }) == 0 else {
                let e = errno
                Glibc.close(fd)
                fd = -1
                throw SystemError(errno: e, function: "bind")
            }
        }
        let rc = addr.withSockAddrForTests { connect(fdLocal, $0, $1) }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            fd = -1
            throw SystemError(errno: e, function: "connect")
        }
    }

    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads until the peer closes or `seconds` pass; returns what arrived and whether it closed.
    public func readUntilClosed(seconds: Int = 5) -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(Double(seconds))
        while Date() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return (out, true)
            }
            out += buf[0..<n]
        }
        return (out, false)
    }

    /// Whether the peer has closed the connection (waits up to `seconds` for data or EOF;
    /// data that arrives is discarded).
    public func isClosed(within seconds: Double) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(seconds)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let ms = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, ms) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
        return false
    }

    /// Reads one frame (blocking, 5 s limit).
    public func readFrame(codec: FrameCodec = FrameCodec()) throws -> Frame? {
        var b = ByteBuffer()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let f = try codec.decode(&b) { return f }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            b.writeBytes(buf[0..<n])
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
    deinit { close() }
}

extension SocketAddress {
    func withSockAddrForTests<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = sockaddrStorage
        return withUnsafePointer(to: &s) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
