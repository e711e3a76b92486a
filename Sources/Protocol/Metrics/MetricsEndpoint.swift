import CPosix
import Foundation
import Logging
import Metrics
import Prometheus
#if canImport(Glibc)
import Glibc
#endif

/// The `metrics:` block of every service's YAML configuration.
public struct MetricsSettings: Codable, Equatable, Sendable {
    /// host:port of the HTTP endpoint serving /metrics, /healthz and /readyz ("off": none).
    public var listen: String?
    /// HTTPS: `certificate` and `private_key` (PEM), optionally `ca` with `verify_peer` to
    /// require Prometheus's client certificate — the same block as the links' `tls`.
    public var tls: TLSConfiguration?
    public init(listen: String? = nil, tls: TLSConfiguration? = nil) {
        self.listen = listen
        self.tls = tls
    }
}

/// A service's Prometheus endpoint: HTTP/1.1, or HTTPS with `tls` (the services' OpenSSL), on its
/// own socket and thread (the services own their sockets; no SwiftNIO), one request per connection.
/// - `GET /metrics`: runs `sample` (the service copies its live figures — channels, queues,
///   links — into gauges, on its own loop), then writes the registry in Prometheus's text format.
/// - `GET /healthz`: 200 while the process answers.
/// - `GET /readyz`: 200 when `readiness` returns nil, else 503 with its reason (a Flow-Server
///   without its CT-Server link, say).
public final class MetricsEndpoint: @unchecked Sendable {
    public let boundAddress: SocketAddress
    private let fd: Int32
    private let registry: PrometheusCollectorRegistry
    private let sample: () -> Void
    private let readiness: () -> String?
    private let logger: Logger
    private let tls: TLSContext?
    public var scheme: String { tls == nil ? "http" : "https" }
    private var thread: Thread?
    private let stopLock = NSLock()
    private var stopping = false

    public init(listen: SocketAddress, registry: PrometheusCollectorRegistry, logger: Logger, tls: TLSConfiguration? = nil,
                sample: @escaping () -> Void, readiness: @escaping () -> String?) throws {
        self.tls = try tls.map { try TLSContext(server: $0) }
        fd = try Sockets.listen(on: listen, backlog: 64)
        boundAddress = Sockets.localAddress(fd) ?? listen
        self.registry = registry
        self.sample = sample
        self.readiness = readiness
        self.logger = logger
    }

    public func start() {
        let t = Thread { [self] in serve() }
        t.name = "metrics-http"
        thread = t
        t.start()
    }

    public func stop() {
        stopLock.lock()
        stopping = true
        stopLock.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private var isStopping: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopping
    }

    private func serve() {
        while !isStopping {
            guard Self.wait(fd, for: Int16(POLLIN), ms: 500) else { continue }
            guard let accepted = try? Sockets.accept(fd) else { continue }
            let (client, _) = accepted
            let stream: ByteStream
            if let tls, let t = try? tls.stream(fd: client, host: nil) { stream = t } else if tls == nil { stream = PlainStream(fd: client) } else {
                close(client)
                continue
            }
            if Self.drive(stream, deadline: Date().addingTimeInterval(3), { stream.handshake() }) != nil { handle(stream) }
            stream.close()
        }
        close(fd)
    }

    /// Runs a stream step until it makes progress (waiting for the socket as it asks), or nil
    /// at the deadline, end of stream or failure.
    static func drive(_ s: ByteStream, deadline: Date, _ step: () -> StreamStep) -> Int? {
        while Date() < deadline {
            switch step() {
            case .bytes(let n): return n
            case .wantRead: _ = wait(s.fd, for: Int16(POLLIN), ms: 200)
            case .wantWrite: _ = wait(s.fd, for: Int16(POLLOUT), ms: 200)
            case .eof, .failed: return nil
            }
        }
        return nil
    }

    static func wait(_ fd: Int32, for events: Int16, ms: Int32) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        return poll(&p, 1, ms) > 0
    }

    /// Reads the request head (at most 8 KiB, 2 s), answers, closes.
    private func handle(_ client: ByteStream) {
        var head = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 2048)
        let deadline = Date().addingTimeInterval(2)
        while head.count < 8192, !head.ends(with: [13, 10, 13, 10]) {
            guard let n = buf.withUnsafeMutableBytes({ b in Self.drive(client, deadline: deadline) { client.read(into: b) } }), n > 0 else { return }
            head += buf[0..<n]
        }
        let line = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return respond(client, 400, "text/plain", Array("bad request\n".utf8))
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            return respond(client, 405, "text/plain", Array("only GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
        }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let body: [UInt8]
        switch path {
        case "/metrics":
            sample()
            body = registry.emitToBuffer()
            respond(client, 200, "text/plain; version=0.0.4; charset=utf-8", parts[0] == "HEAD" ? [] : body)
        case "/healthz":
            respond(client, 200, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            if let reason = readiness() { respond(client, 503, "text/plain", Array("not ready: \(reason)\n".utf8)) }
            else { respond(client, 200, "text/plain", Array("ready\n".utf8)) }
        default:
            respond(client, 404, "text/plain", Array("not found: /metrics, /healthz, /readyz\n".utf8))
        }
    }

    private func respond(_ client: ByteStream, _ status: Int, _ type: String, _ body: [UInt8], extra: String = "") {
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][status] ?? "Error"
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\(extra)\r\n"
        let out = Array(head.utf8) + body
        var sent = 0
        let deadline = Date().addingTimeInterval(5)
        while sent < out.count {
            let start = sent
            guard let n = out.withUnsafeBytes({ p in Self.drive(client, deadline: deadline) { client.write(UnsafeRawBufferPointer(rebasing: p[start...])) } }) else { return }
            sent += n
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// Process-wide metrics: the registry, swift-metrics bootstrapped onto it, and the endpoint.
public enum ServiceMetrics {
    nonisolated(unsafe) public private(set) static var registry = PrometheusCollectorRegistry()
    nonisolated(unsafe) private static var bootstrapped = false

    /// Bootstraps swift-metrics (once per process) with the service's catalogue, and sets the
    /// build-info and start-time series.
    public static func bootstrap(service: String, instance: String, catalogue: [MetricInfo]) {
        guard !bootstrapped else { return }
        bootstrapped = true
        MetricsSystem.bootstrap(CataloguedPrometheusFactory(registry: registry, catalogue: catalogue))
        Gauge(label: "hotline_build_info", dimensions: [("service", service), ("instance", instance)]).record(1)
        Gauge(label: "hotline_process_start_time_seconds").record(Date().timeIntervalSince1970)
    }

    /// Starts the endpoint when `settings` name an address (or `defaultListen` when they don't;
    /// "off" turns it off). Returns nil when off.
    public static func serve(_ settings: MetricsSettings?, defaultListen: String?, logger: Logger,
                             sample: @escaping () -> Void, readiness: @escaping () -> String?) throws -> MetricsEndpoint? {
        guard let listen = settings?.listen ?? defaultListen, listen != "off" else { return nil }
        let e = try MetricsEndpoint(listen: try SocketAddress(parsing: listen), registry: registry, logger: logger, tls: settings?.tls,
                                    sample: sample, readiness: readiness)
        e.start()
        logger.info("metrics on \(e.scheme)://\(e.boundAddress)/metrics")
        return e
    }
}

/// Link-state gauges (`hotline_link_up{peer_role, peer}`) kept in step with a set of peers:
/// peers seen before and gone now read 0.
public final class LinkStateGauges {
    private var known: Set<[String]> = []
    public init() {}
    public func set(up peers: [(role: String, name: String)]) {
        let now = Set(peers.map { [$0.role, $0.name] })
        for p in known.union(now) {
            Gauge(label: "hotline_link_up", dimensions: [("peer_role", p[0]), ("peer", p[1])]).record(now.contains(p) ? 1 : 0)
        }
        known.formUnion(now)
    }
}
