/// An SDP session description (RFC 4566): the parts the CT-Server negotiates, with every
/// other line kept so nothing a peer sent is silently lost when we inspect it.
public struct SessionDescription: Equatable, Sendable {
    public struct Media: Equatable, Sendable {
        public var type: String          // "audio", "video", …
        public var port: Int
        public var proto: String         // "RTP/AVP", "RTP/SAVP", …
        public var formats: [String]     // payload types as written
        public var connection: String?   // media-level c= address
        public var rtpmap: [Int: String] = [:]   // pt → "PCMU/8000"
        public var fmtp: [Int: String] = [:]
        public var direction: Direction = .sendrecv
        public var ptime: Int?
        public var otherAttributes: [String] = []
    }

    public enum Direction: String, Sendable {
        case sendrecv, sendonly, recvonly, inactive

        /// What the answerer says back (RFC 3264 §6.1).
        public var answer: Direction {
            switch self {
            case .sendrecv: return .sendrecv
            case .sendonly: return .recvonly
            case .recvonly: return .sendonly
            case .inactive: return .inactive
            }
        }
    }

    public var originUser = "-"
    public var sessionID: UInt64 = 0
    public var sessionVersion: UInt64 = 0
    public var originAddress = "127.0.0.1"
    public var sessionName = "-"
    public var connection: String?      // session-level c= address
    public var media: [Media] = []

    public init() {}

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        var current: Media?
        var sawVersion = false
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            guard line.count >= 2, line.dropFirst().first == "=" else { throw ParseError(description: "bad SDP line \(line.prefix(30))") }
            let key = line.first!
            let value = line.dropFirst(2)
            switch key {
            case "v":
                guard value == "0" else { throw ParseError(description: "SDP version \(value)") }
                sawVersion = true
            case "o":
                let f = value.split(separator: " ")
                guard f.count == 6 else { throw ParseError(description: "bad o= line") }
                originUser = String(f[0])
                sessionID = UInt64(f[1]) ?? 0
                sessionVersion = UInt64(f[2]) ?? 0
                originAddress = String(f[5])
            case "s":
                sessionName = String(value)
            case "c":
                let f = value.split(separator: " ")
                guard f.count == 3, f[0] == "IN", f[1] == "IP4" || f[1] == "IP6" else { throw ParseError(description: "bad c= line") }
                let addr = String(f[2].split(separator: "/").first ?? f[2])
                if current != nil { current!.connection = addr } else { connection = addr }
            case "m":
                if let m = current { media.append(m) }
                let f = value.split(separator: " ")
                guard f.count >= 3, let port = Int(f[1].split(separator: "/").first ?? ""), (0...65535).contains(port) else {
                    throw ParseError(description: "bad m= line")
                }
                current = Media(type: String(f[0]), port: port, proto: String(f[2]), formats: f.dropFirst(3).map(String.init))
            case "a":
                guard current != nil else { continue }
                if let d = Direction(rawValue: String(value)) { current!.direction = d; continue }
                if value.hasPrefix("rtpmap:") {
                    let rest = value.dropFirst(7)
                    let parts = rest.split(separator: " ", maxSplits: 1)
                    if parts.count == 2, let pt = Int(parts[0]) { current!.rtpmap[pt] = String(parts[1]) }
                } else if value.hasPrefix("fmtp:") {
                    let parts = value.dropFirst(5).split(separator: " ", maxSplits: 1)
                    if parts.count == 2, let pt = Int(parts[0]) { current!.fmtp[pt] = String(parts[1]) }
                } else if value.hasPrefix("ptime:") {
                    current!.ptime = Int(value.dropFirst(6))
                } else {
                    current!.otherAttributes.append(String(value))
                }
            default:
                continue
            }
        }
        if let m = current { media.append(m) }
        guard sawVersion else { throw ParseError(description: "SDP without v=0") }
    }

    /// The address media for `m` goes to.
    public func address(of m: Media) -> String? { m.connection ?? connection }

    public func serialized() -> [UInt8] {
        var s = "v=0\r\no=\(originUser) \(sessionID) \(sessionVersion) IN \(originAddress.contains(":") ? "IP6" : "IP4") \(originAddress)\r\ns=\(sessionName)\r\n"
        if let c = connection { s += "c=IN \(c.contains(":") ? "IP6" : "IP4") \(c)\r\n" }
        s += "t=0 0\r\n"
        for m in media {
            s += "m=\(m.type) \(m.port) \(m.proto) \(m.formats.joined(separator: " "))\r\n"
            if let c = m.connection { s += "c=IN \(c.contains(":") ? "IP6" : "IP4") \(c)\r\n" }
            for f in m.formats {
                guard let pt = Int(f) else { continue }
                if let r = m.rtpmap[pt] { s += "a=rtpmap:\(pt) \(r)\r\n" }
                if let p = m.fmtp[pt] { s += "a=fmtp:\(pt) \(p)\r\n" }
            }
            if let p = m.ptime { s += "a=ptime:\(p)\r\n" }
            for a in m.otherAttributes { s += "a=\(a)\r\n" }
            if m.port != 0 { s += "a=\(m.direction.rawValue)\r\n" }
        }
        return Array(s.utf8)
    }
}
