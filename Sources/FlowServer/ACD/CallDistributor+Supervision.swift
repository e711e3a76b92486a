import Protocol

/// Supervisors listening to, whispering to or barging into agents' calls: the supervisor's
/// phone is rung with auto-answer and tapped into the agent's leg.
extension CallDistributor {
    struct MonitorLeg {
        var supervisor: String
        var agent: String
        var target: String
        var mode: MonitorChannel.Mode
        var established: Bool
        let conn: ChannelLink
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
        guard !sipExtension.isEmpty else { throw CommandError(message: "give extension=… (your phone) or set one for your work code") }
        let link = entry.link
        link.command(Originate(destination: sipExtension, callerID: "monitor-\(code)", timeoutMs: 20_000, autoAnswer: true)) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                self.monitorLegs[res.channelID] = MonitorLeg(supervisor: supervisor, agent: code, target: target, mode: mode, established: false, conn: link)
            case .failure(let e):
                self.logger.warning("acd: cannot ring supervisor \(supervisor) at \(sipExtension): \(e.reason)")
            }
        }
        logger.info("acd: supervisor \(supervisor) \(Self.modeName(mode)) on \(code) (phone \(sipExtension))")
        return "ringing your phone \(sipExtension); then \(Self.modeName(mode)) on \(code)"
    }

    func stopMonitor(supervisor: String) throws {
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
