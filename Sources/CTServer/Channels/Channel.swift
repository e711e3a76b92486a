import Protocol

/// A channel: one SIP leg anchored at the CT-Server (docs/architecture.md), as a state machine.
///
/// offered → ringing → answered (200 sent, waiting for ACK) → connected ⇄ held → hanging-up → gone;
/// a leg can also go straight to gone (rejected, cancelled, peer hung up).
///
/// The same machine drives the legs the CT-Server places (UAC): offered (INVITE sent) →
/// ringing (1xx) → connected (2xx, ACKed) ⇄ held → hanging-up → gone, or gone on a failure or
/// when we cancel; a challenge is answered and a redirect followed as the runner allows. Each
/// response is classified first (`OutboundResponse`); every action returned is carried out.
public struct ChannelStateMachine: Sendable {
    public enum State: String, Sendable {
        case offered, ringing, answered, connected, held, hangingUp = "hanging-up", gone
    }

    public enum Action: Equatable, Sendable {
        case sendProvisional(Int)
        case sendAnswer
        case retransmitAnswer
        case startAnswerTimer(ms: Int)
        case stopAnswerTimer
        case sendFinal(code: Int)
        case sendBye
        case releaseMedia
        case report(State)
        // UAC legs.
        /// ACK a 2xx (every one, retransmissions included — RFC 3261 §13.2.2.4).
        case sendAck
        /// Use the SDP of the response (the answer, or early media).
        case applyRemoteSDP
        case sendCancel
        /// Send the INVITE again with credentials for the challenge.
        case answerChallenge(code: Int)
        /// Send the INVITE to the 3xx's Contact.
        case followRedirect(code: Int)
        case reportDelivered(code: Int)
        case reportEstablished(code: Int)
        /// The call did not connect: report Failed with the code and cause, and forget the leg.
        case reportFailed(code: Int, cause: ChannelEvent.Cause, text: String)
    }

    public private(set) var state: State = .offered
    public private(set) var cause: String?
    /// Who ended it: the far end (BYE, CANCEL) or us (a command, a timer).
    public private(set) var clearedBy: ChannelEvent.ClearedBy = .unknown
    /// How it ended, for counters (typed: the cause text is for people).
    public private(set) var farEndHungUp = false
    /// The call was answered at some point (metrics: calls by outcome).
    public private(set) var wasAnswered = false
    public private(set) var unacknowledged = false
    /// Who the far end is, for the cause text of its BYE: "caller", or "called party" on our legs.
    public var farEnd = "caller"
    private var answerInterval: Int
    private var answerElapsed = 0
    let t1: Int
    let t2: Int

    public init(t1: Int = 500, t2: Int = 4000) {
        self.t1 = t1
        self.t2 = t2
        answerInterval = t1
    }

    public mutating func ring() -> [Action] {
        guard state == .offered else { return [] }
        state = .ringing
        return [.sendProvisional(180), .report(.ringing)]
    }

    /// Answer with 200 OK; over UDP the 2xx is retransmitted until the ACK (RFC 3261 §13.3.1.4).
    public mutating func answer(reliable: Bool) -> [Action] {
        guard state == .offered || state == .ringing else { return [] }
        state = .answered
        wasAnswered = true
        return [.sendAnswer, .startAnswerTimer(ms: t1), .report(.answered)]
    }

    public mutating func answerTimerFired() -> [Action] {
        guard state == .answered else { return [] }
        answerElapsed += answerInterval
        if answerElapsed >= 64 * t1 {
            // No ACK: the session is not established; end it with BYE (§13.3.1.4).
            state = .hangingUp
            cause = "no ACK for 200 OK"
            clearedBy = .hotline
            unacknowledged = true
            return [.sendBye, .releaseMedia, .report(.hangingUp)]
        }
        answerInterval = min(2 * answerInterval, t2)
        return [.retransmitAnswer, .startAnswerTimer(ms: answerInterval)]
    }

    public mutating func ackReceived() -> [Action] {
        guard state == .answered else { return [] }
        state = .connected
        wasAnswered = true
        return [.stopAnswerTimer, .report(.connected)]
    }

    public mutating func holdChanged(held: Bool) -> [Action] {
        switch (state, held) {
        case (.connected, true): state = .held; return [.report(.held)]
        case (.held, false): state = .connected; return [.report(.connected)]
        default: return []
        }
    }

    /// Reject before answer (busy, unavailable, declined …).
    public mutating func reject(code: Int, cause c: String) -> [Action] {
        guard state == .offered || state == .ringing else { return [] }
        state = .gone
        cause = c
        clearedBy = .hotline
        return [.sendFinal(code: code), .releaseMedia, .report(.gone)]
    }

    public mutating func cancelled() -> [Action] {
        guard state == .offered || state == .ringing else { return [] }
        state = .gone
        cause = "caller cancelled"
        clearedBy = .farEnd
        return [.sendFinal(code: 487), .releaseMedia, .report(.gone)]
    }

    public mutating func byeReceived() -> [Action] {
        switch state {
        case .answered, .connected, .held, .hangingUp:
            state = .gone
            if cause == nil {
                cause = "\(farEnd) hung up"
                clearedBy = .farEnd
                farEndHungUp = true
            }
            return [.stopAnswerTimer, .releaseMedia, .report(.gone)]
        case .offered, .ringing, .gone:
            return []
        }
    }

    public mutating func hangup(cause c: String) -> [Action] {
        switch state {
        case .offered, .ringing:
            return reject(code: 480, cause: c)
        case .answered, .connected, .held:
            state = .hangingUp
            cause = c
            clearedBy = .hotline
            return [.stopAnswerTimer, .sendBye, .releaseMedia, .report(.hangingUp)]
        case .hangingUp, .gone:
            return []
        }
    }

    // MARK: UAC legs

    /// A response to our INVITE. `canAnswerChallenge`: credentials exist and none were sent
    /// yet; `canFollowRedirect`: the Contact is reachable and the redirect limit not reached.
    public mutating func response(_ r: OutboundResponse, canAnswerChallenge: Bool = false, canFollowRedirect: Bool = false) -> [Action] {
        switch (state, r) {
        case (_, .trying):
            return []
        case (.offered, .progress(let code, let early)), (.ringing, .progress(let code, let early)):
            var a: [Action] = early ? [.applyRemoteSDP] : []
            if state == .offered {
                state = .ringing
                a.append(.reportDelivered(code: code))
            }
            return a
        case (.offered, .success(let code)), (.ringing, .success(let code)):
            state = .connected
            wasAnswered = true
            return [.sendAck, .applyRemoteSDP, .reportEstablished(code: code)]
        case (.answered, .success), (.connected, .success), (.held, .success):
            return [.sendAck]   // a retransmitted 2xx
        case (.hangingUp, .success), (.gone, .success):
            return [.sendAck, .sendBye]   // answered after we gave up: end it at once
        case (.offered, .challenge(let code)), (.ringing, .challenge(let code)):
            if canAnswerChallenge { return [.answerChallenge(code: code)] }
            return failed(code: code, cause: .callRejected, text: "authentication required")
        case (.offered, .redirect(let code)), (.ringing, .redirect(let code)):
            if canFollowRedirect { return [.followRedirect(code: code)] }
            return failed(code: code, cause: ChannelEvent.Cause(sipCode: UInt16(code)), text: "redirected to an unreachable target")
        case (.offered, .failure(let code, let cause, let text)), (.ringing, .failure(let code, let cause, let text)):
            return failed(code: code, cause: cause, text: text)
        default:
            return []   // a final response to an INVITE we already cancelled or ended
        }
    }

    /// We give up on a UAC leg before it is answered (hang-up from the Flow-Server, the ring timer).
    public mutating func cancel(cause c: String, code: ChannelEvent.Cause) -> [Action] {
        guard state == .offered || state == .ringing else { return [] }
        state = .gone
        cause = c
        clearedBy = .hotline
        return [.sendCancel, .reportFailed(code: 487, cause: code, text: c)]
    }

    private mutating func failed(code: Int, cause c: ChannelEvent.Cause, text: String) -> [Action] {
        state = .gone
        cause = text
        clearedBy = .farEnd
        return [.reportFailed(code: code, cause: c, text: text)]
    }

    /// Our BYE was answered (or timed out).
    public mutating func byeCompleted() -> [Action] {
        guard state == .hangingUp else { return [] }
        state = .gone
        return [.report(.gone)]
    }
}
