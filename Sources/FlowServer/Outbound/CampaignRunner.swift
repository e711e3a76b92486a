import Foundation
import Logging
import Protocol

/// The campaigns' runner on a Flow-Server: every 0.5 s each running campaign's machine is fed
/// its queue's agents (free, busy) and the do-not-call lists; its dials go through the outbound
/// route table (a trunk); a callee who answers is put into the campaign's queue with a 2-s
/// maximum wait — an agent takes it, or the callee hears the campaign's message and the call
/// is an abandon. Every attempt, refusal and change is written to PostgreSQL (`store`).
final class CampaignRunner {
    struct Running {
        var machine: Campaign
        var message: String
        /// Our dialled channels → record.
        var channels: [String: Int] = [:]
        /// Channels answered (in the ACD, or hearing the message): when each was answered.
        var answered: [String: Double] = [:]
        /// Preview: the agent who dialled each record (its callee goes to that agent).
        var previewAgents: [Int: String] = [:]
        var abandoned: Set<String> = []
    }

    let distributor: CallDistributor
    let server: String
    let logger: Logger
    /// Database work off the loop, for the campaigns' state (nil: no database; campaigns then
    /// live only in memory).
    var store: ((@escaping (PostgresConnection) throws -> Void) -> Void)?
    /// Records (attempts, refusals, dispositions) go through the record writer's spool.
    var submit: ((StoredRecord) -> Void)?
    private(set) var campaigns: [String: Running] = [:]
    /// Do-not-call: the global list ("") and each campaign's.
    var dnc: [String: Set<String>] = [:]
    /// The tag of a campaign's abandon message (PlayMedia), to hang up when it is done.
    static let messageTag: UInt32 = 0x4F55_5401
    private var ticking = false
    /// The agent who took each answered record's call (for its attempt row).
    private var agentOf: [String: [Int: String]] = [:]
    /// Each agent's last campaign call (campaign, record, attempt): its disposition goes there.
    private(set) var lastCall: [String: (campaign: String, record: Int, attempt: Int)] = [:]

    init(distributor: CallDistributor, server: String, logger: Logger) {
        self.distributor = distributor
        self.server = server
        self.logger = logger
    }

    func add(_ name: String, _ campaign: Campaign, message: String) {
        campaigns[name] = Running(machine: campaign, message: message)
        scheduleTick()
    }

    func remove(_ name: String) { campaigns.removeValue(forKey: name) }

    func campaign(_ name: String) -> Campaign? { campaigns[name]?.machine }

    /// start / pause / resume / stop; the reason when refused.
    func control(_ name: String, _ e: Campaign.Event) -> String? {
        guard campaigns[name] != nil else { return "no campaign \(name) running here" }
        let actions = campaigns[name]!.machine.handle(e)
        perform(name, actions)
        persistState(name)
        if case .refuse(let why) = actions.first { return why }
        scheduleTick()
        return nil
    }

    func blocked(_ campaign: String) -> Set<String> { (dnc[""] ?? []).union(dnc[campaign] ?? []) }

    // MARK: preview

    /// The next due record for `agent` (held for it until dialled or skipped).
    func nextPreview(_ name: String, agent: String) -> Result<(record: Int, number: String, fields: [String: String]), CallDistributor.CommandError> {
        guard campaigns[name] != nil else { return .failure(.init(message: "no campaign \(name) running here")) }
        let actions = campaigns[name]!.machine.handle(.nextPreview(agent: agent, now: distributor.now, dnc: blocked(name)))
        perform(name, actions)
        for a in actions {
            if case .preview(_, let record, let number, let fields) = a {
                campaigns[name]?.previewAgents[record] = agent
                return .success((record, number, fields))
            }
            if case .refuse(let why) = a { return .failure(.init(message: why)) }
        }
        return .failure(.init(message: "nothing to preview"))
    }

    /// The agent dials the record it previewed: the callee, once it answers, goes to that agent.
    func previewDial(_ name: String, agent: String, record: Int) -> String? {
        guard campaigns[name]?.previewAgents[record] == agent else { return "record \(record) is not in your preview" }
        let actions = campaigns[name]!.machine.handle(.previewDial(record: record))
        if case .refuse(let why) = actions.first { return why }
        perform(name, actions)
        return nil
    }

    func previewSkip(_ name: String, agent: String, record: Int, reason: String) -> String? {
        guard campaigns[name]?.previewAgents[record] == agent else { return "record \(record) is not in your preview" }
        campaigns[name]?.previewAgents.removeValue(forKey: record)
        let actions = campaigns[name]!.machine.handle(.previewSkip(record: record, reason: reason))
        if case .refuse(let why) = actions.first { return why }
        perform(name, actions)
        return nil
    }

    // MARK: pacing

    private func scheduleTick() {
        guard !ticking else { return }
        ticking = true
        distributor.clock.schedule(after: 0.5) { [weak self] in
            guard let self else { return }
            self.ticking = false
            self.tick()
            if self.campaigns.values.contains(where: { $0.machine.state == .running || !$0.channels.isEmpty }) { self.scheduleTick() }
        }
    }

    func tick() {
        let now = distributor.now
        for name in campaigns.keys.sorted() {
            guard let r = campaigns[name], r.machine.state == .running, r.machine.settings.mode != .preview else { continue }
            let q = r.machine.settings.queue
            var free = 0, busy = 0
            for a in distributor.agents.values where a.queues.contains(q) {
                switch a.machine.state {
                case .ready: free += 1
                case .reserved, .ringing, .talking, .held, .wrapUp: busy += 1
                default: break
                }
            }
            // Callees already answered and waiting in the queue take free agents first.
            free = max(0, free - distributor.engine.waitingCalls(in: q).count)
            let actions = campaigns[name]!.machine.handle(.tick(now: now, freeAgents: free, busyAgents: busy, dnc: blocked(name)))
            perform(name, actions)
        }
    }

    private func perform(_ name: String, _ actions: [Campaign.Action]) {
        for a in actions {
            switch a {
            case .dial(let record, let number, let callerID, let attempt):
                dial(name, record: record, number: number, callerID: callerID, attempt: attempt)
                persistNumber(name, record)
            case .refused(let record, let number, let reason):
                logger.notice("campaign \(name): \(number) not dialled (\(reason))")
                attemptRow(name, record: record, number: number, attempt: campaigns[name]?.machine.records[record].attempts ?? 0, outcome: .dnc, detail: reason)
                persistNumber(name, record)
            case .attempt(let record, let number, let attempt, let outcome, let detail):
                let agent = agentOf[name]?.removeValue(forKey: record)
                if let agent { lastCall[agent] = (name, record, attempt) }
                attemptRow(name, record: record, number: number, attempt: attempt, outcome: outcome, detail: detail, agent: agent)
                persistNumber(name, record)
            case .finished:
                logger.notice("campaign \(name): every number is done")
                persistState(name)
            case .preview, .refuse:
                break
            }
        }
    }

    private func dial(_ name: String, record: Int, number: String, callerID: String, attempt: Int) {
        guard let link = distributor.ctLink() else {
            outcome(name, record: record, .failed, ring: 0, detail: "ct-server link down")
            return
        }
        let target: OutboundRoutes.Resolved
        switch distributor.settings.routes.resolve(number, callerID: callerID) {
        case .success(let r): target = r
        case .failure(let why):
            outcome(name, record: record, .failed, ring: 0, detail: why.description)
            return
        }
        let dialledAt = distributor.now
        logger.info("campaign \(name): dialling \(number) (attempt \(attempt)) through \(target.trunk.isEmpty ? "no trunk" : target.trunk)")
        link.command(Originate(destination: target.number, callerID: target.callerID, timeoutMs: 30_000, trunk: target.trunk)) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                guard self.campaigns[name] != nil else {
                    link.command(HangupChannel(channelID: res.channelID, cause: "campaign removed")) { _ in }
                    return
                }
                self.campaigns[name]?.channels[res.channelID] = record
                self.distributor.recorder.outbound(res.channelID, caller: target.callerID, called: number, at: dialledAt, disposition: "no-answer")
                self.distributor.recorder.event(res.channelID, kind: "campaign", detail: ["campaign": name, "attempt": String(attempt)], at: dialledAt)
            case .failure(let e):
                self.outcome(name, record: record, .failed, ring: 0, detail: e.reason)
            }
        }
    }

    private func outcome(_ name: String, record: Int, _ o: Campaign.Outcome, ring: Double, detail: String = "") {
        guard campaigns[name] != nil else { return }
        let actions = campaigns[name]!.machine.handle(.outcome(record: record, o, now: distributor.now, ring: ring))
        perform(name, actions.map {
            if case .attempt(let r, let n, let a, let out, _) = $0 { return .attempt(record: r, number: n, attempt: a, outcome: out, detail: detail) }
            return $0
        })
    }

    // MARK: channels

    /// Whether the channel is a campaign's dialled call.
    func owns(_ channel: String) -> Bool { campaigns.values.contains { $0.channels[channel] != nil } }

    /// A channel event of a campaign's call (observed; the ACD gets it too once the callee is queued).
    func channelEvent(_ e: ChannelEvent, conn: Connection) {
        guard let name = campaigns.first(where: { $0.value.channels[e.channelID] != nil })?.key,
              let record = campaigns[name]?.channels[e.channelID] else { return }
        let r = campaigns[name]!
        switch e.kind {
        case .established:
            campaigns[name]?.answered[e.channelID] = distributor.now
            distributor.recorder.event(e.channelID, kind: "campaign-answered", detail: ["campaign": name], at: distributor.now)
            let number = r.machine.records[record].entry.number
            var vars: [String: String] = ["campaign": name]
            for (k, v) in r.machine.records[record].entry.fields { vars["customer.\(k)"] = v }
            // Preview: to the agent who dialled it (its personal queue), who expects it; else the
            // campaign's queue, where no agent within 2 s is an abandon.
            let previewAgent = campaigns[name]?.previewAgents.removeValue(forKey: record)
            let node = FlowNode.Queue(queue: previewAgent.map { "agent/\($0)" } ?? r.machine.settings.queue, priority: 100, skills: [:],
                                      maxWaitSeconds: previewAgent == nil ? 2 : 20, music: [], announce: [],
                                      announceEverySeconds: 0, timeout: "abandon", noAgents: nil, returned: nil)
            let ch = e.channelID
            distributor.enqueue(channelID: ch, conn: CTLink(conn), caller: number, called: r.machine.settings.callerID, node: node, variables: vars,
                                onOutcome: { [weak self] outcome in self?.leftQueue(name, channel: ch, outcome, conn: conn) },
                                onFlow: { [weak self] _ in self?.leftQueue(name, channel: ch, .timeout, conn: conn) })
        case .failed, .cleared:
            campaigns[name]?.channels.removeValue(forKey: e.channelID)
            if let at = r.answered[e.channelID] {
                campaigns[name]?.answered.removeValue(forKey: e.channelID)
                if let agent = distributor.recorder.snapshot(e.channelID)?.agent { agentOf[name, default: [:]][record] = agent }
                let abandoned = r.abandoned.contains(e.channelID)
                campaigns[name]?.abandoned.remove(e.channelID)
                if !abandoned { _ = campaigns[name]?.machine.handle(.handled(seconds: distributor.now - at)) }
                outcome(name, record: record, abandoned ? .abandoned : .answered, ring: 0)
            } else {
                let code = Int(e.sipCode)
                let o: Campaign.Outcome = code == 486 || code == 600 ? .busy : (code == 408 || code == 480 || code == 487 || e.kind == .cleared) ? .noAnswer : .failed
                outcome(name, record: record, o, ring: 0, detail: e.cause)
            }
        default:
            break
        }
    }

    /// The answered callee left the queue without an agent (2 s passed): the message, then hang up.
    private func leftQueue(_ name: String, channel: String, _ outcome: FlowRun.QueueOutcome, conn: Connection) {
        campaigns[name]?.abandoned.insert(channel)
        let message = campaigns[name]?.message ?? ""
        logger.notice("campaign \(name): no agent within 2 s for \(channel): abandoned")
        distributor.recorder.event(channel, kind: "campaign-abandoned", detail: ["campaign": name], at: distributor.now)
        if message.isEmpty {
            conn.request(HangupChannel(channelID: channel, cause: "campaign: no agent free"), expecting: ChannelCommandResult.self) { _ in }
        } else {
            conn.request(PlayMedia(channelID: channel, items: [message], loop: false, tag: Self.messageTag), expecting: ChannelCommandResult.self) { _ in }
        }
    }

    /// PlayDone of an abandon message: hang up.
    func mediaEvent(_ m: MediaEventMessage, conn: Connection) -> Bool {
        guard m.kind == .playDone, m.tag == Self.messageTag, campaigns.values.contains(where: { $0.abandoned.contains(m.channelID) }) else { return false }
        conn.request(HangupChannel(channelID: m.channelID, cause: "campaign: message played"), expecting: ChannelCommandResult.self) { _ in }
        return true
    }

    // MARK: storage

    private func attemptRow(_ name: String, record: Int, number: String, attempt: Int, outcome: Campaign.Outcome, detail: String, agent: String? = nil) {
        submit?(.campaignAttempt(CampaignAttemptRecord(campaign: name, numberID: record, number: number, attempt: attempt, outcome: outcome.rawValue,
                                                       detail: detail, agent: agent, at: distributor.now)))
    }

    /// The agent's disposition of its last campaign call (sale, callback, not-interested …).
    func disposition(agent: String, code: String, note: String) -> String? {
        guard let last = lastCall[agent] else { return "you have had no campaign call" }
        guard (1...32).contains(code.count), code.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            return "code is a word (letters, digits, - and _), e.g. sale, callback, not-interested"
        }
        submit?(.campaignDisposition(CampaignDispositionRecord(campaign: last.campaign, numberID: last.record, attempt: last.attempt, agent: agent,
                                                               code: code, note: String(note.prefix(1000)))))
        return nil
    }

    private func persistNumber(_ name: String, _ record: Int) {
        guard let r = campaigns[name]?.machine.records[record] else { return }
        store? { db in
            try db.execute("UPDATE campaign_numbers SET attempts = $3::integer, next_at = $4::float8, done = $5::boolean, last_outcome = $6 WHERE campaign = $1 AND id = $2::integer",
                           [name, String(record), String(r.attempts), String(r.nextAt), r.done ? "true" : "false", r.lastOutcome?.rawValue])
        }
    }

    func persistState(_ name: String) {
        guard let state = campaigns[name]?.machine.state else { return }
        let owner = server
        store? { db in try db.execute("UPDATE campaigns SET state = $2, owner = $3 WHERE name = $1", [name, state.rawValue, owner]) }
    }
}
