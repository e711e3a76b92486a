/// The ACD call's part in an agent-hosted conference (`AgentConference` holds the parties the
/// host adds): opening it puts the caller and the host in a conference room; the host may hand
/// it to an agent in it, who becomes the call's agent while the old host leaves. Part of
/// `ACDCall.handle`.
extension ACDCall {
    mutating func hostedConference(_ e: Event) -> [Action] {
        switch (phase, e) {
        case (.connected(var t), .openConference(let room)):
            guard let cc = callerChannel, let aleg = t.leg, t.consult == nil, t.conference == nil, t.intercept == nil, t.dialling == nil else { return [] }
            let wasHeld = t.held
            t.held = false
            t.conference = room
            phase = .connected(t)
            var a: [Action] = [.stopMedia(cc), .conferenceJoin(cc, room: room), .conferenceJoin(aleg, room: room)]
            if wasHeld { a += [.record(.hold(false)), .agent(t.agent, .retrieve)] }
            return a + [.record(.event(kind: "conference-opened", detail: ["agent": t.agent, "room": room])),
                        .notify(t.agent, kind: "conference", fields: ["event": "opened", "call": id])]
        case (.connected(let t), .handConference(let code, let leg)):
            guard let room = t.conference, code != t.agent else { return [] }
            var a: [Action] = [.record(.event(kind: "conference-handed", detail: ["from": t.agent, "to": code])),
                               .record(.agentAnswered(agent: code, leg: leg))]
            var old = t
            old.conference = nil
            a += release(old, cause: "handed the conference to \(code)")
            phase = .connected(Talk(agent: code, leg: leg, conference: room))
            return a + [.notify(code, kind: "conference", fields: ["event": "you-are-host", "call": id, "from": t.agent])]
        default:
            return []
        }
    }
}
