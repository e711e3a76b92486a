import Foundation

/// A flow: a named graph of nodes that drives a call (docs/flows.md). Flows are data: they are
/// parsed and validated from YAML (FlowParser), versioned when published, and run by FlowRun.
public struct FlowDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    public var start: String
    /// Initial values of the call's variables.
    public var variables: [String: String]
    public var nodes: [String: FlowNode]
    /// Node ids in file order (for listings and graphs).
    public var order: [String]
    /// Calls that run this flow are recorded by this policy from the flow's start (IVR calls).
    public var recording: RecordingPolicy? = nil
}

public struct FlowNode: Sendable, Equatable {
    public var id: String
    public var kind: Kind
    public var line: Int
    public var column: Int

    public enum Kind: Sendable, Equatable {
        /// Play prompts (file:, tts:VOICE:TEXT with ${variables}, tone:, silence:), then go on.
        case play(prompts: [String], bargeIn: Bool, next: String)
        /// Prompt, one digit → branch; invalid or no input replays up to `retries` times, then `failure`.
        case menu(Menu)
        /// Digits into a variable, checked against a pattern, with retries.
        case collect(Collect)
        /// The first case whose condition holds, else `otherwise`.
        case choose(cases: [SwitchCase], otherwise: String)
        /// Assign variables (values may use ${variables}).
        case set(values: [(String, String)], next: String)
        /// Find the customer by the calling number or by a variable; fills customer.* variables.
        case lookup(by: String?, found: String, notFound: String)
        /// Record a message (voicemail-style) into the variable `into` (its path).
        case record(into: String, maxMs: Int, silenceMs: Int, terminators: String, beep: Bool, next: String)
        /// Blind transfer to a number or SIP URI (the call leaves the flow), or to another flow.
        case transfer(toNumber: String?, toFlow: String?, failure: String?)
        case subflow(flow: String, next: String)
        /// Into an ACD queue (or an agent's personal queue, "agent/CODE"); waits there for an agent.
        case queue(Queue)
        /// Offer a call back instead of waiting: the number goes into the queue as a callback
        /// request; an agent who takes it is connected to the number by an outbound call.
        case callback(queue: String, numberVariable: String?, priority: Int, next: String, failure: String)
        /// An outbound call (the seed's 呼出功能): bridged to this caller, or running a flow for the
        /// called party on its own.
        case originate(Originate)
        /// A call the system places by itself later (seed 设置摘机通知: reminders, wake-up
        /// calls): `to` at `at` (HH:MM local, next occurrence, or YYYY-MM-DDTHH:MM) or in
        /// `inSeconds`, running `flow` when answered; stored, so it survives a restart.
        case schedule(Schedule)
        case goto(String)
        case hangup(cause: String)

        public static func == (a: Kind, b: Kind) -> Bool { "\(a)" == "\(b)" }
    }

    public struct Menu: Sendable, Equatable {
        public var prompt: [String]
        public var options: [String: String]
        public var retries: Int
        public var timeoutMs: Int
        public var invalid: [String]
        public var noInput: [String]
        public var failure: String
    }

    public struct Collect: Sendable, Equatable {
        public var prompt: [String]
        public var variable: String
        public var minDigits: Int
        public var maxDigits: Int
        public var terminators: String
        public var firstDigitTimeoutMs: Int
        public var interDigitTimeoutMs: Int
        public var pattern: String?
        public var retries: Int
        public var invalid: [String]
        public var next: String
        public var failure: String
    }

    public struct Queue: Sendable, Equatable {
        public var queue: String
        public var priority: Int
        /// Extra skills this call needs (skill → minimum level), on top of the queue's.
        public var skills: [String: Int]
        public var maxWaitSeconds: Int?
        /// What the caller hears while waiting (looped).
        public var music: [String]
        /// Spoken every `announceEverySeconds` (may use ${queue.position} and ${queue.wait_minutes}).
        public var announce: [String]
        public var announceEverySeconds: Int
        /// Where the call goes when the maximum wait passes, when nobody serving the queue is
        /// logged in, and when an agent returns the caller to the flow.
        public var timeout: String?
        public var noAgents: String?
        public var returned: String?
    }

    public struct Originate: Sendable, Equatable {
        public var to: String
        public var callerID: String?
        public var trunk: String?
        public var timeoutMs: Int
        /// true: the caller is connected to the called party; `next` follows when the called party hangs up.
        public var bridge: Bool
        /// bridge false: the flow the called party hears.
        public var flow: String?
        public var next: String
        public var failure: String
    }

    public struct Schedule: Sendable, Equatable {
        public var to: String
        public var at: String?
        public var inSeconds: Int?
        public var flow: String
        public var next: String
        public var failure: String
    }

    public struct SwitchCase: Sendable, Equatable {
        public var condition: Condition
        public var next: String
    }

    /// Successor node ids (for validation and graphs).
    public var successors: [String] {
        switch kind {
        case .play(_, _, let n), .set(_, let n), .record(_, _, _, _, _, let n), .subflow(_, let n), .goto(let n): return [n]
        case .menu(let m): return Array(m.options.values.sorted()) + [m.failure]
        case .collect(let c): return [c.next, c.failure]
        case .choose(let cases, let otherwise): return cases.map(\.next) + [otherwise]
        case .lookup(_, let f, let nf): return [f, nf]
        case .transfer(_, _, let failure): return failure.map { [$0] } ?? []
        case .queue(let q): return [q.timeout, q.noAgents, q.returned].compactMap { $0 }
        case .callback(_, _, _, let n, let f): return [n, f]
        case .originate(let o): return [o.next, o.failure]
        case .schedule(let s): return [s.next, s.failure]
        case .hangup: return []
        }
    }

    /// Whether the node waits for the caller (a loop through it cannot spin).
    public var waitsForInput: Bool {
        switch kind {
        case .menu, .collect, .record, .queue, .originate: return true
        case .play(let prompts, _, _): return !prompts.isEmpty
        default: return false
        }
    }
}

/// Conditions of a `switch` case; all given parts must hold.
public struct Condition: Sendable, Equatable {
    public var variable: String?
    public var equals: String?
    public var notEquals: String?
    public var oneOf: [String]?
    public var matches: String?
    public var callerPrefix: [String]?
    public var calledIs: [String]?
    /// "HH:MM-HH:MM" local time.
    public var time: String?
    /// mon … sun
    public var weekdays: [String]?
    /// true: today is in the holiday calendar; false: it is not.
    public var holiday: Bool?

    public init(time: String? = nil, weekdays: [String]? = nil) {
        self.time = time
        self.weekdays = weekdays
    }
}

extension Condition {
    public func holds(variables: [String: String], environment env: FlowRun.Environment) -> Bool {
        let c = self
        if let v = c.variable {
            let value = variables[v] ?? ""
            if let e = c.equals, value != e { return false }
            if let ne = c.notEquals, value == ne { return false }
            if let set = c.oneOf, !set.contains(value) { return false }
            if let re = c.matches, !FlowRun.fullMatch(re, value) { return false }
        }
        if let prefixes = c.callerPrefix, !prefixes.contains(where: { env.caller.hasPrefix($0) }) { return false }
        if let called = c.calledIs, !called.contains(env.called) { return false }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = env.timeZone
        let now = env.now()
        if let t = c.time, let (a, b) = Condition.minutes(t) {
            let parts = cal.dateComponents([.hour, .minute], from: now)
            let m = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
            let inside = a <= b ? (m >= a && m < b) : (m >= a || m < b)   // ranges may pass midnight
            if !inside { return false }
        }
        if let days = c.weekdays {
            let wd = FlowParser.weekdayNames[(cal.component(.weekday, from: now) - 1) % 7]
            if !days.contains(wd) { return false }
        }
        if let h = c.holiday {
            let f = DateFormatter()
            f.calendar = cal
            f.timeZone = env.timeZone
            f.dateFormat = "yyyy-MM-dd"
            if env.holidays.contains(f.string(from: now)) != h { return false }
        }
        return true
    }

}
