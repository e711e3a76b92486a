import Protocol

/// A phone calls another extension directly (the mapping table's `extensions:`): no flow, no
/// queue. As a value type — events in, actions out — like `ACDCall`; `ExtensionCalls` runs it.
///
/// dialling → ringing → connected → ended
///
/// The caller hears ringing (180) while every phone registered for the extension rings (the
/// CT-Server forks the INVITE); the caller is answered only when the extension answers, so a
/// busy or unanswered extension gives the caller its status (486, 480, 603) and no answered
/// call. Either side hanging up ends both.
struct ExtensionCall: Equatable {
    let callerChannel: String
    let caller: String
    let destination: String
    private(set) var phase: Phase = .dialling

    enum Phase: Equatable {
        case dialling
        case ringing(leg: String)
        case connected(leg: String)
        case ended(Ending)
    }

    enum Ending: Equatable { case callerLeft, calledHungUp, callerHungUp, unanswered(code: Int), failed, replaced }

    enum Event: Equatable {
        /// The CT-Server dialled the extension: its channel.
        case dialled(leg: String)
        /// The CT-Server could not dial (not registered, no TCP connection).
        case dialFailed(reason: String)
        case answered(leg: String)
        /// The extension's channel failed before answering: its SIP status.
        case failed(leg: String, code: Int, cause: String)
        /// A channel of the call is gone.
        case cleared(channel: String)
        /// A phone of the call transferred it (REFER): the other party now talks to `to`.
        case transferred(channel: String, to: String, target: String)
        /// This call was the consultation of an attended transfer: the phone joined its other
        /// party to ours, and that call (another owner's, perhaps) holds both now.
        case replaced(channel: String, target: String)
    }

    enum Action: Equatable {
        case ring(String)
        case dial(destination: String, callerID: String)
        case answer(String)
        case bridge(String, String)
        case reject(String, code: Int, reason: String)
        case hangup(String, cause: String)
        case record(Note)
        /// The caller's phone transferred the call away: the extension and `to` talk on as a
        /// pair (either hanging up ends the other); this call's record ends with the caller.
        case pair(String, String)
    }

    enum Note: Equatable {
        case dialled(leg: String)
        case answered(leg: String)
        case transferred(to: String, by: String)
        case unanswered(code: Int, cause: String)
        case endedBy(String)
    }

    init(callerChannel: String, caller: String, destination: String) {
        self.callerChannel = callerChannel
        self.caller = caller
        self.destination = destination
    }

    var isEnded: Bool { if case .ended = phase { return true }; return false }

    /// The extension's channel, while there is one.
    var leg: String? {
        switch phase {
        case .ringing(let l), .connected(let l): return l
        default: return nil
        }
    }

    func start() -> [Action] {
        [.ring(callerChannel), .dial(destination: destination, callerID: caller)]
    }

    mutating func handle(_ e: Event) -> [Action] {
        switch (phase, e) {
        case (.dialling, .dialled(let leg)):
            phase = .ringing(leg: leg)
            return [.record(.dialled(leg: leg))]
        case (.dialling, .dialFailed(let reason)):
            phase = .ended(.unanswered(code: 480))
            return [.record(.unanswered(code: 480, cause: reason)), .reject(callerChannel, code: 480, reason: reason)]
        case (.ringing(let l), .answered(let leg)) where l == leg:
            phase = .connected(leg: leg)
            return [.answer(callerChannel), .bridge(callerChannel, leg), .record(.answered(leg: leg))]
        case (.ringing(let l), .failed(let leg, let code, let cause)) where l == leg:
            // The extension's status goes back to the caller (busy stays busy); anything that is
            // not a client/server/global failure becomes 480.
            let status = (400...699).contains(code) ? code : 480
            phase = .ended(.unanswered(code: status))
            return [.record(.unanswered(code: status, cause: cause)), .reject(callerChannel, code: status, reason: cause)]
        case (.ringing(let l), .cleared(let ch)) where ch == l:
            phase = .ended(.unanswered(code: 480))
            return [.record(.unanswered(code: 480, cause: "no answer")), .reject(callerChannel, code: 480, reason: "no answer")]
        case (_, .cleared(let ch)) where ch == callerChannel:
            let leg = self.leg
            let wasConnected: Bool
            if case .connected = phase { wasConnected = true } else { wasConnected = false }
            phase = .ended(wasConnected ? .callerHungUp : .callerLeft)
            return leg.map { [.hangup($0, cause: wasConnected ? "caller hung up" : "caller left")] } ?? []
        case (.connected(let l), .cleared(let ch)) where ch == l:
            phase = .ended(.calledHungUp)
            return [.record(.endedBy("called")), .hangup(callerChannel, cause: "called party hung up")]
        case (.connected(let l), .transferred(let ch, let to, let target)) where ch == l:
            // The extension's phone passed the caller on: the caller talks to `to` now.
            phase = .connected(leg: to)
            return [.record(.transferred(to: target, by: destination))]
        case (.connected(let l), .transferred(let ch, let to, let target)) where ch == callerChannel:
            phase = .ended(.callerHungUp)
            return [.record(.transferred(to: target, by: caller)), .pair(l, to)]
        case (.connected(let l), .replaced(let ch, let target)) where ch == l || ch == callerChannel:
            // The phone on `ch` passed its other call's party to ours: this call ends here,
            // without hanging anyone up (the CT-Server releases `ch`; the rest talks on).
            phase = .ended(.replaced)
            return [.record(.transferred(to: target, by: ch == l ? destination : caller))]
        case (.dialling, .answered(let leg)), (.ended, .answered(let leg)), (.ended, .dialled(let leg)):
            // Late: the caller left before the extension's channel was known or answered.
            return [.hangup(leg, cause: "caller left")]
        default:
            return []
        }
    }
}
