import Protocol

/// The runner of agent-hosted conferences (`AgentConference`): the host's commands, the added
/// parties' channel events, floor requests (`*1`) and voice activity, carried out as channel
/// commands, agents' machine events and pushes to the host's App-Operate.
extension CallDistributor {
    /// The host's call and its conference.
    private func hosted(_ a: Agent) throws -> CallEntry {
        guard let entry = agentCall(a.code), conferences[entry.id] != nil else { throw CommandError(message: "you are not hosting a conference") }
        return entry
    }

    /// Opens a conference from the agent's call: the caller and the agent are its first talkers.
    func openConference(_ a: Agent) throws -> String {
        guard let entry = agentCall(a.code), let t = entry.call.talk, let cc = entry.call.callerChannel, let leg = t.leg else {
            throw CommandError(message: "no call with a caller to open a conference from")
        }
        guard conferences[entry.id] == nil else { throw CommandError(message: "the conference is open already") }
        let room = "host-\(entry.id)"
        feed(entry, .openConference(room: room))
        guard entry.call.talk?.conference == room else { throw CommandError(message: "cannot open a conference now (consulting, three-way or dialling)") }
        let conf = AgentConference(call: entry.id, room: room, host: a.code, hostLeg: leg, caller: entry.call.caller, callerLeg: cc)
        conferences[entry.id] = conf
        for l in conf.legs.keys { conferenceLegs[l] = entry.id }
        logger.info("acd: \(a.code) opened a conference on \(entry.id)")
        return "conference open: add talkers (at most \(AgentConference.maxTalkers)) and listeners"
    }

    /// `to`: `agent:CODE` (its phone), `ext:NNNN` (an extension), or a number (through the
    /// outbound routes; needs the external-call permission).
    func conferenceAdd(_ a: Agent, to: String, kind: AgentConference.Kind) throws -> String {
        let entry = try hosted(a)
        let event: AgentConference.Event
        if to.hasPrefix("agent:") {
            let code = String(to.dropFirst(6))
            guard let other = agents[code], other.machine.state != .loggedOut else { throw CommandError(message: "agent \(code) is not logged in") }
            guard other.machine.state.call == nil else { throw CommandError(message: "agent \(code) is \(other.machine.state.name)") }
            event = .add(number: code, destination: other.sipExtension, route: .phone, kind: kind, agent: code)
        } else if to.hasPrefix("ext:") {
            let ext = String(to.dropFirst(4))
            guard !ext.isEmpty else { throw CommandError(message: "ext: needs an extension") }
            event = .add(number: ext, destination: ext, route: .phone, kind: kind, agent: nil)
        } else {
            guard a.op.mayCallExternal else { throw CommandError(message: "\(a.code) may not call outside numbers") }
            event = .add(number: to, destination: to, route: .number, kind: kind, agent: nil)
        }
        try conference(entry, event)
        return "adding \(to) as a \(kind.rawValue)"
    }

    func conferenceFloor(_ a: Agent, party: Int, grant: Bool) throws -> String {
        try conference(try hosted(a), .floor(party: party, grant: grant))
        return grant ? "party \(party) has the floor" : "party \(party) is muted"
    }

    func conferenceRemove(_ a: Agent, party: Int) throws -> String {
        try conference(try hosted(a), .remove(party: party))
        return "party \(party) removed"
    }

    /// Hands the conference to an agent connected in it: it becomes the call's agent; this host leaves.
    func conferenceHand(_ a: Agent, to code: String) throws -> String {
        let entry = try hosted(a)
        guard let p = conferences[entry.id]?.parties.values.first(where: { $0.agent == code && $0.role == .added }), p.connected, let leg = p.leg else {
            throw CommandError(message: "\(code) is not connected in the conference")
        }
        try conference(entry, .hostChanged(agent: code, leg: leg))
        feed(entry, .handConference(agent: code, leg: leg))
        logger.info("acd: \(a.code) handed the conference on \(entry.id) to \(code)")
        return "the conference is \(code)'s now"
    }

    func conferenceRoster(_ a: Agent) throws -> [[String: String]] {
        let entry = try hosted(a)
        return conferences[entry.id]?.roster ?? []
    }

    // MARK: events

    /// Channel events of the parties a host added (and digits of every conference leg).
    func conferenceChannelEvent(_ e: ChannelEvent) -> Bool {
        guard let callID = conferenceLegs[e.channelID], let entry = calls[callID], let conf = conferences[callID],
              let p = conf.party(leg: e.channelID) else { return false }
        switch e.kind {
        case .digits: try? conference(entry, .digits(leg: e.channelID, digits: e.digits))
        case .established where p.role == .added: try? conference(entry, .answered(leg: e.channelID))
        case .cleared where p.role == .added, .failed where p.role == .added: try? conference(entry, .cleared(leg: e.channelID, cause: e.cause))
        default: return false
        }
        return p.role == .added || e.kind == .digits
    }

    /// Voice activity of a conference leg (MediaEvent TalkingStarted / TalkingStopped).
    func conferenceTalking(_ channel: String, on: Bool) {
        guard let callID = conferenceLegs[channel], let entry = calls[callID] else { return }
        try? conference(entry, .talking(leg: channel, on: on))
    }

    /// After every event of an ACD call: a conference whose call ended or left its room ends.
    func conferenceCheck(_ entry: CallEntry) {
        guard let conf = conferences[entry.id], entry.call.isEnded || entry.call.talk?.conference != conf.room else { return }
        try? conference(entry, .end)
    }

    /// Feeds the conference machine and carries out its actions; a refusal is thrown.
    func conference(_ entry: CallEntry, _ e: AgentConference.Event) throws {
        guard var conf = conferences[entry.id] else { return }
        let actions = conf.handle(e)
        conferences[entry.id] = conf
        for l in conferenceLegs.filter({ $0.value == entry.id }).keys where conf.legs[l] == nil { conferenceLegs.removeValue(forKey: l) }
        for l in conf.legs.keys { conferenceLegs[l] = entry.id }
        if conf.ended {
            conferences.removeValue(forKey: entry.id)
            for l in conferenceLegs.filter({ $0.value == entry.id }).keys { conferenceLegs.removeValue(forKey: l) }
            logger.info("acd: the conference on \(entry.id) ended")
        }
        let link = entry.link
        var refused: String?
        for action in actions {
            switch action {
            case .dial(let party, let destination, let route): dialParty(entry, party: party, destination: destination, route: route)
            case .join(let leg, let speaks): command(link, ConferenceJoin(channelID: leg, conference: conf.room, speaks: speaks))
            case .speaks(let leg, let on): command(link, ConferenceJoin(channelID: leg, conference: conf.room, speaks: on))
            case .hangup(let leg, let cause): command(link, HangupChannel(channelID: leg, cause: cause))
            case .notifyHost(let fields):
                if let host = agents[conf.host] { push(host, "conference", fields.merging(["call": entry.id]) { a, _ in a }) }
            case .agent(let code, let ev): if let a = agents[code] { handle(a, ev) }
            case .refuse(let why): refused = why
            }
        }
        if let refused { throw CommandError(message: refused) }
    }

    private func dialParty(_ entry: CallEntry, party: Int, destination: String, route: ACDCall.DialRoute) {
        var target = OutboundRoutes.Resolved(number: destination, trunk: "", callerID: entry.call.called, route: "")
        if route == .number {
            switch settings.routes.resolve(destination, callerID: entry.call.called) {
            case .success(let r): target = r
            case .failure(let why):
                try? conference(entry, .dialFailed(party: party, reason: why.description))
                return
            }
        }
        entry.link.command(Originate(destination: target.number, callerID: target.callerID, timeoutMs: 30_000, trunk: target.trunk)) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                guard self.calls[entry.id] === entry, self.conferences[entry.id] != nil else {
                    self.command(entry.link, HangupChannel(channelID: res.channelID, cause: "the conference has ended"))
                    return
                }
                try? self.conference(entry, .dialled(party: party, leg: res.channelID))
            case .failure(let e):
                try? self.conference(entry, .dialFailed(party: party, reason: e.reason))
            }
        }
    }
}
