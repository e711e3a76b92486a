/// An agent-hosted conference (seed 会议), as a value type: events in, actions out. It grows
/// from an ACD call: the caller and the host agent are its first two talkers; the host adds up
/// to `maxTalkers` more talkers (agents, extensions, numbers through a trunk) and any number of
/// listeners (they hear, muted). A participant asks for the floor with `*1` (RFC 4733 or SIP
/// INFO); the host grants it (the participant is heard) or takes it back. The roster says who
/// is connected, who may talk and who is talking (the CT-Server's voice activity).
///
/// The ACD call (`ACDCall`, phase connected with `conference` set) keeps the caller and the
/// host; this machine owns the parties the host added. It ends with the ACD call: when the host
/// leaves (unless it handed the conference to an agent in it) or the caller hangs up.
struct AgentConference: Equatable {
    enum Kind: String, Equatable { case talker, listener }
    enum Role: String, Equatable { case caller, host, added }

    struct Party: Equatable {
        let id: Int
        var number: String
        var role: Role
        var kind: Kind
        var agent: String?
        var leg: String?
        var connected: Bool
        var mayTalk: Bool
        var floorRequested = false
        var talking = false
        /// The last keys pressed (for `*1`).
        var keys = ""
    }

    enum Event: Equatable {
        /// The host adds a party: `destination` dialled by `route` (an agent's phone, an extension, a number).
        case add(number: String, destination: String, route: ACDCall.DialRoute, kind: Kind, agent: String?)
        case dialled(party: Int, leg: String)
        case dialFailed(party: Int, reason: String)
        case answered(leg: String)
        case cleared(leg: String, cause: String)
        case digits(leg: String, digits: String)
        case talking(leg: String, on: Bool)
        /// The host grants or takes back the floor.
        case floor(party: Int, grant: Bool)
        case remove(party: Int)
        /// The ACD call's host leg changed (the conference was handed to another agent).
        case hostChanged(agent: String, leg: String)
        /// The ACD call ended: every added party is hung up.
        case end
    }

    enum Action: Equatable {
        case dial(party: Int, destination: String, route: ACDCall.DialRoute)
        case join(leg: String, speaks: Bool)
        case speaks(leg: String, Bool)
        case hangup(leg: String, cause: String)
        /// To the host's App-Operate (AgentEvent kind `conference`).
        case notifyHost(fields: [String: String])
        case agent(String, AgentStateMachine.Event)
        case refuse(String)
    }

    static let maxTalkers = 8
    static let floorKeys = "*1"

    let call: String
    let room: String
    private(set) var host: String
    private(set) var parties: [Int: Party] = [:]
    private(set) var ended = false
    private var nextID = 1

    init(call: String, room: String, host: String, hostLeg: String, caller: String, callerLeg: String) {
        self.call = call
        self.room = room
        self.host = host
        parties[0] = Party(id: 0, number: caller, role: .caller, kind: .talker, leg: callerLeg, connected: true, mayTalk: true)
        parties[1] = Party(id: 1, number: host, role: .host, kind: .talker, agent: host, leg: hostLeg, connected: true, mayTalk: true)
        nextID = 2
    }

    /// Added parties allowed to talk now (the caller and the host are not counted).
    var addedTalkers: Int { parties.values.filter { $0.role == .added && $0.mayTalk }.count }
    /// Every leg the conference holds (for the runner's index).
    var legs: [String: Int] { Dictionary(uniqueKeysWithValues: parties.values.compactMap { p in p.leg.map { ($0, p.id) } }) }
    func party(leg: String) -> Party? { parties.values.first { $0.leg == leg } }

    mutating func handle(_ e: Event) -> [Action] {
        guard !ended else {
            switch e {
            case .dialled(_, let leg): return [.hangup(leg: leg, cause: "the conference has ended")]
            default: return []
            }
        }
        switch e {
        case .add(let number, let destination, let route, let kind, let agent):
            if kind == .talker, addedTalkers >= Self.maxTalkers { return [.refuse("\(Self.maxTalkers) talkers already: add a listener, or take the floor back from one")] }
            if let agent, parties.values.contains(where: { $0.agent == agent }) { return [.refuse("\(agent) is in the conference already")] }
            let id = nextID
            nextID += 1
            parties[id] = Party(id: id, number: number, role: .added, kind: kind, agent: agent, connected: false, mayTalk: kind == .talker)
            var a: [Action] = []
            if let agent { a.append(.agent(agent, .outbound(call: call))) }
            return a + [.dial(party: id, destination: destination, route: route),
                        .notifyHost(fields: ["event": "adding", "party": String(id), "number": number, "kind": kind.rawValue])]
        case .dialled(let id, let leg):
            guard parties[id] != nil, parties[id]?.leg == nil else { return [.hangup(leg: leg, cause: "no longer needed")] }
            parties[id]?.leg = leg
            return parties[id]?.agent.map { [.agent($0, .ringing(call: call))] } ?? []
        case .dialFailed(let id, let reason):
            guard let p = parties.removeValue(forKey: id) else { return [] }
            return (p.agent.map { [.agent($0, .phoneUnreachable(call: call))] } ?? [])
                + [.notifyHost(fields: ["event": "failed", "party": String(id), "number": p.number, "cause": reason])]
        case .answered(let leg):
            guard let p = party(leg: leg), p.role == .added, !p.connected else { return [] }
            parties[p.id]?.connected = true
            return [.join(leg: leg, speaks: p.mayTalk)] + (p.agent.map { [.agent($0, .answered(call: call))] } ?? [])
                + [.notifyHost(fields: ["event": "joined", "party": String(p.id), "number": p.number, "kind": p.kind.rawValue])]
        case .cleared(let leg, let cause):
            guard let p = party(leg: leg), p.role == .added else { return [] }
            parties.removeValue(forKey: p.id)
            var a: [Action] = []
            if let agent = p.agent { a.append(.agent(agent, p.connected ? .callEnded(call: call) : .ringTimeout(call: call))) }
            return a + [.notifyHost(fields: ["event": "left", "party": String(p.id), "number": p.number, "cause": cause])]
        case .digits(let leg, let digits):
            guard let p = party(leg: leg), p.connected else { return [] }
            let keys = String((p.keys + digits).suffix(Self.floorKeys.count))
            parties[p.id]?.keys = keys
            guard keys == Self.floorKeys, !p.mayTalk, !p.floorRequested else { return [] }
            parties[p.id]?.floorRequested = true
            parties[p.id]?.keys = ""
            return [.notifyHost(fields: ["event": "floor-request", "party": String(p.id), "number": p.number])]
        case .talking(let leg, let on):
            guard let p = party(leg: leg), p.talking != on else { return [] }
            parties[p.id]?.talking = on
            return []
        case .floor(let id, let grant):
            guard let p = parties[id] else { return [.refuse("no party \(id) in the conference")] }
            guard p.role != .host else { return [.refuse("the host always has the floor")] }
            if grant, !p.mayTalk, p.role == .added, addedTalkers >= Self.maxTalkers {
                return [.refuse("\(Self.maxTalkers) talkers already: take the floor back from one first")]
            }
            parties[id]?.mayTalk = grant
            parties[id]?.floorRequested = false
            var a: [Action] = [.notifyHost(fields: ["event": grant ? "floor-granted" : "floor-taken", "party": String(id), "number": p.number])]
            if let leg = p.leg, p.connected { a.insert(.speaks(leg: leg, grant), at: 0) }
            return a
        case .remove(let id):
            guard let p = parties[id], p.role == .added else { return [.refuse("party \(id) cannot be removed (the caller and the host leave by hanging up)")] }
            if let leg = p.leg { return [.hangup(leg: leg, cause: "removed from the conference by the host")] }
            parties.removeValue(forKey: id)
            return (p.agent.map { [.agent($0, .callEnded(call: call))] } ?? [])
        case .hostChanged(let agent, let leg):
            // The new host was an added party: it becomes the host entry; the old host's entry goes.
            if let p = party(leg: leg) { parties.removeValue(forKey: p.id) }
            host = agent
            parties[1] = Party(id: 1, number: agent, role: .host, kind: .talker, agent: agent, leg: leg, connected: true, mayTalk: true)
            return [.speaks(leg: leg, true)]
        case .end:
            ended = true
            var a: [Action] = []
            for p in parties.values.sorted(by: { $0.id < $1.id }) where p.role == .added {
                if let leg = p.leg { a.append(.hangup(leg: leg, cause: "the conference has ended")) }
                if let agent = p.agent { a.append(.agent(agent, p.connected ? .callEnded(call: call) : .ringTimeout(call: call))) }
            }
            parties = parties.filter { $0.value.role != .added }
            return a
        }
    }

    /// The roster, one row per party.
    var roster: [[String: String]] {
        parties.values.sorted { $0.id < $1.id }.map { p in
            ["party": String(p.id), "number": p.number, "role": p.role.rawValue, "kind": p.kind.rawValue, "agent": p.agent ?? "",
             "state": p.connected ? "connected" : "ringing", "may_talk": p.mayTalk ? "yes" : "no", "talking": p.talking ? "yes" : "no",
             "floor_requested": p.floorRequested ? "yes" : "no"]
        }
    }
}
