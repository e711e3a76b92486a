import Testing
@testable import CTServerKit
@testable import Protocol

/// The channel machine for the legs the CT-Server places (UAC): every state with every kind of
/// response, including the late and reordered ones, and our own cancel.
@Suite struct ChannelStateMachineTests {
    typealias M = ChannelStateMachine

    /// A UAC machine driven to `state`.
    static func machine(in state: M.State) -> M {
        var m = M()
        switch state {
        case .offered: break
        case .ringing: _ = m.response(.progress(code: 180, earlyMedia: false))
        case .connected: _ = m.response(.success(code: 200))
        case .held: _ = m.response(.success(code: 200)); _ = m.holdChanged(held: true)
        case .hangingUp: _ = m.response(.success(code: 200)); _ = m.hangup(cause: "done")
        case .gone: _ = m.cancel(cause: "gave up", code: .normalClearing)
        case .answered: _ = m.answer(reliable: true)   // an inbound leg's state; a 2xx there is only ACKed
        }
        #expect(m.state == state)
        return m
    }

    @Test func classification() {
        #expect(OutboundResponse(code: 100, hasBody: false) == .trying)
        #expect(OutboundResponse(code: 183, hasBody: true) == .progress(code: 183, earlyMedia: true))
        #expect(OutboundResponse(code: 202, hasBody: false) == .success(code: 202))
        #expect(OutboundResponse(code: 407, hasBody: false) == .challenge(code: 407))
        #expect(OutboundResponse(code: 302, hasBody: false) == .redirect(code: 302))
        #expect(OutboundResponse(code: 486, hasBody: false) == .failure(code: 486, cause: .userBusy, text: "busy"))
        #expect(OutboundResponse(code: 603, hasBody: false) == .failure(code: 603, cause: .callRejected, text: "declined"))
    }

    @Test func progressThenAnswer() {
        var m = M()
        #expect(m.response(.trying).isEmpty && m.state == .offered)
        #expect(m.response(.progress(code: 183, earlyMedia: true)) == [.applyRemoteSDP, .reportDelivered(code: 183)])
        #expect(m.state == .ringing)
        #expect(m.response(.progress(code: 180, earlyMedia: false)).isEmpty, "Delivered once")
        #expect(m.response(.success(code: 200)) == [.sendAck, .applyRemoteSDP, .reportEstablished(code: 200)])
        #expect(m.state == .connected)
        #expect(m.response(.success(code: 200)) == [.sendAck], "a retransmitted 2xx is ACKed again, nothing else")
        #expect(m.response(.failure(code: 500, cause: .temporaryFailure, text: "failed")).isEmpty, "a stray final after the answer changes nothing")
    }

    @Test func everyStateWithEveryResponse() {
        let responses: [OutboundResponse] = [.trying, .progress(code: 180, earlyMedia: false), .success(code: 200), .challenge(code: 401),
                                             .redirect(code: 302), .failure(code: 486, cause: .userBusy, text: "busy")]
        let states: [M.State] = [.offered, .ringing, .answered, .connected, .held, .hangingUp, .gone]
        for s in states {
            for r in responses {
                var m = Self.machine(in: s)
                let a = m.response(r)
                switch (s, r) {
                case (_, .trying): #expect(a.isEmpty && m.state == s)
                case (.offered, .progress): #expect(m.state == .ringing && a == [.reportDelivered(code: 180)])
                case (.ringing, .progress): #expect(m.state == .ringing && a.isEmpty)
                case (.offered, .success), (.ringing, .success): #expect(m.state == .connected && a.contains(.reportEstablished(code: 200)))
                case (.answered, .success), (.connected, .success), (.held, .success): #expect(a == [.sendAck] && m.state == s)
                case (.hangingUp, .success), (.gone, .success): #expect(a == [.sendAck, .sendBye] && m.state == s, "late answer: ACK and BYE")
                case (.offered, .challenge), (.ringing, .challenge):
                    #expect(m.state == .gone && a == [.reportFailed(code: 401, cause: .callRejected, text: "authentication required")], "no credentials")
                case (.offered, .redirect), (.ringing, .redirect): #expect(m.state == .gone, "a redirect that cannot be followed fails the call")
                case (.offered, .failure), (.ringing, .failure): #expect(m.state == .gone && a == [.reportFailed(code: 486, cause: .userBusy, text: "busy")])
                default: #expect(a.isEmpty && m.state == s, "\(s) ignores \(r)")
                }
            }
        }
    }

    @Test func challengeAndRedirectWhenAllowed() {
        var m = Self.machine(in: .ringing)
        #expect(m.response(.challenge(code: 407), canAnswerChallenge: true) == [.answerChallenge(code: 407)] && m.state == .ringing)
        #expect(m.response(.redirect(code: 302), canFollowRedirect: true) == [.followRedirect(code: 302)] && m.state == .ringing)
    }

    @Test func cancelOnlyBeforeTheAnswer() {
        var m = Self.machine(in: .ringing)
        #expect(m.cancel(cause: "no answer", code: .noAnswer) == [.sendCancel, .reportFailed(code: 487, cause: .noAnswer, text: "no answer")])
        #expect(m.state == .gone && m.cause == "no answer")
        #expect(m.response(.failure(code: 487, cause: .interworking, text: "cancelled")).isEmpty, "the 487 that follows changes nothing")
        var c = Self.machine(in: .connected)
        #expect(c.cancel(cause: "x", code: .normalClearing).isEmpty && c.state == .connected, "an answered leg is hung up, not cancelled")
    }

    /// Who ended a channel is typed (ChannelEvent field 15), and the text names the far end:
    /// the caller on inbound channels, the called party on our legs (an agent hanging up).
    @Test func whoClearedIsTyped() {
        var inbound = M()
        _ = inbound.answer(reliable: true)
        _ = inbound.ackReceived()
        _ = inbound.byeReceived()
        #expect(inbound.cause == "caller hung up" && inbound.clearedBy == .farEnd && inbound.farEndHungUp)
        var leg = Self.machine(in: .connected)
        leg.farEnd = "called party"
        _ = leg.byeReceived()
        #expect(leg.cause == "called party hung up" && leg.clearedBy == .farEnd)
        var ours = Self.machine(in: .connected)
        _ = ours.hangup(cause: "flow finished")
        _ = ours.byeReceived()   // the 200 to our BYE's crossing BYE: still ours
        #expect(ours.cause == "flow finished" && ours.clearedBy == .hotline && !ours.farEndHungUp)
        var refused = Self.machine(in: .ringing)
        _ = refused.response(.failure(code: 486, cause: .userBusy, text: "busy"))
        #expect(refused.clearedBy == .farEnd)
        var event = ChannelEvent(channelID: "c", kind: .cleared, direction: .outbound, caller: "a", called: "b", timestampMs: 1)
        event.clearedBy = .farEnd
        #expect((try? ChannelEvent.decode(event.encodedBody()))?.clearedBy == .farEnd)
    }
}
