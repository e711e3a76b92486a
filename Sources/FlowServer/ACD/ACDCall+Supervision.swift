import Protocol

/// The ACD call's supervisor transitions: intercept (a supervisor's phone takes the caller and
/// the agent leaves) and force-release (the call is cleared). Part of `ACDCall.handle`.
///
/// connected ─intercept→ connected(intercept ringing) ─supervisor answers→ intercepted ─either hangs up→ ended
///          └─intercept with the supervisor's monitoring leg→ intercepted
/// connected ─force-release→ ended(released)
extension ACDCall {
    mutating func supervise(_ e: Event) -> [Action] {
        switch (phase, e) {
        case (.connected(var t), .intercept(let supervisor, let leg, let destination)):
            guard callerChannel != nil, t.intercept == nil, t.dialling == nil, !t.dialPending else {
                return leg.map { [.hangup($0, cause: "cannot intercept now")] } ?? []
            }
            t.intercept = Intercept(supervisor: supervisor, leg: leg)
            phase = .connected(t)
            if let leg { return takeOver(t, supervisor: supervisor, leg: leg) }
            return [.dialSupervisor(destination: destination, supervisor: supervisor),
                    .notify(t.agent, kind: "notice", fields: ["text": "supervisor \(supervisor) is taking this call"])]
        case (.connected(var t), .interceptDialled(let leg)):
            guard var i = t.intercept, i.leg == nil else { return [.hangup(leg, cause: "no longer needed")] }
            i.leg = leg
            t.intercept = i
            phase = .connected(t)
            return []
        case (.connected(var t), .interceptDialFailed(let reason)):
            guard let i = t.intercept, i.leg == nil else { return [] }
            t.intercept = nil
            phase = .connected(t)
            return interceptFailed(t, supervisor: i.supervisor, cause: reason)
        case (.connected(let t), .answered(let leg)) where leg == t.intercept?.leg:
            return takeOver(t, supervisor: t.intercept!.supervisor, leg: leg)
        case (.connected(var t), .cleared(let leg, let cause, let text, _)) where leg == t.intercept?.leg:
            // The supervisor's phone did not answer: the agent keeps the call.
            let i = t.intercept!
            t.intercept = nil
            phase = .connected(t)
            return interceptFailed(t, supervisor: i.supervisor, cause: text.isEmpty ? cause.text : text)
        case (.connected(let t), .forceRelease(let supervisor, let reason)):
            let cause = "released by supervisor \(supervisor)" + (reason.isEmpty ? "" : ": \(reason)")
            var a: [Action] = [.record(.event(kind: "force-released", detail: ["agent": t.agent, "supervisor": supervisor, "reason": reason])),
                               .queueEvent(kind: "force-released", detail: ["agent": t.agent, "supervisor": supervisor])]
            if let cc = callerChannel { a += [.record(.endedBy("supervisor")), .hangup(cc, cause: cause)] }
            if let l = t.consult?.leg { a.append(.hangup(l, cause: cause)) }
            if let l = t.dialling, l != callerChannel { a.append(.hangup(l, cause: cause)) }
            if let other = t.consult?.agent { a.append(.agent(other, .callEnded(call: id))) }
            a += release(t, cause: cause)
            phase = .ended(.released)
            return a
        case (.intercepted(_, let l), .cleared(let leg, _, _, _)) where leg == l:
            phase = .ended(.released)
            return [.record(.endedBy("supervisor"))] + (callerChannel.map { [.hangup($0, cause: "supervisor hung up")] } ?? [])
        case (_, .interceptDialled(let leg)):
            return [.hangup(leg, cause: "no longer needed")]
        default:
            return []
        }
    }

    private func interceptFailed(_ t: Talk, supervisor: String, cause: String) -> [Action] {
        [.record(.event(kind: "intercept-failed", detail: ["supervisor": supervisor, "cause": cause])),
         .notify(t.agent, kind: "notice", fields: ["text": "supervisor \(supervisor) did not take the call: \(cause)"])]
    }

    /// A supervisor's connected phone takes the caller (intercept): the caller is bridged to it,
    /// a consulted party is let go, and the agent leaves the call (its leg hung up, wrap-up).
    private mutating func takeOver(_ t: Talk, supervisor: String, leg: String) -> [Action] {
        guard let cc = callerChannel else { return [.hangup(leg, cause: "no caller to take")] }
        var a: [Action] = []
        if t.held { a.append(.record(.hold(false))) }
        a += [.stopMedia(cc), .bridge(cc, leg), .record(.supervisorAnswered(supervisor: supervisor, leg: leg)),
              .record(.event(kind: "intercepted", detail: ["agent": t.agent, "supervisor": supervisor])),
              .queueEvent(kind: "intercepted", detail: ["agent": t.agent, "supervisor": supervisor])]
        if let l = t.consult?.leg { a.append(.hangup(l, cause: "intercepted by supervisor \(supervisor)")) }
        if let other = t.consult?.agent { a.append(.agent(other, .callEnded(call: id))) }
        var rest = t
        rest.intercept = nil
        a += release(rest, cause: "intercepted by supervisor \(supervisor)")
        phase = .intercepted(supervisor: supervisor, leg: leg)
        return a
    }
}
