import AppOperateKit
import Foundation
import Logging
import Protocol

/// One operator's authenticated link to a Flow-Server, for the web desktop: every browser
/// session has its own (the Flow-Server checks each request against that login's roles), and
/// all of them share one event-loop thread (`LinkLoop`). Requests are async; events the
/// Flow-Server pushes go to `onEvent` on the loop's thread.
final class OperatorLink: @unchecked Sendable {
    let loop: EventLoop
    private let dialer: Dialer
    private let lock = NSLock()
    private var eventHandler: ((Frame) -> Void)?
    private var closeHandler: ((String) -> Void)?
    private var closed = false

    func onEvent(_ h: @escaping (Frame) -> Void) { lock.withLock { eventHandler = h } }
    func onClose(_ h: @escaping (String) -> Void) { lock.withLock { closeHandler = h } }

    private init(loop: EventLoop, dialer: Dialer) {
        self.loop = loop
        self.dialer = dialer
    }

    /// Connects and completes the handshake (one attempt: a browser's login waits for it).
    static func open(_ options: FlowClient.Options, loop: EventLoop, logger: Logger) async throws -> OperatorLink {
        let (host, port) = try SocketAddress.split(options.address)
        let configuration = try options.link.linkConfiguration(secretEnvironmentVariable: FlowServerLinkDefaults.secretEnvironmentVariable)
        let tls = try options.link.clientTLS()
        return try await withCheckedThrowingContinuation { (k: CheckedContinuation<OperatorLink, Error>) in
            loop.execute {
                let d = Dialer(loop: loop, host: host, port: port, configuration: configuration,
                               identity: LinkIdentity(role: .appOperate, name: options.name), expectedPeerRoles: [.flowServer],
                               tls: tls, backoff: options.link.backoff, logger: logger)
                d.maximumAttempts = 1
                let link = OperatorLink(loop: loop, dialer: d)
                var resumed = false
                d.onConnection = { [weak link] c in
                    c.onEvent = { _, frame in
                        guard let link else { return }
                        let h = link.lock.withLock { link.eventHandler }
                        h?(frame)
                    }
                }
                d.onEstablished = { _ in
                    if !resumed { resumed = true; k.resume(returning: link) }
                }
                d.onGiveUp = { e in
                    if !resumed { resumed = true; k.resume(throwing: e) }
                }
                d.onDisconnected = { [weak link] reason in
                    guard let link, resumed else { return }
                    // A web session is one login: a lost link ends it (no silent re-dial without the login).
                    link.dialer.stop(reason: "link lost")
                    let h = link.lock.withLock { link.closeHandler }
                    h?(reason.reason)
                }
                d.start()
            }
        }
    }

    func request<Req: WireMessage, Resp: WireMessage>(_ message: Req, expecting: Resp.Type, timeoutMs: Int = 30_000) async throws -> Resp {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<Resp, Error>) in
            loop.execute { [dialer] in
                guard let c = dialer.established else {
                    k.resume(throwing: ProtocolError(.unavailable, "the link to the Flow-Server is down"))
                    return
                }
                c.request(message, expecting: Resp.self, timeoutMs: timeoutMs) { r in k.resume(with: r.mapError { $0 as Error }) }
            }
        }
    }

    func close() {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        loop.execute { [dialer] in dialer.stop(reason: "web session ended") }
    }
}

/// The event loop every web session's link runs on (its own thread).
final class LinkLoop: @unchecked Sendable {
    let loop: EventLoop
    private let thread: Thread
    init() throws {
        loop = try EventLoop()
        thread = loop.startThread(name: "web-links") {}
    }
}
