import Foundation
import Protocol

/// Channel events from the CT-Server, to the call that owns the channel (or to a supervisor's
/// leg, or to a pair of channels adopted from a lost Flow-Server).
extension CallDistributor {
    /// Channel events of callers in the ACD and of the legs it dialled. Call before the
    /// recorder sees the event (so the record is complete when it is written).
    func channelEvent(_ e: ChannelEvent) {
        if monitorEvent(e) { return }
        if !conferenceLegs.isEmpty, conferenceChannelEvent(e) { return }
        let gone = e.kind == .cleared || e.kind == .failed
        if gone, let (other, link) = adoptedPairs.removeValue(forKey: e.channelID) {
            adoptedPairs.removeValue(forKey: other)
            command(link, HangupChannel(channelID: other, cause: "other party hung up"))
            return
        }
        guard let entry = entry(forChannel: e.channelID) else { return }
        switch e.kind {
        case .established: feed(entry, .answered(leg: e.channelID))
        case .held: feed(entry, .held(leg: e.channelID))
        case .retrieved: feed(entry, .retrieved(leg: e.channelID))
        case .transferred where !e.bridgedWith.isEmpty:
            feed(entry, .phoneTransferred(leg: e.channelID, to: e.bridgedWith, target: e.data["target"] ?? ""))
        case .cleared, .failed:
            feed(entry, .cleared(leg: e.channelID, cause: e.causeCode, text: e.cause, failed: e.kind == .failed))
        default: break
        }
    }

    /// The CT-Server link is gone: every call ends here (agents are freed: wrap-up), supervisors'
    /// legs and adopted pairs are forgotten. Their records are closed by the CallRecorder.
    func linkLost() -> Int {
        let all = calls.values.sorted { $0.id < $1.id }
        for entry in all { feed(entry, .linkLost) }
        monitorLegs = [:]
        adoptedPairs = [:]
        return all.count
    }

    /// Two channels another Flow-Server had bridged (it was lost): when one ends, the other is hung up.
    func pairAdopted(_ a: String, _ b: String, conn: ChannelLink) {
        adoptedPairs[a] = (b, conn)
        adoptedPairs[b] = (a, conn)
    }
}

/// Where calls are, for the board, App-Operate's status and the invariant tests.
extension CallDistributor {
    /// Where the ACD holds a caller's channel: waiting, offered, with an agent, or bridged to
    /// an outside party after a transfer; nil when the ACD does not hold it.
    func whereIs(_ channel: String) -> String? {
        if adoptedPairs[channel] != nil { return "external" }
        guard let entry = entry(forChannel: channel), entry.call.callerChannel == channel else { return nil }
        switch entry.call.phase {
        case .waiting: return engine.call(entry.id) != nil ? "waiting" : nil
        case .offered(let o): return o.isEmpty ? nil : "offered"
        case .connected: return "connected"
        case .transferringOut, .external: return "external"
        case .intercepted: return "intercepted"
        case .ended: return nil
        }
    }

    /// The call for an id (waiting, offered or connected).
    func liveCall(_ id: String) -> CallEntry? { calls[id] }

    func statusFields(_ a: Agent) -> [String: String] {
        var f: [String: String] = ["code": a.code, "name": a.op.name, "state": a.machine.state.name, "extension": a.sipExtension, "mode": a.mode.rawValue,
                                   "since_seconds": String(Int(now - a.machine.since)), "logged_in_seconds": String(Int(now - a.loginAt)),
                                   "calls": String(a.machine.callsHandled),
                                   "talk_seconds": String(Int(a.talkSeconds + (a.talkStarted.map { now - $0 } ?? 0))),
                                   "queues": a.op.queues.sorted().joined(separator: ",")]
        if case .notReady(let r, let locked) = a.machine.state { f["reason"] = r; f["locked"] = locked ? "yes" : "no" }
        if let c = callOf(a)?.call {
            f["call"] = c.id
            f["caller"] = c.caller
            f["queue"] = c.queue
            f["call_state"] = c.phase.name
            if c.talk?.held == true { f["held"] = "yes" }
            if let k = c.talk?.consult { f["consult"] = k.target + (k.connected ? " (connected)" : " (ringing)") }
        }
        return f
    }

    func queueRows(_ queues: Set<String>) -> [[String: String]] {
        var rows: [[String: String]] = []
        let iso = ISO8601DateFormatter()
        for q in queues.sorted() {
            for (i, c) in engine.waitingCalls(in: q).enumerated() {
                guard let call = calls[c.id]?.call else { continue }
                rows.append(["queue": q, "position": String(i + 1), "caller": call.caller, "priority": String(call.priority),
                             "arrived": iso.string(from: Date(timeIntervalSince1970: call.enqueuedAt)),
                             "waited_seconds": String(Int(now - call.enqueuedAt))])
            }
        }
        return rows
    }

    func board() -> (fields: [String: String], rows: [[String: String]]) {
        let connected = calls.values.filter { $0.call.talk != nil && $0.call.callerChannel != nil }.count
        var f: [String: String] = ["waiting": String(engine.waitingCount), "agents": String(agents.count),
                                   "offered": String(counters.offered), "answered": String(counters.answered),
                                   "abandoned": String(counters.abandoned), "rona": String(counters.rona), "connected": String(connected)]
        var perQueue: [String: Int] = [:]
        for c in calls.values where c.call.isWaiting { perQueue[c.call.queue, default: 0] += 1 }
        for (q, n) in perQueue { f["queue.\(q)"] = String(n) }
        let rows = agents.values.sorted { $0.code < $1.code }.map { a -> [String: String] in
            var r = ["agent": a.code, "name": a.op.name, "state": a.machine.state.name, "since_seconds": String(Int(now - a.machine.since)),
                     "calls": String(a.machine.callsHandled), "extension": a.sipExtension]
            if let c = callOf(a)?.call { r["caller"] = c.caller; r["queue"] = c.queue }
            return r
        }
        return (f, rows)
    }
}
