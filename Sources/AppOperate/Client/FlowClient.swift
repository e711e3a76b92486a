import Foundation
import Logging
import Protocol

/// App-Operate's link to a Flow-Server, for command-line use: the event loop runs on a
/// background thread and calls block the caller until the answer or a timeout.
public final class FlowClient {
    public let loop: EventLoop
    private let dialer: Dialer
    private let thread: Thread
    /// Signalled when the loop thread has finished (close waits for it: exiting the process
    /// while that thread still frees the link's buffers corrupted the heap).
    private let finished: DispatchSemaphore
    private let closeLock = NSLock()
    private var closed = false
    private let eventLock = NSLock()
    private var eventHandler: ((Frame) -> Void)?
    private var closeHandler: ((ProtocolError) -> Void)?

    /// Events the Flow-Server pushes (agent events); called on the link's thread.
    public func onEvent(_ handler: @escaping (Frame) -> Void) {
        eventLock.lock()
        eventHandler = handler
        eventLock.unlock()
    }

    /// The link closed (the Flow-Server went away or closed it); called on the link's thread.
    public func onClose(_ handler: @escaping (ProtocolError) -> Void) {
        eventLock.lock()
        closeHandler = handler
        eventLock.unlock()
    }

    public struct Options {
        public var address: String
        public var link: LinkSettings
        public var name: String
        public var attempts: Int

        public init(address: String, link: LinkSettings, name: String, attempts: Int = 3) {
            self.address = address
            self.link = link
            self.name = name
            self.attempts = attempts
        }
    }

    /// Connects and completes the handshake, or throws the reason it could not.
    public init(_ options: Options, logger: Logger) throws {
        loop = try EventLoop()
        let finished = DispatchSemaphore(value: 0)
        self.finished = finished
        thread = loop.startThread(name: "app-operate-link") { finished.signal() }
        let (host, port) = try SocketAddress.split(options.address)
        var link = options.link
        if link.backoffInitialMs == nil { link.backoffInitialMs = 200 }
        let configuration = try link.linkConfiguration(secretEnvironmentVariable: FlowServerLinkDefaults.secretEnvironmentVariable)
        let tls = try link.clientTLS()
        let d = Dialer(loop: loop, host: host, port: port, configuration: configuration,
                       identity: LinkIdentity(role: .appOperate, name: options.name), expectedPeerRoles: [.flowServer],
                       tls: tls, backoff: link.backoff, logger: logger)
        d.maximumAttempts = max(1, options.attempts)
        dialer = d
        let ready = DispatchSemaphore(value: 0)
        var outcome: Result<Void, ProtocolError>?
        d.maximumAttempts = max(1, options.attempts)
        try loop.submitAndWait {
            d.onConnection = { [weak self] c in
                c.onEvent = { _, frame in
                    guard let self else { return }
                    self.eventLock.lock()
                    let h = self.eventHandler
                    self.eventLock.unlock()
                    h?(frame)
                }
            }
            d.onDisconnected = { [weak self] reason in
                guard let self else { return }
                self.eventLock.lock()
                let h = self.closeHandler
                self.eventLock.unlock()
                h?(reason)
            }
            d.onEstablished = { _ in
                if outcome == nil { outcome = .success(()); ready.signal() }
            }
            d.onGiveUp = { e in
                if outcome == nil { outcome = .failure(e); ready.signal() }
            }
            d.start()
        }
        ready.wait()
        if case .failure(let e) = outcome! {
            close()
            throw e
        }
    }

    /// Sends a request and waits for its response.
    public func request<Req: WireMessage, Resp: WireMessage>(_ message: Req, expecting: Resp.Type, timeoutMs: Int? = nil) throws -> Resp {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Resp, ProtocolError>!
        loop.execute { [dialer] in
            guard let c = dialer.established else {
                result = .failure(ProtocolError(.unavailable, "not connected: \(dialer.lastError.map(\.description) ?? "link down")"))
                done.signal()
                return
            }
            c.request(message, expecting: Resp.self, timeoutMs: timeoutMs) { r in
                result = r
                done.signal()
            }
        }
        done.wait()
        return try result.get()
    }

    public var peer: PeerInfo? { try? loop.submitAndWait { [dialer] in dialer.established?.peer } ?? nil }

    /// Stops the link and waits until its thread has finished; safe to call more than once.
    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        guard !closed else { return }
        closed = true
        loop.execute { [dialer, loop] in
            dialer.stop(reason: "app-operate done")
            loop.stop()
        }
        finished.wait()
    }
}

public enum FlowServerLinkDefaults {
    public static let secretEnvironmentVariable = "HOTLINE_APP_LINK_SECRET"
    public static let defaultAddress = "127.0.0.1:7200"
}
