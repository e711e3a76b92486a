/// Topology: who is attached to whom (docs/protocol.md §10).
///
/// A Flow-Server asks its CT-Server (`TopologyRequest` → `TopologyReport`) and an App-Operate
/// client asks its Flow-Server, which answers with the CT-Server's view plus its own clients.
public struct TopologyRequest: WireMessage {
    public static let messageType = MessageCatalogue.topology

    public init() {}
    public init(fields f: inout TLVFields) throws {}
    public func encode(into w: inout TLVWriter) {}
}

public struct NodeInfo: Equatable, Sendable {
    public var role: PeerRole
    public var name: String
    /// Where the node listens or, for a client, where it connected from.
    public var address: String
    public var software: String
    public var protocolVersion: UInt8
    public var uptimeSeconds: UInt64
    /// The node this one is attached to ("" for the CT-Server at the root).
    public var attachedTo: String
    /// "up", or "down" with the last error when a link is being re-dialled.
    public var state: String

    public init(role: PeerRole, name: String, address: String, software: String, protocolVersion: UInt8,
                uptimeSeconds: UInt64, attachedTo: String, state: String) {
        self.role = role
        self.name = name
        self.address = address
        self.software = software
        self.protocolVersion = protocolVersion
        self.uptimeSeconds = uptimeSeconds
        self.attachedTo = attachedTo
        self.state = state
    }

    enum Tag {
        static let role = FieldTag(1, mandatory: true)
        static let name = FieldTag(2)
        static let address = FieldTag(3)
        static let software = FieldTag(4)
        static let version = FieldTag(5)
        static let uptime = FieldTag(6)
        static let attachedTo = FieldTag(7)
        static let state = FieldTag(8)
    }

    init(fields f: inout TLVFields) throws {
        role = try PeerRole(wire: f.uint8(Tag.role))
        name = try f.string(Tag.name) ?? ""
        address = try f.string(Tag.address) ?? ""
        software = try f.string(Tag.software) ?? ""
        protocolVersion = try f.uint8(Tag.version) ?? 0
        uptimeSeconds = try f.uint64(Tag.uptime) ?? 0
        attachedTo = try f.string(Tag.attachedTo) ?? ""
        state = try f.string(Tag.state) ?? ""
        try f.finish()
    }

    func encode(into w: inout TLVWriter) {
        w.write(Tag.role, role.rawValue)
        w.write(Tag.name, name)
        w.write(Tag.address, address)
        w.write(Tag.software, software)
        w.write(Tag.version, protocolVersion)
        w.write(Tag.uptime, uptimeSeconds)
        w.write(Tag.attachedTo, attachedTo)
        w.write(Tag.state, state)
    }
}

public struct TopologyReport: WireMessage {
    public static let messageType = MessageCatalogue.topology

    public var nodes: [NodeInfo]

    public init(nodes: [NodeInfo]) { self.nodes = nodes }

    public init(fields f: inout TLVFields) throws {
        nodes = try f.groups(1).map { g in
            var g = g
            return try NodeInfo(fields: &g)
        }
    }

    public func encode(into w: inout TLVWriter) {
        for n in nodes { w.writeGroup(1) { n.encode(into: &$0) } }
    }
}
