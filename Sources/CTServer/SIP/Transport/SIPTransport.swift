import Protocol

/// Where a SIP message came from or goes to (RFC 3261 §18).
public struct SIPPeer: Hashable, Sendable, CustomStringConvertible {
    public enum Transport: String, Sendable { case udp = "UDP", tcp = "TCP", tls = "TLS" }

    public var transport: Transport
    public var address: SocketAddress
    /// For stream transports: the connection it arrived on (responses go back on it).
    public var connectionID: UInt64?

    public init(transport: Transport, address: SocketAddress, connectionID: UInt64? = nil) {
        self.transport = transport
        self.address = address
        self.connectionID = connectionID
    }

    public var reliable: Bool { transport != .udp }

    public func hash(into h: inout Hasher) {
        h.combine(transport)
        h.combine(address.description)
        h.combine(connectionID)
    }

    public var description: String { "\(transport.rawValue.lowercased()):\(address)" }
}

/// Receives raw SIP bytes from the transports (the endpoint implements it).
protocol SIPTransportDelegate: AnyObject {
    func datagramReceived(_ bytes: [UInt8], from: SIPPeer)
    func streamMessageReceived(_ bytes: [UInt8], from: SIPPeer)
    /// The stream could not be framed; the transport closes it after `answer` (if any) is sent.
    func streamFramingFailed(_ error: SIPParseError, from: SIPPeer)
}
