import Protocol

/// A response to an INVITE the CT-Server sent (a UAC leg), classified before the channel's
/// state machine sees it (RFC 3261 §8.1.3): what it means, not its number.
public enum OutboundResponse: Equatable, Sendable {
    /// 100 Trying: the next hop has it.
    case trying
    /// 101–199: the far end is alerting (180) or has session progress (183); `earlyMedia` when
    /// it carries an SDP answer (ringback or announcements flow before the answer).
    case progress(code: Int, earlyMedia: Bool)
    /// 2xx: answered.
    case success(code: Int)
    /// 401/407: a trunk wants credentials.
    case challenge(code: Int)
    /// 3xx: try the Contact instead.
    case redirect(code: Int)
    /// Any other final response, with its Q.850 cause and a text for people.
    case failure(code: Int, cause: ChannelEvent.Cause, text: String)

    public init(code: Int, hasBody: Bool) {
        switch code {
        case 100: self = .trying
        case 101..<200: self = .progress(code: code, earlyMedia: hasBody)
        case 200..<300: self = .success(code: code)
        case 401, 407: self = .challenge(code: code)
        case 300..<400: self = .redirect(code: code)
        default: self = .failure(code: code, cause: ChannelEvent.Cause(sipCode: UInt16(clamping: code)), text: Self.text(code))
        }
    }

    /// The cause text for people (the code is what programs read).
    static func text(_ code: Int) -> String {
        switch code {
        case 486, 600: return "busy"
        case 408, 480: return "no answer"
        case 487: return "cancelled"
        case 404, 604: return "not found"
        case 603: return "declined"
        default: return "failed"
        }
    }
}
