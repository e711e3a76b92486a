import Protocol

/// Supervisors' actions on this Flow-Server's agents: listening to, whispering to or barging
/// into a call (the supervisor's phone is rung with auto-answer and tapped into the agent's
/// leg), intercepting it, clearing it, and forcing the agent's state. The role is checked by
/// the caller (`SupervisorRequests`); agents of other Flow-Servers are reached through it.
extension CallDistributor {
    /// Carries out a supervisor's command on an agent of this Flow-Server; returns the reply's text.
    func supervise(_ m: SupervisorCommand) throws -> String {
        if m.action == .stopMonitor {
            try stopMonitor(supervisor: m.supervisor)
            return "monitoring stopped"
        }
        guard let a = agents[m.agent] else { throw CommandError(message: "agent \(m.agent) is not logged in") }
        let notice: (String) -> Void = { [weak self] text in self?.push(a, "notice", ["text": "\(text) by supervisor \(m.supervisor)"]) }
        switch m.action {
        case .listen, .whisper, .barge:
            return try monitor(supervisor: m.supervisor, sipExtension: m.sipExtension, agent: m.agent, mode: m.action.monitorMode!)
        case .stopMonitor:
            return ""
        case .intercept:
            return try intercept(supervisor: m.supervisor, sipExtension: m.sipExtension, agent: m.agent)
        case .forceRelease:
            guard let entry = agentCall(m.agent), entry.call.talk != nil else { throw CommandError(message: "agent \(m.agent) is not on a call") }
            logger.info("acd: supervisor \(m.supervisor) released \(m.agent)'s call \(entry.id): \(m.reason)")
            feed(entry, .forceRelease(supervisor: m.supervisor, reason: m.reason))
            return "\(m.agent)'s call released"
        case .forceReady:
            if let why = handle(a, .forceReady) { throw CommandError(message: "\(m.agent): \(why)") }
            notice("made ready")
            return "\(m.agent): \(a.machine.state.name)"
        case .forceNotReady:
            let reason = m.reason.isEmpty ? "set by supervisor" : m.reason
            if let why = handle(a, .forceNotReady(reason: reason)) { throw CommandError(message: "\(m.agent): \(why)") }
            if a.machine.pendingNotReady != nil {
                notice("not ready (\(reason)) after this call:")
                return "\(m.agent) is on a call: not ready (\(reason)) when it ends"
            }
            notice("made not ready (\(reason))")
            return "\(m.agent): \(a.machine.state.name)"
        case .forceLogout:
            if let why = handle(a, .forceLogout) { throw CommandError(message: "\(m.agent): \(why)") }
            if a.machine.pendingLogout {
                notice("logout after this call:")
                return "\(m.agent) is on a call: logged out when it ends"
            }
            push(a, "notice", ["text": "logged out by supervisor \(m.supervisor)"])
            return "\(m.agent): logged out"
        case .recordStart, .recordPause, .recordResume, .recordStop:
            guard let entry = agentCall(m.agent), let cc = entry.call.callerChannel, let recordings else {
                throw CommandError(message: "\(m.agent) has no call with a caller")
            }
            let by = CallRecording.Actor.supervisor(m.supervisor)
            let event: CallRecording.Event
            switch m.action {
            case .recordStart: event = .start(by: by, maxMs: Int(min(max(m.maxMinutes == 0 ? 60 : m.maxMinutes, 1), 1440)) * 60_000, stereo: true)
            case .recordPause: event = .pause(by: by)
            case .recordResume: event = .resume(by: by)
            default: event = .stop(by: by)
            }
            if let why = recordings.control(cc, link: entry.link, queue: entry.call.queue, agent: entry.call.agent, event) { throw CommandError(message: why) }
            return "recording of \(m.agent)'s call: \(recordings.state(cc).map { "\($0)" } ?? "idle")"
        }
    }

    /// The supervisor takes the agent's caller: with the supervisor's monitoring leg on that
    /// agent, at once; else the supervisor's phone is rung with auto-answer first.
    func intercept(supervisor: String, sipExtension: String, agent code: String) throws -> String {
        guard let entry = agentCall(code), let t = entry.call.talk, entry.call.callerChannel != nil, t.leg != nil else {
            throw CommandError(message: "agent \(code) is not on a call with a caller")
        }
        guard t.intercept == nil else { throw CommandError(message: "\(t.intercept!.supervisor) is already taking this call") }
        if let (ch, leg) = monitorLegs.first(where: { $0.value.supervisor == supervisor }), leg.established, leg.target == t.leg {
            // The monitoring leg becomes the caller's partner; it is no longer a tap.
            monitorLegs.removeValue(forKey: ch)
            feed(entry, .intercept(supervisor: supervisor, leg: ch, destination: ""))
            logger.info("acd: supervisor \(supervisor) intercepted \(code)'s call \(entry.id) from the monitoring leg")
            return "you have \(code)'s caller"
        }
        guard !sipExtension.isEmpty else { throw CommandError(message: "give extension=… (your phone) or set one for your work code") }
        feed(entry, .intercept(supervisor: supervisor, leg: nil, destination: sipExtension))
        logger.info("acd: supervisor \(supervisor) intercepting \(code)'s call \(entry.id) (phone \(sipExtension))")
        return "ringing your phone \(sipExtension); then you have \(code)'s caller"
    }

    /// Rings a supervisor's phone with auto-answer for an intercept.
    func dialSupervisor(_ entry: CallEntry, destination: String, supervisor: String) {
        originate(for: entry, Originate(destination: destination, callerID: entry.call.caller, timeoutMs: 20_000, autoAnswer: true),
                  dialled: { .interceptDialled(leg: $0) }, failed: { [logger] reason in
                      logger.warning("acd: cannot ring supervisor \(supervisor) at \(destination): \(reason)")
                      return .interceptDialFailed(reason: reason)
                  })
    }

    struct MonitorLeg {
        var supervisor: String
        var agent: String
        var target: String
        var mode: MonitorChannel.Mode
        var established: Bool
        let conn: ChannelLink
    }

    /// A monitoring leg being dialled: its mode may change, or it may be stopped, before it exists.
    struct MonitorDial {
        var agent: String
        var target: String
        var mode: MonitorChannel.Mode
        var cancelled = false
    }

    /// Asked again with another mode while connected, the same leg changes mode. The leg is
    /// hung up when the call ends.
    func monitor(supervisor: String, sipExtension: String, agent code: String, mode: MonitorChannel.Mode) throws -> String {
        guard let a = agents[code], let entry = callOf(a), entry.call.agent == code, let target = entry.call.talk?.leg else {
            throw CommandError(message: "agent \(code) is not on a call")
        }
        if let (ch, leg) = monitorLegs.first(where: { $0.value.supervisor == supervisor }) {
            guard leg.target == target else { throw CommandError(message: "you are monitoring \(leg.agent): stop-monitor first") }
            monitorLegs[ch]?.mode = mode
            if leg.established { command(leg.conn, MonitorChannel(channelID: ch, targetChannelID: target, mode: mode)) }
            return "\(Self.modeName(mode)) on \(code)"
        }
        if let dialling = monitorDialling[supervisor], !dialling.cancelled {
            guard dialling.target == target else { throw CommandError(message: "your phone is being rung to monitor \(dialling.agent): stop-monitor first") }
            monitorDialling[supervisor]?.mode = mode
            return "\(Self.modeName(mode)) on \(code) once your phone answers"
        }
        guard !sipExtension.isEmpty else { throw CommandError(message: "give extension=… (your phone) or set one for your work code") }
        let link = entry.link
        monitorDialling[supervisor] = MonitorDial(agent: code, target: target, mode: mode)
        link.command(Originate(destination: sipExtension, callerID: "monitor-\(code)", timeoutMs: 20_000, autoAnswer: true)) { [weak self] r in
            guard let self else { return }
            let dial = self.monitorDialling.removeValue(forKey: supervisor)
            switch r {
            case .success(let res):
                // Stopped meanwhile, or the call it was for is over: the leg is not needed.
                guard let dial, !dial.cancelled, self.calls.values.contains(where: { $0.call.talk?.leg == dial.target }) else {
                    self.command(link, HangupChannel(channelID: res.channelID, cause: "monitoring no longer needed"))
                    return
                }
                self.monitorLegs[res.channelID] = MonitorLeg(supervisor: supervisor, agent: code, target: target, mode: dial.mode, established: false, conn: link)
            case .failure(let e):
                self.logger.warning("acd: cannot ring supervisor \(supervisor) at \(sipExtension): \(e.reason)")
            }
        }
        logger.info("acd: supervisor \(supervisor) \(Self.modeName(mode)) on \(code) (phone \(sipExtension))")
        return "ringing your phone \(sipExtension); then \(Self.modeName(mode)) on \(code)"
    }

    func stopMonitor(supervisor: String) throws {
        if monitorDialling[supervisor]?.cancelled == false {
            monitorDialling[supervisor]?.cancelled = true
            return
        }
        guard let (ch, leg) = monitorLegs.first(where: { $0.value.supervisor == supervisor }) else { throw CommandError(message: "you are not monitoring anyone") }
        monitorLegs.removeValue(forKey: ch)
        command(leg.conn, HangupChannel(channelID: ch, cause: "monitoring stopped"))
    }

    static func modeName(_ m: MonitorChannel.Mode) -> String {
        switch m { case .listen: return "listening"; case .whisper: return "whispering"; case .barge: return "barged in" }
    }

    /// A supervisor's leg answered or ended, or the call it taps ended.
    func monitorEvent(_ e: ChannelEvent) -> Bool {
        if var leg = monitorLegs[e.channelID] {
            switch e.kind {
            case .established:
                leg.established = true
                monitorLegs[e.channelID] = leg
                command(leg.conn, MonitorChannel(channelID: e.channelID, targetChannelID: leg.target, mode: leg.mode))
            case .cleared, .failed:
                monitorLegs.removeValue(forKey: e.channelID)
            default: break
            }
            return true
        }
        if e.kind == .cleared || e.kind == .failed {
            for (ch, leg) in monitorLegs where leg.target == e.channelID {
                monitorLegs.removeValue(forKey: ch)
                command(leg.conn, HangupChannel(channelID: ch, cause: "the monitored call ended"))
            }
        }
        return false
    }
}
