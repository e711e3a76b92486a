import Foundation
import Logging
import Protocol

/// The runner of the calls' recordings (`CallRecording`): applies the queues' and flows'
/// policies, carries out operators' start, pause, resume and stop, sends the channel commands,
/// and catalogues each file when the CT-Server reports it closed (RecordDone, with its size,
/// SHA-256 and paused spans) — through the record spool, so a catalogue row is never lost.
/// A recording outlives the Flow-Server that started it: the CT-Server keeps writing, and the
/// Flow-Server that adopted the call gets the RecordDone and catalogues it from what the
/// CT-Server reports. Runs on the Flow-Server's loop.
final class CallRecordings {
    /// RecordChannel's tag for calls' recordings (tells their RecordDone from a flow's record node).
    static let tag: UInt32 = 0x5245_4301
    /// PlayMedia's tag for a recording played back to an operator's phone.
    static let playTag: UInt32 = 0x5245_4302

    final class Entry {
        var machine: CallRecording
        let link: ChannelLink
        var queue: String?
        var agents: [String] = []
        /// The policy's decision for this call (made once: a percentage is not re-rolled).
        var decided: Bool?
        var policyStarted = false
        /// The call's numbers, kept from its record (which is written before the file is closed).
        var caller: String?
        var called: String?
        init(machine: CallRecording, link: ChannelLink) {
            self.machine = machine
            self.link = link
        }
    }

    private(set) var entries: [String: Entry] = [:]
    let recorder: CallRecorder
    let submit: (StoredRecord) -> Void
    let logger: Logger
    var queuePolicy: (String) -> RecordingPolicy = { _ in RecordingPolicy() }
    var random: () -> Double = { Double.random(in: 0..<1) }
    var now: () -> Date = { Date() }
    /// Recordings catalogued since the start (for the status line and tests).
    private(set) var catalogued = 0

    init(recorder: CallRecorder, submit: @escaping (StoredRecord) -> Void, logger: Logger) {
        self.recorder = recorder
        self.submit = submit
        self.logger = logger
    }

    private func entry(_ channel: String, _ link: ChannelLink) -> Entry {
        if let e = entries[channel] { return e }
        let id = recorder.callID(channel) ?? UUID()
        let e = Entry(machine: CallRecording(channel: channel, callID: id, day: now()), link: link)
        let snapshot = recorder.snapshot(channel)
        e.caller = snapshot?.caller
        e.called = snapshot?.called
        entries[channel] = e
        return e
    }

    // MARK: policy

    /// A flow with a recording policy started on this call (IVR calls): recorded from now.
    func flowStarted(_ channel: String, link: ChannelLink, policy: RecordingPolicy?) {
        guard let policy, policy.mode == .all || policy.mode == .percent else { return }
        let e = entry(channel, link)
        if e.decided == nil { e.decided = policy.records(roll: random()) }
        if e.decided == true, !e.policyStarted { startByPolicy(e, policy) }
    }

    /// The call entered a queue: its policy is decided; `from: start` records from now.
    func queued(_ channel: String, link: ChannelLink, queue: String) {
        let policy = queuePolicy(queue)
        guard policy.mode == .all || policy.mode == .percent else { return }
        let e = entry(channel, link)
        e.queue = e.queue ?? queue
        if e.decided == nil { e.decided = policy.records(roll: random()) }
        if e.decided == true, policy.from == .start, !e.policyStarted { startByPolicy(e, policy) }
    }

    /// An agent answered the call (the first, or one it was transferred to).
    func agentAnswered(_ channel: String, link: ChannelLink, queue: String, agent: String) {
        let policy = queuePolicy(queue)
        if let e = entries[channel], !e.agents.contains(agent) { e.agents.append(agent) }
        guard policy.mode == .all || policy.mode == .percent else { return }
        let e = entry(channel, link)
        e.queue = e.queue ?? queue
        if !e.agents.contains(agent) { e.agents.append(agent) }
        if e.decided == nil { e.decided = policy.records(roll: random()) }
        if e.decided == true, !e.policyStarted { startByPolicy(e, policy) }
    }

    private func startByPolicy(_ e: Entry, _ p: RecordingPolicy) {
        e.policyStarted = true
        _ = run(e, .start(by: .policy, maxMs: p.maxMinutes * 60_000, stereo: p.stereo))
    }

    // MARK: operators

    /// An operator's request on a call's recording; nil when done, else why not.
    func control(_ channel: String, link: ChannelLink, queue: String?, agent: String?, _ event: CallRecording.Event) -> String? {
        let e = entry(channel, link)
        if let queue { e.queue = e.queue ?? queue }
        if let agent, !e.agents.contains(agent) { e.agents.append(agent) }
        return run(e, event)
    }

    func state(_ channel: String) -> CallRecording.State? { entries[channel]?.machine.state }

    private func run(_ e: Entry, _ event: CallRecording.Event) -> String? {
        let channel = e.machine.channel
        for action in e.machine.handle(event) {
            switch action {
            case .refuse(let why):
                return why
            case .record(let name, let stereo, let maxMs, let by):
                let m = RecordChannel(channelID: channel, name: name, stereo: stereo, maxMs: UInt32(clamping: maxMs), tag: Self.tag, startedBy: by,
                                      callID: e.machine.callID.uuidString.lowercased())
                recorder.recordingStarted(channel, path: name + ".wav", by: by, at: now().timeIntervalSince1970)
                logger.info("channel \(channel): recording \(name).wav (by \(by))")
                e.link.command(m) { [weak self] r in
                    if case .failure(let err) = r {
                        self?.logger.warning("channel \(channel): recording refused by the ct-server: \(err.reason)")
                        _ = self?.entries[channel].map { self?.run($0, .closed(path: name + ".wav")) }
                    }
                }
            case .control(let what):
                recorder.event(channel, kind: "recording-\(what == .pause ? "paused" : what == .resume ? "resumed" : "stopped")",
                               detail: ["by": Self.actorName(event)], at: now().timeIntervalSince1970)
                e.link.command(RecordingControl(channelID: channel, action: what)) { [weak self] r in
                    if case .failure(let err) = r { self?.logger.warning("channel \(channel): recording \(what) failed: \(err.reason)") }
                }
            }
        }
        return nil
    }

    private static func actorName(_ e: CallRecording.Event) -> String {
        switch e {
        case .start(let by, _, _), .pause(let by), .resume(let by), .stop(let by): return by.name
        case .closed: return ""
        }
    }

    // MARK: the CT-Server's report

    /// RecordDone of a call's recording (ours, or one started by a Flow-Server whose call this
    /// one adopted): catalogued. `agentOf` names the agent the ACD has on the call now.
    func recordDone(_ m: MediaEventMessage, agentOf: (String) -> (agent: String?, queue: String?)) {
        let e = entries[m.channelID]
        // The path relative to the recording folder: the dated layout's last four parts.
        let relative = m.path.split(separator: "/").suffix(4).joined(separator: "/")
        let snapshot = recorder.snapshot(m.channelID)
        let r = m.recording
        var row = RecordingRecord(path: relative, callID: r.flatMap { UUID(uuidString: $0.callID) } ?? e?.machine.callID ?? recorder.callID(m.channelID),
                                  channelID: m.channelID, startedAt: r.map { Double($0.startedAtMs) / 1000 }, durationMs: Int(m.durationMs), reason: m.reason)
        let now = agentOf(m.channelID)
        var agents = e?.agents ?? []
        if let a = now.agent, !agents.contains(a) { agents.append(a) }
        if agents.isEmpty, let a = snapshot?.agent { agents = [a] }
        row.caller = snapshot?.caller ?? e?.caller ?? r.flatMap { $0.caller.isEmpty ? nil : $0.caller }
        row.called = snapshot?.called ?? e?.called ?? r.flatMap { $0.called.isEmpty ? nil : $0.called }
        row.queue = e?.queue ?? now.queue ?? snapshot?.queue
        row.agents = agents
        row.channels = Int(r?.channels ?? 1)
        row.sizeBytes = r?.sizeBytes
        row.sha256 = r?.sha256
        row.pauses = (r?.pauses ?? "").split(separator: ",").compactMap { span in
            let p = span.split(separator: "-").compactMap { Int($0) }
            return p.count == 2 ? p : nil
        }
        row.startedBy = r?.startedBy
        if m.reason == "failed" || (r?.sizeBytes ?? 0) == 0 {
            logger.warning("channel \(m.channelID): recording \(relative) failed (\(m.reason)); not catalogued")
        } else {
            submit(.recording(row))
            catalogued += 1
            logger.info("channel \(m.channelID): recording \(relative) catalogued (\(m.durationMs) ms, \(row.pauses?.count ?? 0) paused spans)")
        }
        if let e {
            _ = run(e, .closed(path: relative))
            if !e.machine.isRecording, recorder.callID(m.channelID) == nil { entries.removeValue(forKey: m.channelID) }
        }
    }

    /// The call ended: its entry goes once its file is closed (RecordDone may come later).
    func callEnded(_ channel: String) {
        guard let e = entries[channel] else { return }
        if !e.machine.isRecording, e.machine.state != .stopping { entries.removeValue(forKey: channel) }
    }

    /// The CT-Server link is gone: the recordings are its (an adopter catalogues them).
    func linkLost() { entries = [:] }
}
