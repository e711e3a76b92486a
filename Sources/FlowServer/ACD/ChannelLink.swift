import Protocol

/// The CT-Server link as the ACD uses it: channel commands answered with ChannelCommandResult.
/// Only the CT-Server link carries channel commands: `CTLink` wraps the Flow-Server's
/// connection to its CT-Server (no other `Connection` can be passed where one belongs); tests
/// drive the distributor with a scripted CT-Server conforming to this protocol.
protocol ChannelLink: AnyObject {
    func command<M: WireMessage>(_ m: M, completion: @escaping (Result<ChannelCommandResult, ProtocolError>) -> Void)
}

/// The Flow-Server's link to its CT-Server, as the one carrier of channel commands.
final class CTLink: ChannelLink {
    let connection: Connection
    init(_ connection: Connection) { self.connection = connection }
    func command<M: WireMessage>(_ m: M, completion: @escaping (Result<ChannelCommandResult, ProtocolError>) -> Void) {
        connection.request(m, expecting: ChannelCommandResult.self, completion: completion)
    }
}
