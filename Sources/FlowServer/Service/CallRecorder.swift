import Foundation
import Protocol

/// Follows each call's channel events and builds its call detail record; hands the record to
/// the writer when the call ends. Lives on the Flow-Server's loop.
final class CallRecorder {
    private var open: [String: CallRecord] = [:]
    private let flowServer: String
    private let submit: (StoredRecord) -> Void
    private var holdStarted: [String: Double] = [:]
    /// Each agent's last written call, for the wrap-up that follows it (bounded by the agents).
    private var lastCallOfAgent: [String: (id: UUID, endedAt: Double)] = [:]

    init(flowServer: String, submit: @escaping (StoredRecord) -> Void) {
        self.flowServer = flowServer
        self.submit = submit
    }

    var openCalls: Int { open.count }

    func flowStarted(_ channelID: String, flow: String, version: Int) {
        guard var c = open[channelID] else { return }
        c.flow = c.flow ?? flow
        c.flowVersion = c.flowVersion ?? version
        c.events.append(.init(at: Date().timeIntervalSince1970, kind: "flow-start", detail: ["flow": flow, "version": String(version)]))
        open[channelID] = c
    }

    /// The nodes the call went through, as events of its record.
    func flowSteps(_ channelID: String, _ steps: [FlowRun.Step]) {
        guard var c = open[channelID] else { return }
        c.events += steps.map { .init(at: $0.at, kind: "flow-node", detail: ["flow": $0.flow, "version": String($0.version), "node": $0.node]) }
        c.events.sort { $0.at < $1.at }
        open[channelID] = c
    }

    // MARK: the ACD's part of the record

    func callID(_ channelID: String) -> UUID? { open[channelID]?.callID }

    /// The call went to another Flow-Server (which goes on with its record): drop it here.
    func handedOver(_ channelID: String) -> CallRecord? { open.removeValue(forKey: channelID) }

    func queued(_ channelID: String, queue: String, at t: Double) {
        guard var c = open[channelID] else { return }
        c.queue = c.queue ?? queue   // the queue the call first entered (reports count it there)
        c.queuedAt = c.queuedAt ?? t
        if c.agent == nil { c.disposition = "abandoned" }
        c.events.append(.init(at: t, kind: "queued", detail: ["queue": queue]))
        open[channelID] = c
    }

    func offered(_ channelID: String, agent: String, at t: Double) {
        guard var c = open[channelID] else { return }
        c.offeredAt = c.offeredAt ?? t
        c.events.append(.init(at: t, kind: "offered", detail: ["agent": agent]))
        open[channelID] = c
    }

    func agentAnswered(_ channelID: String, agent: String, channelID agentChannel: String, at t: Double) {
        guard var c = open[channelID] else { return }
        c.agent = agent
        c.agentAnsweredAt = c.agentAnsweredAt ?? t
        c.disposition = "answered"
        c.legs.append(.init(leg: c.legs.count + 1, channelID: agentChannel, party: agent, role: "agent", startedAt: t, answeredAt: t))
        c.events.append(.init(at: t, kind: "agent-answered", detail: ["agent": agent]))
        open[channelID] = c
    }

    func agentLegEnded(_ channelID: String, channelID leg: String, at t: Double, cause: String) {
        guard var c = open[channelID], let i = c.legs.lastIndex(where: { $0.channelID == leg && $0.endedAt == nil }) else { return }
        c.legs[i].endedAt = t
        c.legs[i].cause = cause
        open[channelID] = c
    }

    func endedBy(_ channelID: String, _ who: String) { open[channelID]?.endedBy = who }

    /// A supervisor took the call from its agent (intercept): the supervisor's leg joins the
    /// record (role supervisor); the agent stays the call's agent.
    func supervisorAnswered(_ channelID: String, supervisor: String, channelID leg: String, at t: Double) {
        guard var c = open[channelID] else { return }
        c.legs.append(.init(leg: c.legs.count + 1, channelID: leg, party: supervisor, role: "supervisor", startedAt: t, answeredAt: t))
        open[channelID] = c
    }

    /// The call's recording began (its first file names the call's `recording`).
    func recordingStarted(_ channelID: String, path: String, by: String, at t: Double) {
        guard open[channelID] != nil else { return }
        if open[channelID]?.recording == nil { open[channelID]?.recording = path }
        open[channelID]?.events.append(.init(at: t, kind: "recording", detail: ["path": path, "by": by]))
    }

    /// The caller's post-call survey score.
    func csat(_ channelID: String, _ score: Int) {
        guard (1...5).contains(score) else { return }
        open[channelID]?.csat = score
    }

    /// What the record knows of a call now (for its recording's catalogue row).
    func snapshot(_ channelID: String) -> CallRecord? { open[channelID] }

    /// An extension answered a phone's direct call: its leg, and the call's disposition.
    func extensionAnswered(_ channelID: String, extension ext: String, channelID leg: String, at t: Double) {
        guard var c = open[channelID] else { return }
        c.disposition = "extension"
        c.legs.append(.init(leg: c.legs.count + 1, channelID: leg, party: ext, role: "extension", startedAt: t, answeredAt: t))
        c.events.append(.init(at: t, kind: "extension-answered", detail: ["extension": ext]))
        open[channelID] = c
    }

    /// The agent put the caller on hold or took it back (from App-Operate or the agent's phone).
    /// Only this is hold time in AHT; the caller holding us is an event, not the agent's hold.
    func hold(_ channelID: String, at t: Double, on: Bool) {
        guard open[channelID] != nil else { return }
        if on {
            guard holdStarted[channelID] == nil else { return }   // already held (the phone and App-Operate both)
            holdStarted[channelID] = t
        } else {
            guard let h = holdStarted.removeValue(forKey: channelID) else { return }
            open[channelID]?.holdSeconds += t - h
        }
        open[channelID]?.events.append(.init(at: t, kind: on ? "held" : "retrieved", detail: ["by": "agent"]))
    }

    /// An agent's wrap-up (from `started`, `seconds` long) ended: it belongs to the call still
    /// open with that agent, else to the agent's last written call if that call ended when the
    /// wrap-up began (an agent who transferred a call wraps up while another agent has it: that
    /// wrap-up is in the agent-state records, not on a call).
    func wrapUpEnded(agent: String, started: Double, seconds: Double) {
        if let (id, _) = open.first(where: { $0.value.agent == agent }) {
            open[id]?.wrapupSeconds = seconds
        } else if let last = lastCallOfAgent[agent], last.endedAt >= started - 2 {
            submit(.wrapUp(WrapUpRecord(callID: last.id, agent: agent, seconds: seconds)))
        }
    }

    func transferred(_ channelID: String, to target: String, by agent: String, at t: Double) {
        open[channelID]?.transfers += 1
        open[channelID]?.events.append(.init(at: t, kind: "transferred", detail: ["to": target, "agent": agent]))
    }

    func event(_ channelID: String, kind: String, detail: [String: String], at t: Double) {
        open[channelID]?.events.append(.init(at: t, kind: kind, detail: detail))
    }

    /// A call the Flow-Server placed (a callback's customer leg, an originate node's call).
    func outbound(_ channelID: String, caller: String, called: String, at t: Double, disposition: String = "answered") {
        guard open[channelID] == nil else { return }
        var c = CallRecord(channelID: channelID, flowServer: flowServer, direction: "outbound", caller: caller, called: called,
                           arrivedAt: t, endedAt: t, disposition: disposition)
        c.answeredAt = t
        c.legs.append(.init(leg: 1, channelID: channelID, party: called, role: "called", startedAt: t, answeredAt: t))
        c.events.append(.init(at: t, kind: "dialled", detail: ["called": called]))
        open[channelID] = c
    }

    /// Marks how the Flow-Server disposed of a call (rejected, redirected …) before it ends.
    func dispose(_ channelID: String, disposition: String, cause: String, sipCode: Int? = nil, endedBy: String = "system") {
        guard var c = open[channelID] else { return }
        c.disposition = disposition
        c.cause = cause
        c.sipCode = sipCode
        c.endedBy = endedBy
        open[channelID] = c
    }

    /// A call's record id from its CT-Server channel and when the channel began: every
    /// Flow-Server that owns the call in turn (hand-over, adoption) names it alike, so the call
    /// has one row in `calls` however many servers saw it. (Random when the CT-Server did not
    /// say when the channel began.)
    static func callID(channel: String, createdMs: UInt64) -> UUID {
        guard createdMs != 0 else { return UUID() }
        var a: UInt64 = 0xcbf29ce484222325, b: UInt64 = 0x84222325cbf29ce4
        for byte in "\(channel)@\(createdMs)".utf8 {
            a = (a ^ UInt64(byte)) &* 0x100000001b3
            b = (b ^ UInt64(byte)) &* 0x100000001b3 ^ (b >> 29)
        }
        var bytes = withUnsafeBytes(of: a.bigEndian, Array.init) + withUnsafeBytes(of: b.bigEndian, Array.init)
        bytes[6] = (bytes[6] & 0x0F) | 0x80   // version 8 (RFC 9562: custom)
        bytes[8] = (bytes[8] & 0x3F) | 0x80   // the RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// The CT-Server link is gone: every call still open here ends now, with disposition
    /// `lost` and `cause` — a record each. A Flow-Server that adopts one of them (the CT-Server
    /// lived on) writes its full record over this one (same call id; RecordWriter).
    @discardableResult
    func closeAll(cause: String, at t: Double) -> Int {
        let calls = open
        open = [:]
        holdStarted = [:]
        for (_, var c) in calls {
            c.endedAt = t
            c.disposition = "lost"
            c.cause = cause
            c.endedBy = "system"
            if !c.legs.isEmpty { c.legs[0].endedAt = t; c.legs[0].cause = cause }
            c.events.append(.init(at: t, kind: "ended", detail: ["cause": cause]))
            submit(.call(c))
        }
        return calls.count
    }

    func event(_ e: ChannelEvent) {
        let t = Double(e.timestampMs) / 1000
        switch e.kind {
        case .offered:
            var c = CallRecord(callID: Self.callID(channel: e.channelID, createdMs: e.createdMs), channelID: e.channelID, flowServer: flowServer,
                               direction: e.direction == .inbound ? "inbound" : "outbound",
                               caller: e.caller, called: e.called, arrivedAt: t, endedAt: t, disposition: "abandoned")
            c.line = e.line.isEmpty ? nil : e.line
            c.events.append(.init(at: t, kind: "arrived", detail: ["caller": e.caller, "called": e.called]))
            c.legs.append(.init(leg: 1, channelID: e.channelID, party: e.caller, role: "caller", startedAt: t))
            open[e.channelID] = c
        case .established:
            guard var c = open[e.channelID] else { return }
            if c.line == nil, !e.line.isEmpty { c.line = e.line }
            c.answeredAt = c.answeredAt ?? t
            if c.disposition == "abandoned" { c.disposition = "self-service" }
            c.legs[0].answeredAt = c.legs[0].answeredAt ?? t
            c.events.append(.init(at: t, kind: "answered"))
            open[e.channelID] = c
        case .held, .retrieved:
            if open[e.channelID] != nil {
                // The caller's phone holds us (a=inactive/sendonly): noted, not the agent's hold time.
                open[e.channelID]?.events.append(.init(at: t, kind: e.kind == .held ? "held" : "retrieved", detail: ["by": "caller"]))
            } else if let (callChannel, _) = open.first(where: { $0.value.legs.contains { $0.role == "agent" && $0.channelID == e.channelID && $0.endedAt == nil } }) {
                // The agent's phone put the caller on hold.
                hold(callChannel, at: t, on: e.kind == .held)
            }
        case .digits:
            open[e.channelID]?.events.append(.init(at: t, kind: "dtmf", detail: ["digits": e.digits, "source": e.cause]))
        case .transferred:
            open[e.channelID]?.transfers += 1
            open[e.channelID]?.events.append(.init(at: t, kind: "transferred", detail: ["cause": e.cause]))
            if open[e.channelID]?.disposition != "rejected" { open[e.channelID]?.disposition = "transferred" }
        case .transferFailed:
            open[e.channelID]?.events.append(.init(at: t, kind: "transfer-failed", detail: ["cause": e.cause]))
        case .delivered:
            open[e.channelID]?.events.append(.init(at: t, kind: "alerting"))
        case .adopted:
            // A call another Flow-Server had (it handed it over, or its link was lost): the record
            // goes on here, from when the call began.
            guard e.direction == .inbound, open[e.channelID] == nil else { return }
            let d = e.data
            let created = e.createdMs > 0 ? Double(e.createdMs) / 1000 : t
            let arrived = d["arrived_ms"].flatMap(Double.init).map { $0 / 1000 } ?? created
            var c = CallRecord(callID: Self.callID(channel: e.channelID, createdMs: e.createdMs), channelID: e.channelID, flowServer: flowServer,
                               direction: "inbound", caller: e.caller, called: e.called,
                               arrivedAt: arrived, endedAt: t, disposition: e.bridgedWith.isEmpty ? "self-service" : "answered")
            c.answeredAt = d["answered_ms"].flatMap(Double.init).map { $0 / 1000 } ?? created
            c.line = e.line.isEmpty ? nil : e.line
            c.flow = d["flow"]
            c.flowVersion = d["version"].flatMap(Int.init)
            if let q = d["queue"] {
                c.queue = q
                c.queuedAt = d["queued_ms"].flatMap(Double.init).map { $0 / 1000 } ?? t
                if e.bridgedWith.isEmpty { c.disposition = "abandoned" }   // back in the queue; answered if an agent takes it
            }
            if let agent = d["agent"], !e.bridgedWith.isEmpty {
                c.agent = agent
                c.agentAnsweredAt = d["agent_answered_ms"].flatMap(Double.init).map { $0 / 1000 }
                c.legs.append(.init(leg: 2, channelID: e.bridgedWith, party: agent, role: "agent", startedAt: c.agentAnsweredAt ?? t,
                                    answeredAt: c.agentAnsweredAt))
            }
            c.events.append(.init(at: arrived, kind: "arrived", detail: ["caller": e.caller, "called": e.called]))
            c.events.append(.init(at: t, kind: "adopted", detail: ["from": d["from"] ?? "a lost flow-server", "bridged_with": e.bridgedWith]))
            c.legs.append(.init(leg: 1, channelID: e.channelID, party: e.caller, role: "caller", startedAt: arrived, answeredAt: c.answeredAt))
            open[e.channelID] = c
        case .cleared, .failed:
            guard var c = open.removeValue(forKey: e.channelID) else { return }
            if let h = holdStarted.removeValue(forKey: e.channelID) { c.holdSeconds += t - h }
            c.endedAt = t
            if c.cause == nil { c.cause = e.cause }
            if c.sipCode == nil, e.sipCode != 0 { c.sipCode = Int(e.sipCode) }
            // Who ended it, from the CT-Server's typed field (never from the cause text).
            if c.endedBy == nil { c.endedBy = e.clearedBy == .farEnd ? "caller" : "system" }
            if e.kind == .failed { c.disposition = "failed" }
            c.legs[0].endedAt = t
            c.legs[0].cause = e.cause
            for i in c.legs.indices where (c.legs[i].role == "extension" || c.legs[i].role == "supervisor") && c.legs[i].endedAt == nil { c.legs[i].endedAt = t }
            c.events.append(.init(at: t, kind: "ended", detail: ["cause": e.cause]))
            if let agent = c.agent {
                if lastCallOfAgent.count > 100_000 { lastCallOfAgent.removeAll() }
                lastCallOfAgent[agent] = (c.callID, t)
            }
            submit(.call(c))
        }
    }
}
