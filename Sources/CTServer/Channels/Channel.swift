/// A channel: one SIP leg anchored at the CT-Server (docs/architecture.md), as a state machine.
///
/// offered → ringing → answered (200 sent, waiting for ACK) → connected ⇄ held → hanging-up → gone;
/// a leg can also go straight to gone (rejected, cancelled, peer hung up).
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
    }

    public private(set) var state: State = .offered
    public private(set) var cause: String?
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
        return [.sendAnswer, .startAnswerTimer(ms: t1), .report(.answered)]
    }

    public mutating func answerTimerFired() -> [Action] {
        guard state == .answered else { return [] }
        answerElapsed += answerInterval
        if answerElapsed >= 64 * t1 {
            // No ACK: the session is not established; end it with BYE (§13.3.1.4).
            state = .hangingUp
            cause = "no ACK for 200 OK"
            return [.sendBye, .releaseMedia, .report(.hangingUp)]
        }
        answerInterval = min(2 * answerInterval, t2)
        return [.retransmitAnswer, .startAnswerTimer(ms: answerInterval)]
    }

    public mutating func ackReceived() -> [Action] {
        guard state == .answered else { return [] }
        state = .connected
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
        return [.sendFinal(code: code), .releaseMedia, .report(.gone)]
    }

    public mutating func cancelled() -> [Action] {
        guard state == .offered || state == .ringing else { return [] }
        state = .gone
        cause = "caller cancelled"
        return [.sendFinal(code: 487), .releaseMedia, .report(.gone)]
    }

    public mutating func byeReceived() -> [Action] {
        switch state {
        case .answered, .connected, .held, .hangingUp:
            state = .gone
            cause = cause ?? "caller hung up"
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
            return [.stopAnswerTimer, .sendBye, .releaseMedia, .report(.hangingUp)]
        case .hangingUp, .gone:
            return []
        }
    }

    /// Our BYE was answered (or timed out).
    public mutating func byeCompleted() -> [Action] {
        guard state == .hangingUp else { return [] }
        state = .gone
        return [.report(.gone)]
    }
}
