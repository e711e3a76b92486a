import Foundation

/// An outbound campaign as a value type: its call list, what was tried and what is due, the
/// pacing of its dialling mode, and its state (created → running ⇄ paused → stopped, or
/// finished when every number is done). Events in, actions out; time is given.
///
/// A number is due when it is not done, not ringing, its retry time has come, and it is inside
/// the calling window in the callee's local time (its list's `timezone`, else the campaign's).
/// Do-not-call is checked when a number is about to be dialled — not only at import — and a
/// refused number is done with outcome `dnc` (and audited by the runner). Outcomes busy, no
/// answer, failed and abandoned (answered with no agent: dropped by us) are retried by the
/// campaign's rules; answered and skipped are done.
public struct Campaign: Sendable {
    public enum State: String, Sendable, Equatable { case created, running, paused, stopped, finished }
    public enum Outcome: String, Sendable, Equatable, CaseIterable {
        case answered, busy, noAnswer = "no-answer", failed, abandoned, dnc, skipped
    }
    public struct Retry: Sendable, Equatable {
        public var maxAttempts: Int
        public var afterSeconds: Double
        public init(maxAttempts: Int, afterSeconds: Double) {
            self.maxAttempts = maxAttempts
            self.afterSeconds = afterSeconds
        }
    }
    public struct Settings: Sendable, Equatable {
        public var name: String
        public var mode: Pacer.Mode
        public var callerID: String
        /// Agents of this queue take the campaign's calls.
        public var queue: String
        /// The calling window in the callee's local time, minutes after midnight, [start, end).
        public var windowStart = 9 * 60
        public var windowEnd = 21 * 60
        /// Days allowed (1 Sunday … 7 Saturday).
        public var days: Set<Int> = Set(1...7)
        public var timezone = TimeZone.current.identifier
        public var retries: [Outcome: Retry] = [.busy: Retry(maxAttempts: 3, afterSeconds: 600), .noAnswer: Retry(maxAttempts: 3, afterSeconds: 3600),
                                                .failed: Retry(maxAttempts: 2, afterSeconds: 1800), .abandoned: Retry(maxAttempts: 2, afterSeconds: 3600)]
        public var abandonCap = 0.03
        public init(name: String, mode: Pacer.Mode, callerID: String, queue: String) {
            self.name = name
            self.mode = mode
            self.callerID = callerID
            self.queue = queue
        }
    }
    public struct Record: Sendable, Equatable {
        public let id: Int
        public var entry: CallListEntry
        public var attempts = 0
        public var nextAt = 0.0
        public var done = false
        public var ringing = false
        public var lastOutcome: Outcome?
    }
    public enum Event: Sendable, Equatable {
        case start, pause, resume, stop
        /// The pacer's moment: agents of the campaign's queue free and busy, the do-not-call numbers.
        case tick(now: Double, freeAgents: Int, busyAgents: Int, dnc: Set<String>)
        /// Preview: an agent asks for its next record.
        case nextPreview(agent: String, now: Double, dnc: Set<String>)
        case previewDial(record: Int)
        case previewSkip(record: Int, reason: String)
        /// An attempt ended; `ring`: seconds it rang before the answer.
        case outcome(record: Int, Outcome, now: Double, ring: Double)
        /// A connected call's handle time (talk + wrap-up), for the pacing.
        case handled(seconds: Double)
    }
    public enum Action: Sendable, Equatable {
        case dial(record: Int, number: String, callerID: String, attempt: Int)
        case preview(agent: String, record: Int, number: String, fields: [String: String])
        case refused(record: Int, number: String, reason: String)
        case attempt(record: Int, number: String, attempt: Int, outcome: Outcome, detail: String)
        case finished
        case refuse(String)
    }

    public let settings: Settings
    public private(set) var state: State = .created
    public private(set) var records: [Record]
    public private(set) var measured = Pacer.Measured()
    public var pacer: Pacer { Pacer(mode: settings.mode, abandonCap: settings.abandonCap) }
    public var ringing: Int { records.filter(\.ringing).count }

    public init(settings: Settings, list: [CallListEntry]) {
        self.settings = settings
        records = list.enumerated().map { Record(id: $0.offset, entry: $0.element) }
    }

    /// A campaign as it was stored: its numbers' progress (none ringing any more) and its state.
    init(settings: Settings, records: [Record], state: State) {
        self.settings = settings
        self.records = records.map { var r = $0; r.ringing = false; return r }
        self.state = state
    }

    /// Whether `t` is inside the calling window in the callee's local time.
    public func inWindow(_ r: Record, at t: Double) -> Bool {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: r.entry.timezone ?? settings.timezone) ?? .current
        let d = cal.dateComponents([.hour, .minute, .weekday], from: Date(timeIntervalSince1970: t))
        let minute = (d.hour ?? 0) * 60 + (d.minute ?? 0)
        return settings.days.contains(d.weekday ?? 0) && minute >= settings.windowStart && minute < settings.windowEnd
    }

    func due(_ r: Record, at t: Double) -> Bool { !r.done && !r.ringing && r.nextAt <= t && inWindow(r, at: t) }

    public mutating func handle(_ e: Event) -> [Action] {
        switch (state, e) {
        case (.created, .start), (.paused, .resume):
            state = .running
            return []
        case (.running, .pause):
            state = .paused
            return []
        case (.created, .stop), (.running, .stop), (.paused, .stop):
            state = .stopped
            return []
        case (_, .start), (_, .pause), (_, .resume), (_, .stop):
            return [.refuse("the campaign is \(state.rawValue)")]

        case (.running, .tick(let now, let free, let busy, let dnc)):
            guard settings.mode != .preview else { return [] }
            var n = pacer.toDial(Pacer.Now(freeAgents: free, busyAgents: busy, ringing: ringing), measured)
            var a: [Action] = []
            var i = 0
            while n > 0, i < records.count {
                defer { i += 1 }
                guard due(records[i], at: now) else { continue }
                if let refused = refuseIfBlocked(i, dnc) { a.append(refused); continue }
                a.append(dial(i))
                n -= 1
            }
            return a + finishedIfDone()
        case (_, .tick):
            return []

        case (.running, .nextPreview(let agent, let now, let dnc)):
            guard settings.mode == .preview else { return [.refuse("not a preview campaign")] }
            var a: [Action] = []
            for i in records.indices where due(records[i], at: now) {
                if let refused = refuseIfBlocked(i, dnc) { a.append(refused); continue }
                records[i].ringing = true   // held for this agent until dialled or skipped
                return a + [.preview(agent: agent, record: i, number: records[i].entry.number, fields: records[i].entry.fields)]
            }
            return a + [.refuse("no number is due now")] + finishedIfDone()
        case (_, .nextPreview):
            return [.refuse("the campaign is \(state.rawValue)")]
        case (_, .previewDial(let i)):
            guard records.indices.contains(i), records[i].ringing else { return [.refuse("no such record in preview")] }
            guard state == .running else { records[i].ringing = false; return [.refuse("the campaign is \(state.rawValue)")] }
            records[i].ringing = false
            return [dial(i)]
        case (_, .previewSkip(let i, let reason)):
            guard records.indices.contains(i), records[i].ringing else { return [.refuse("no such record in preview")] }
            records[i].ringing = false
            records[i].done = true
            records[i].lastOutcome = .skipped
            return [.attempt(record: i, number: records[i].entry.number, attempt: records[i].attempts, outcome: .skipped, detail: reason)] + finishedIfDone()

        case (_, .outcome(let i, let outcome, let now, let ring)):
            guard records.indices.contains(i), records[i].ringing else { return [] }
            records[i].ringing = false
            records[i].lastOutcome = outcome
            measured.attempts += 1
            if outcome == .answered || outcome == .abandoned {
                measured.answered += 1
                measured.ringSeconds += ring
            }
            if outcome == .abandoned { measured.abandoned += 1 }
            if let rule = settings.retries[outcome], records[i].attempts < rule.maxAttempts {
                records[i].nextAt = now + rule.afterSeconds
            } else {
                records[i].done = true
            }
            return [.attempt(record: i, number: records[i].entry.number, attempt: records[i].attempts, outcome: outcome, detail: "")] + finishedIfDone()
        case (_, .handled(let seconds)):
            measured.handled += 1
            measured.handleSeconds += seconds
            return []
        }
    }

    private mutating func dial(_ i: Int) -> Action {
        records[i].attempts += 1
        records[i].ringing = true
        return .dial(record: i, number: records[i].entry.number, callerID: settings.callerID, attempt: records[i].attempts)
    }

    private mutating func refuseIfBlocked(_ i: Int, _ dnc: Set<String>) -> Action? {
        let n = records[i].entry.number
        guard dnc.contains(n) || dnc.contains(n.hasPrefix("+") ? String(n.dropFirst()) : "+" + n) else { return nil }
        records[i].done = true
        records[i].lastOutcome = .dnc
        return .refused(record: i, number: n, reason: "do-not-call")
    }

    private mutating func finishedIfDone() -> [Action] {
        guard state == .running || state == .paused, records.allSatisfy({ $0.done }) else { return [] }
        state = .finished
        return [.finished]
    }
}
