import Foundation
import Logging
import Protocol

/// Outbound trunks (carriers, PBXs): where to send calls the Flow-Servers originate through
/// them, the credentials their challenges want, and OPTIONS keep-alives that tell whether
/// each one is up. Only the Flow-Server link (authenticated) can place calls on a trunk: an
/// inbound INVITE is always answered or offered here (B2BUA), never relayed — the toll-fraud
/// guard is structural.
public final class Trunks {
    public struct Trunk: Sendable {
        public var name: String
        public var address: SocketAddress
        public var credentials: DigestClient.Credentials?
        /// The From user when the Flow-Server gives no caller id.
        public var fromUser: String?
        public var optionsIntervalMs: Int
        public var optionsTimeoutMs: Int
        public var maxChannels: Int?
    }

    public enum State: String, Sendable { case unknown, up, down }

    public private(set) var trunks: [String: Trunk] = [:]
    public private(set) var states: [String: State] = [:]
    private var inFlight: [String: Bool] = [:]
    let loop: EventLoop
    weak var endpoint: SIPEndpoint?
    private let logger: Logger

    init(loop: EventLoop, trunks: [Trunk], logger: Logger) {
        self.loop = loop
        self.logger = logger
        for t in trunks {
            self.trunks[t.name] = t
            states[t.name] = .unknown
        }
    }

    public func trunk(named name: String) -> Trunk? { trunks[name] }

    /// The trunk an inbound request came from (by source address), for the channel's `line`.
    public func trunk(for source: SocketAddress) -> Trunk? {
        trunks.values.first { $0.address.host == source.host && $0.address.port == source.port }
            ?? trunks.values.first { $0.address.host == source.host }
    }

    func start() {
        for t in trunks.values where t.optionsIntervalMs > 0 { probe(t.name, after: 200) }
    }

    private func probe(_ name: String, after ms: Int) {
        _ = loop.schedule(afterMilliseconds: ms) { [weak self] in self?.sendOptions(name) }
    }

    private func sendOptions(_ name: String) {
        guard let t = trunks[name], let endpoint else { return }
        defer { probe(name, after: t.optionsIntervalMs) }
        guard inFlight[name] != true else { return }
        let peer = SIPPeer(transport: .udp, address: t.address)
        let target = "sip:\(t.address.family == .v6 ? "[\(t.address.host)]" : t.address.host):\(t.address.port)"
        let m = endpoint.optionsRequest(to: target, peer: peer)
        inFlight[name] = true
        var answered = false
        // Any response means the trunk is alive (401/404 included); silence within the timeout means down.
        let deadline = loop.schedule(afterMilliseconds: t.optionsTimeoutMs) { [weak self] in
            guard let self, !answered else { return }
            self.inFlight[name] = false
            self.set(name, .down, detail: "no answer to OPTIONS within \(t.optionsTimeoutMs) ms")
        }
        endpoint.sendRequest(m, to: peer, onResponse: { [weak self] r in
            guard let self, !answered else { return }
            answered = true
            self.loop.cancel(deadline)
            self.inFlight[name] = false
            self.set(name, .up, detail: "OPTIONS answered \(r.statusCode ?? 0)")
        }, onTimeout: { [weak self] in
            self?.inFlight[name] = false
        })
    }

    private func set(_ name: String, _ s: State, detail: String) {
        guard states[name] != s else { return }
        states[name] = s
        if s == .up { logger.notice("trunk \(name) up (\(detail))") } else { logger.warning("trunk \(name) down (\(detail))") }
    }
}
