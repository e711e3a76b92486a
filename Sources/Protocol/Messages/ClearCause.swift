extension ChannelEvent {
    /// The event with `createdMs` (when the channel began) set: on every event, so that each
    /// Flow-Server that sees a call names it alike (its record's call id).
    public func created(_ ms: UInt64) -> ChannelEvent {
        var e = self
        e.createdMs = ms
        return e
    }

    /// Why a channel was cleared or did not connect: an ITU-T Q.850 cause value on the wire
    /// (ChannelEvent field 14, docs/protocol.md §12). Values that are not named here are kept as
    /// they are (`rawValue`), so a newer peer's code survives a round trip.
    public struct Cause: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// Not given (field absent).
        public static let unspecified = Cause(rawValue: 0)
        public static let unallocatedNumber = Cause(rawValue: 1)
        public static let normalClearing = Cause(rawValue: 16)
        public static let userBusy = Cause(rawValue: 17)
        public static let noUserResponding = Cause(rawValue: 18)
        /// Alerted, not answered (our ring timer ran out).
        public static let noAnswer = Cause(rawValue: 19)
        public static let callRejected = Cause(rawValue: 21)
        public static let numberChanged = Cause(rawValue: 22)
        public static let exchangeRoutingError = Cause(rawValue: 25)
        public static let destinationOutOfOrder = Cause(rawValue: 27)
        public static let invalidNumberFormat = Cause(rawValue: 28)
        public static let normalUnspecified = Cause(rawValue: 31)
        public static let networkOutOfOrder = Cause(rawValue: 38)
        public static let temporaryFailure = Cause(rawValue: 41)
        public static let bearerNotAvailable = Cause(rawValue: 58)
        public static let serviceUnavailable = Cause(rawValue: 63)
        public static let serviceNotImplemented = Cause(rawValue: 79)
        public static let recoveryOnTimerExpiry = Cause(rawValue: 102)
        public static let interworking = Cause(rawValue: 127)

        /// From a SIP final response (RFC 3398 §7.2.4.1, SIP status → ISUP cause).
        public init(sipCode: UInt16) {
            switch sipCode {
            case 200..<300: self = .normalClearing
            case 400, 481, 500, 503: self = .temporaryFailure
            case 401, 402, 403, 407, 603: self = .callRejected
            case 404, 485, 604: self = .unallocatedNumber
            case 405: self = .serviceUnavailable
            case 406, 415, 501: self = .serviceNotImplemented
            case 408, 504: self = .recoveryOnTimerExpiry
            case 410: self = .numberChanged
            case 480: self = .noUserResponding
            case 482, 483: self = .exchangeRoutingError
            case 484: self = .invalidNumberFormat
            case 486, 600: self = .userBusy
            case 502: self = .networkOutOfOrder
            case 606: self = .bearerNotAvailable
            case 300..<700: self = .interworking
            default: self = .unspecified
            }
        }

        /// The cause a CT-Server reports when none is given: a failure's SIP status mapped, a
        /// plain clearing as normal.
        public init(kind: Kind, sipCode: UInt16) {
            switch kind {
            case .cleared: self = sipCode >= 300 ? Cause(sipCode: sipCode) : .normalClearing
            case .failed, .transferFailed: self = sipCode >= 300 ? Cause(sipCode: sipCode) : .temporaryFailure
            default: self = .unspecified
            }
        }

        public var text: String {
            switch self {
            case .unspecified: return "unspecified"
            case .unallocatedNumber: return "unallocated number"
            case .normalClearing: return "normal clearing"
            case .userBusy: return "user busy"
            case .noUserResponding: return "no user responding"
            case .noAnswer: return "no answer"
            case .callRejected: return "call rejected"
            case .numberChanged: return "number changed"
            case .exchangeRoutingError: return "exchange routing error"
            case .destinationOutOfOrder: return "destination out of order"
            case .invalidNumberFormat: return "invalid number format"
            case .normalUnspecified: return "normal, unspecified"
            case .networkOutOfOrder: return "network out of order"
            case .temporaryFailure: return "temporary failure"
            case .bearerNotAvailable: return "bearer capability not available"
            case .serviceUnavailable: return "service or option not available"
            case .serviceNotImplemented: return "service or option not implemented"
            case .recoveryOnTimerExpiry: return "recovery on timer expiry"
            case .interworking: return "interworking, unspecified"
            default: return "cause \(rawValue)"
            }
        }

        public var description: String { "\(rawValue) (\(text))" }
    }
}
