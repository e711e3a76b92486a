import Foundation

/// One call running a flow: a value type that takes events (a prompt finished, digits
/// collected, a lookup answered …) and returns actions for the host to carry out (CT-Server
/// commands, database look-ups). No I/O here, no threads: thousands of calls cost nothing but
/// their state. Every node entered is logged with its time (it feeds the call's record).
public struct FlowRun: Sendable {
    public enum Action: Sendable, Equatable {
        case play(items: [String], bargeIn: Bool, tag: UInt32)
        case collect(min: Int, max: Int, terminators: String, firstDigitTimeoutMs: Int, interDigitTimeoutMs: Int, tag: UInt32)
        case record(name: String, maxMs: Int, silenceMs: Int, terminators: String, beep: Bool, tag: UInt32)
        /// Look the customer up by phone number or account (answer with `.lookedUp`).
        case lookup(phone: String?, account: String?)
        /// Blind-transfer the call (answer with `.transferred`).
        case transfer(target: String)
        /// Load a flow by name (answer with `.flowLoaded`).
        case loadFlow(name: String)
        case hangup(cause: String)
        /// Put the call in an ACD queue (answer with `.queueOutcome` when it comes back to the flow).
        case enqueue(FlowNode.Queue, variables: [String: String])
        /// Register a callback request for `number` in `queue` (answer with `.callbackRegistered`).
        case callback(queue: String, number: String, priority: Int, variables: [String: String])
        /// Dial out (answer with `.originated`, and for a bridged call `.farEndCleared` later).
        case originate(FlowNode.Originate, to: String, callerID: String)
        /// Store a call to `to` at `due` (Unix seconds) running `flow` (answer with `.scheduled`).
        case schedule(to: String, due: Double, flow: String, variables: [String: String])
    }

    /// How a queued call came back to its flow.
    public enum QueueOutcome: Sendable, Equatable {
        case timeout, noAgents
        /// An agent returned the caller to the flow (人工在线帮助), at `node` or the queue node's `returned`.
        case returned(node: String?, variables: [String: String])
    }

    public enum Event: Sendable {
        case playDone(tag: UInt32, reason: String)
        case digitsCollected(tag: UInt32, digits: String, reason: String)
        case recordDone(tag: UInt32, path: String, reason: String)
        case lookedUp([String: String]?)
        case transferred(ok: Bool)
        case flowLoaded(FlowDefinition?, version: Int)
        case queueOutcome(QueueOutcome)
        case callbackRegistered(ok: Bool)
        case originated(ok: Bool)
        case scheduled(ok: Bool)
        /// The party of a bridged originate hung up.
        case farEndCleared
    }

    public struct Step: Sendable, Equatable {
        public var at: Double
        public var flow: String
        public var version: Int
        public var node: String
    }

    /// Time, calendar and the call: what conditions look at.
    public struct Environment: Sendable {
        public var caller: String
        public var called: String
        public var now: @Sendable () -> Date
        public var timeZone: TimeZone
        /// Holiday dates as yyyy-MM-dd in `timeZone`.
        public var holidays: Set<String>
        public init(caller: String, called: String, now: @escaping @Sendable () -> Date = { Date() }, timeZone: TimeZone = .current, holidays: Set<String> = []) {
            self.caller = caller
            self.called = called
            self.now = now
            self.timeZone = timeZone
            self.holidays = holidays
        }
    }

    private struct Frame: Sendable {
        var flow: FlowDefinition
        var version: Int
        var returnTo: String?
    }

    private enum Waiting: Sendable, Equatable {
        case nothing, play(UInt32), menu(UInt32), collect(UInt32), record(UInt32), lookup, transfer, flow(subflow: Bool), queue, callback, originate, bridged, schedule
    }

    public private(set) var variables: [String: String]
    public private(set) var trace: [Step] = []
    public private(set) var finished = false
    public var environment: Environment { env }
    public private(set) var current: String
    private var stack: [Frame]
    private var waiting: Waiting = .nothing
    private var attempts = 0
    private var nextTag: UInt32 = 1
    private let env: Environment

    /// `carried`: the call's variables from the flow it came from (a transfer from an agent).
    public init(flow: FlowDefinition, version: Int, environment: Environment, carried: [String: String] = [:]) {
        stack = [Frame(flow: flow, version: version, returnTo: nil)]
        current = flow.start
        env = environment
        variables = flow.variables.merging(carried) { _, c in c }
        variables["caller"] = environment.caller
        variables["called"] = environment.called
    }

    public var flowName: String { stack.last?.flow.name ?? "" }
    /// Whether the run waits in an ACD queue or with an agent (the call is the ACD's until it comes back).
    public var inQueue: Bool { waiting == .queue }
    public var flowVersion: Int { stack.last?.version ?? 0 }

    public mutating func start() -> [Action] { enter(current) }

    /// Continues at `node` (a call handed over from another Flow-Server, resumed at its safe point).
    public mutating func resume(at node: String) -> [Action] {
        guard stack.last?.flow.nodes[node] != nil else { return finish("no node \(node) in \(flowName)") }
        return enter(node)
    }

    // MARK: events

    public mutating func handle(_ event: Event) -> [Action] {
        guard !finished, let node = stack.last?.flow.nodes[current] else { return [] }
        switch (event, waiting, node.kind) {
        case (.playDone(let tag, _), .play(let t), .play(_, _, let next)) where tag == t:
            return advance(to: next)
        case (.digitsCollected(let tag, let digits, _), .menu(let t), .menu(let m)) where tag == t:
            if let d = digits.first, let target = m.options[String(d)] { return advance(to: target) }
            return retry(m.retries, prompts: digits.isEmpty ? m.noInput : m.invalid, failure: m.failure)
        case (.digitsCollected(let tag, let digits, let reason), .collect(let t), .collect(let c)) where tag == t:
            let ok = digits.count >= c.minDigits && reason != "too-short" && (digits.isEmpty ? c.minDigits == 0 : true)
                && (c.pattern.map { Self.fullMatch($0, digits) } ?? true)
            if ok {
                variables[c.variable] = digits
                return advance(to: c.next)
            }
            return retry(c.retries, prompts: c.invalid, failure: c.failure)
        case (.recordDone(let tag, let path, _), .record(let t), .record(let into, _, _, _, _, let next)) where tag == t:
            variables[into] = path
            return advance(to: next)
        case (.lookedUp(let fields), .lookup, .lookup(_, let found, let notFound)):
            guard let fields else { return advance(to: notFound) }
            for (k, v) in fields { variables["customer.\(k)"] = v }
            return advance(to: found)
        case (.transferred(let ok), .transfer, .transfer(_, _, let failure)):
            if ok {
                finished = true
                waiting = .nothing
                return []
            }
            guard let failure else { return finish("transfer failed") }
            return advance(to: failure)
        case (.queueOutcome(let outcome), .queue, .queue(let q)):
            switch outcome {
            case .timeout: return q.timeout.map { advance(to: $0) } ?? finish("queue wait ended")
            case .noAgents: return q.noAgents.map { advance(to: $0) } ?? finish("no agents")
            case .returned(let node, let vars):
                for (k, v) in vars { variables[k] = v }
                guard let target = node ?? q.returned, stack.last?.flow.nodes[target] != nil else { return finish("returned from agent") }
                return advance(to: target)
            }
        case (.callbackRegistered(let ok), .callback, .callback(_, _, _, let next, let failure)):
            return advance(to: ok ? next : failure)
        case (.scheduled(let ok), .schedule, .schedule(let s)):
            return advance(to: ok ? s.next : s.failure)
        case (.originated(let ok), .originate, .originate(let o)):
            guard ok else { return advance(to: o.failure) }
            if o.bridge {
                waiting = .bridged
                return []
            }
            return advance(to: o.next)
        case (.farEndCleared, .bridged, .originate(let o)):
            return advance(to: o.next)
        case (.flowLoaded(let def, let version), .flow(let subflow), _):
            guard let def else { return finish("flow not found") }
            let returnTo: String?
            if case .subflow(_, let next) = node.kind, subflow { returnTo = next } else { returnTo = nil }
            if !subflow { stack.removeLast() }
            stack.append(Frame(flow: def, version: version, returnTo: returnTo))
            waiting = .nothing
            return enter(def.start)
        default:
            return []   // not what this node waits for (a late event of an earlier node)
        }
    }

    // MARK: running nodes

    private mutating func advance(to id: String) -> [Action] {
        attempts = 0
        return enter(id)
    }

    private mutating func retry(_ retries: Int, prompts: [String], failure: String) -> [Action] {
        attempts += 1
        guard attempts <= retries else { return advance(to: failure) }
        var actions = runNode(current, again: true).actions
        guard !prompts.isEmpty else { return actions }
        // One PlayMedia: "invalid choice" / "no input", then the node's own prompt. Two would not
        // do — the CT-Server replaces a playing prompt with the next one, so the first was never heard.
        let sorry = prompts.map(interpolate)
        if case .play(let items, let bargeIn, let t)? = actions.first {
            actions[0] = .play(items: sorry + items, bargeIn: bargeIn, tag: t)
        } else {
            actions.insert(.play(items: sorry, bargeIn: false, tag: tag()), at: 0)
        }
        return actions
    }

    private mutating func tag() -> UInt32 {
        defer { nextTag &+= 1 }
        return nextTag
    }

    private mutating func finish(_ cause: String) -> [Action] {
        finished = true
        waiting = .nothing
        return [.hangup(cause: cause)]
    }

    /// Enters a node and runs it, following nodes that need no input (at most 1,000 steps).
    private mutating func enter(_ id: String) -> [Action] {
        var id = id
        var actions: [Action] = []
        for _ in 0..<1000 {
            current = id
            let r = runNode(id, again: false)
            actions += r.actions
            guard let next = r.next else { return actions }
            id = next
        }
        return actions + finish("flow looped without input")
    }

    /// Runs one node: its actions, and the next node when it does not wait.
    private mutating func runNode(_ id: String, again: Bool) -> (actions: [Action], next: String?) {
        guard let frame = stack.last else { return ([], nil) }
        guard let node = frame.flow.nodes[id] else {
            // Past the end of a subflow: return to the caller's node.
            return ([], nil)
        }
        if !again { trace.append(Step(at: env.now().timeIntervalSince1970, flow: frame.flow.name, version: frame.version, node: id)) }
        switch node.kind {
        case .play(let prompts, let bargeIn, _):
            let t = tag()
            waiting = .play(t)
            return ([.play(items: prompts.map(interpolate), bargeIn: bargeIn, tag: t)], nil)
        case .menu(let m):
            let t = tag()
            waiting = .menu(t)
            var a: [Action] = []
            if !m.prompt.isEmpty { a.append(.play(items: m.prompt.map(interpolate), bargeIn: true, tag: tag())) }
            a.append(.collect(min: 1, max: 1, terminators: "", firstDigitTimeoutMs: m.timeoutMs, interDigitTimeoutMs: m.timeoutMs, tag: t))
            return (a, nil)
        case .collect(let c):
            let t = tag()
            waiting = .collect(t)
            var a: [Action] = []
            if !c.prompt.isEmpty { a.append(.play(items: c.prompt.map(interpolate), bargeIn: true, tag: tag())) }
            a.append(.collect(min: c.minDigits, max: c.maxDigits, terminators: c.terminators, firstDigitTimeoutMs: c.firstDigitTimeoutMs,
                              interDigitTimeoutMs: c.interDigitTimeoutMs, tag: t))
            return (a, nil)
        case .choose(let cases, let otherwise):
            waiting = .nothing
            return ([], cases.first { holds($0.condition) }?.next ?? otherwise)
        case .set(let values, let next):
            for (k, v) in values { variables[k] = interpolate(v) }
            return ([], next)
        case .lookup(let by, _, _):
            waiting = .lookup
            if let by { return ([.lookup(phone: nil, account: variables[by] ?? "")], nil) }
            return ([.lookup(phone: env.caller, account: nil)], nil)
        case .record(_, let maxMs, let silenceMs, let terminators, let beep, _):
            let t = tag()
            waiting = .record(t)
            return ([.record(name: "\(frame.flow.name)-\(Int(env.now().timeIntervalSince1970 * 1000))-\(t)", maxMs: maxMs, silenceMs: silenceMs,
                             terminators: terminators, beep: beep, tag: t)], nil)
        case .transfer(let number, let flow, _):
            if let flow {
                waiting = .flow(subflow: false)
                return ([.loadFlow(name: flow)], nil)
            }
            waiting = .transfer
            return ([.transfer(target: interpolate(number ?? ""))], nil)
        case .subflow(let flow, _):
            waiting = .flow(subflow: true)
            return ([.loadFlow(name: flow)], nil)
        case .goto(let next):
            return ([], next)
        case .queue(let q):
            waiting = .queue
            return ([.enqueue(q, variables: variables)], nil)
        case .callback(let queue, let numberVariable, let priority, _, _):
            waiting = .callback
            let number = numberVariable.map { variables[$0] ?? "" } ?? env.caller
            return ([.callback(queue: queue, number: number, priority: priority, variables: variables)], nil)
        case .originate(let o):
            waiting = .originate
            return ([.originate(o, to: interpolate(o.to), callerID: interpolate(o.callerID ?? env.called))], nil)
        case .schedule(let s):
            let now = env.now().timeIntervalSince1970
            guard let due = s.inSeconds.map({ now + Double($0) }) ?? s.at.flatMap({ ScheduleTime.parse(interpolate($0), now: now, timeZone: env.timeZone) }) else {
                return ([], s.failure)
            }
            waiting = .schedule
            return ([.schedule(to: interpolate(s.to), due: due, flow: s.flow, variables: variables)], nil)
        case .hangup(let cause):
            if stack.count > 1, let back = stack.last?.returnTo {
                // The end of a subflow returns to the flow that called it.
                stack.removeLast()
                return ([], back)
            }
            return (finish(cause), nil)
        }
    }

    // MARK: conditions and text

    func holds(_ c: Condition) -> Bool { c.holds(variables: variables, environment: env) }

    static func fullMatch(_ pattern: String, _ s: String) -> Bool {
        guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return false }
        return re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// Replaces ${name} with the variable's value (empty when unset).
    func interpolate(_ text: String) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { out += rest[open.lowerBound...]; return out }
            out += variables[String(rest[open.upperBound..<close])] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
