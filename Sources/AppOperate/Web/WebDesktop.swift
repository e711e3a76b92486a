import AppOperateKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HTTPTypes
import NIOCore
import NIOSSL
import HummingbirdWebSocket
import Logging
import Metrics
import Protocol

/// `app-operate serve`: the operators' desktop in a browser. The browser talks HTTP(S) and
/// WebSocket to App-Operate; App-Operate talks the binary protocol to a Flow-Server, one
/// authenticated link per browser login (docs/architecture.md, "The web desktop"). Pages are
/// plain HTML, CSS and JavaScript from the binary's resources; the Flow-Server checks every
/// request's role, and this tier checks them again for pages and APIs.
public final class WebDesktop: @unchecked Sendable {
    public struct Options: @unchecked Sendable {
        public var listen: String
        public var flow: FlowClient.Options
        public var certificate: String?
        public var privateKey: String?
        public var sessionIdleMinutes: Int
        public init(listen: String, flow: FlowClient.Options, certificate: String? = nil, privateKey: String? = nil, sessionIdleMinutes: Int = 480) {
            self.listen = listen
            self.flow = flow
            self.certificate = certificate
            self.privateKey = privateKey
            self.sessionIdleMinutes = sessionIdleMinutes
        }
    }

    let options: Options
    let logger: Logger
    let sessions: WebSessionStore
    let links: LinkLoop
    let assets: WebAssets
    /// BoardPush bodies → their JSON (without the closing brace), shared by the sessions' links.
    let boardText = BoardTextCache()
    var secure: Bool { options.certificate != nil }
    static let sessionCookie = "hotline_session"
    static let loginCookie = "hotline_login"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    public init(_ options: Options, logger: Logger) throws {
        self.options = options
        self.logger = logger
        sessions = WebSessionStore(idleMinutes: options.sessionIdleMinutes)
        links = try LinkLoop()
        assets = try WebAssets.load()
    }

    /// Serves until SIGTERM or SIGINT; `ready` is called with the bound address.
    public func run(ready: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.add(middleware: WebHeaders(secure: secure))
        routes(router)
        let (host, port) = try SocketAddress.split(options.listen)
        var server: HTTPServerBuilder = .http1WebSocketUpgrade(webSocketRouter: router)
        if let cert = options.certificate, let key = options.privateKey {
            let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(server, tlsConfiguration: tls)
        }
        let scheme = secure ? "https" : "http"
        let app = Application(router: router, server: server,
                              configuration: .init(address: .hostname(host, port: port), serverName: "hotline-app-operate"),
                              onServerRunning: { channel in
                                  let p = channel.localAddress?.port ?? port
                                  ready("\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(p)/")
                              }, logger: logger)
        let sweeper = Task { [sessions] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 60_000_000_000)
                sessions.sweep()
            }
        }
        defer { sweeper.cancel() }
        try await app.runService()
        for s in sessions.all { sessions.remove(s, why: "app-operate stopping") }
    }

    // MARK: helpers

    func session(_ request: Request) -> WebSession? { sessions.find(request.cookies[Self.sessionCookie]?.value) }

    /// The session, when the request carries its CSRF token (every state change does).
    func checkedSession(_ request: Request) throws -> WebSession {
        guard let s = session(request) else { throw HTTPError(.unauthorized, message: "log in first") }
        guard let token = request.headers[Self.csrfHeader], WebSecurity.same(token, s.csrf) else {
            logger.notice("web: request without a valid CSRF token refused (\(request.method) \(request.uri.path), operator \(s.code))")
            throw HTTPError(.forbidden, message: "missing or wrong CSRF token")
        }
        return s
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: WebJSON.string(object))))
    }

    static func body(_ request: Request) async throws -> [String: Any] {
        var r = request
        let buf = try await r.collectBody(upTo: 1 << 20)
        guard buf.readableBytes > 0 else { return [:] }
        guard let o = try? JSONSerialization.jsonObject(with: Data(buf.readableBytesView)) as? [String: Any] else {
            throw HTTPError(.badRequest, message: "the body is not a JSON object")
        }
        return o
    }

    static func strings(_ v: Any?) -> [String: String] {
        guard let m = v as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (k, x) in m { out[k] = (x as? String) ?? (x as? NSNumber)?.stringValue ?? "\(x)" }
        return out
    }

    /// A Flow-Server refusal as HTTP: forbidden → 403, unavailable/timeout → 503, else 400 —
    /// by the error's code, with its reason for the page.
    static func refusal(_ e: Error) -> Response {
        guard let p = e as? ProtocolError else { return json(["error": "\(e)"], status: .internalServerError) }
        let status: HTTPResponse.Status
        switch p.code {
        case .forbidden: status = .forbidden
        case .authenticationFailed: status = .unauthorized
        case .unavailable, .timeout, .connectionClosed, .backPressure: status = .serviceUnavailable
        default: status = .badRequest
        }
        return json(["error": p.reason, "code": p.code.description], status: status)
    }

    /// Sends a request on the session's link and answers with `render` of the reply, or the refusal.
    func call<Req: WireMessage, Resp: WireMessage>(_ s: WebSession, _ m: Req, _ t: Resp.Type, timeoutMs: Int = 30_000,
                                                   render: (Resp) -> [String: Any]) async -> Response {
        do {
            return Self.json(render(try await s.link.request(m, expecting: t, timeoutMs: timeoutMs)))
        } catch {
            return Self.refusal(error)
        }
    }
}

/// Security headers on every response, and the responses counted by status.
struct WebHeaders<Context: RequestContext>: RouterMiddleware {
    let secure: Bool
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var r: Response
        do {
            r = try await next(request, context)
        } catch let e as HTTPResponseError {
            r = try e.response(from: request, context: context)
        }
        r.headers[.contentSecurityPolicy] = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        r.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        r.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        r.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        if secure { r.headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000" }
        Counter(label: "hotline_web_http_requests_total", dimensions: [("code", String(r.status.code))]).increment()
        return r
    }
}

/// The pages, scripts and styles (Static/ in the target's resources), read once.
struct WebAssets: Sendable {
    let files: [String: [UInt8]]
    static func load() throws -> WebAssets {
        guard let dir = Bundle.module.url(forResource: "Static", withExtension: nil) else {
            throw ConfigError("the web desktop's files (Static/) are missing from the build")
        }
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            files[name] = Array(try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        return WebAssets(files: files)
    }
    func response(_ name: String) -> Response {
        guard let bytes = files[name] else { return Response(status: .notFound) }
        let type: String
        switch (name as NSString).pathExtension {
        case "html": type = "text/html; charset=utf-8"
        case "js": type = "text/javascript; charset=utf-8"
        case "css": type = "text/css; charset=utf-8"
        case "svg": type = "image/svg+xml"
        default: type = "application/octet-stream"
        }
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: name.hasSuffix(".html") ? "no-store" : "max-age=300"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension WebDesktop {
    /// /metrics: the session and WebSocket gauges; each session's link state.
    public func sampleMetrics() {
        sessions.updateGauges()
        Gauge(label: "hotline_link_up", dimensions: [("peer_role", "flow-server"), ("peer", options.flow.address)]).record(notReadyReason() == nil ? 1 : 0)
    }

    /// /readyz: the Flow-Server accepts connections (a TCP connect within a second).
    public func notReadyReason() -> String? {
        guard let (host, port) = try? SocketAddress.split(options.flow.address), let a = try? SocketAddress(host: host, port: port),
              let fd = try? Sockets.startConnect(to: a) else { return "cannot reach the Flow-Server at \(options.flow.address)" }
        defer { close(fd) }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, 1000) > 0, Sockets.pendingError(fd) == 0 else { return "the Flow-Server at \(options.flow.address) does not accept connections" }
        return nil
    }
}

/// The JSON of the last few BoardPush bodies: with N supervisors the Flow-Server sends the same
/// push N times, and it is decoded and written once. The text lacks its closing brace, so
/// each copy can add its own `at_ms`.
final class BoardTextCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(body: [UInt8], text: String)] = []

    func text(for body: [UInt8]) -> String? {
        if let hit = lock.withLock({ entries.first { $0.body == body }?.text }) { return hit }
        guard let p = try? BoardPush.decode(body) else { return nil }
        let full = WebJSON.string(WebJSON.board(p.view))
        let text = String(full.dropLast())
        lock.withLock {
            entries.insert((body, text), at: 0)
            if entries.count > 8 { entries.removeLast() }
        }
        return text
    }
}
