import Protocol
import Foundation
import Yams

/// One problem in a flow file, with where it is.
public struct FlowError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

public struct FlowErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [FlowError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Reads and validates a flow (docs/flows.md). Every problem is reported with its line and
/// column, and a flow with any problem is refused as a whole.
public struct FlowParser {
    /// Is there a prompt file with this name (for `file:` prompts)? nil skips the check.
    public var promptExists: ((String) -> Bool)?
    /// Is there a published flow with this name (for subflow and transfer to a flow)? nil skips it.
    public var flowExists: ((String) -> Bool)?

    public init(promptExists: ((String) -> Bool)? = nil, flowExists: ((String) -> Bool)? = nil) {
        self.promptExists = promptExists
        self.flowExists = flowExists
    }

    static let kinds: [String: Set<String>] = [
        "play": ["prompts", "barge_in", "next"],
        "menu": ["prompt", "options", "retries", "timeout_ms", "invalid", "no_input", "failure"],
        "collect": ["prompt", "variable", "min", "max", "terminators", "first_digit_timeout_ms", "inter_digit_timeout_ms", "pattern",
                    "retries", "invalid", "next", "failure"],
        "switch": ["cases", "default"],
        "set": ["values", "next"],
        "lookup": ["by", "found", "not_found"],
        "record": ["into", "max_ms", "silence_ms", "terminators", "beep", "next"],
        "transfer": ["to", "flow", "agent", "failure"],
        "queue": ["queue", "priority", "skills", "max_wait_seconds", "music", "announce", "announce_every_seconds", "timeout", "no_agents", "returned"],
        "callback": ["queue", "number", "priority", "next", "failure"],
        "schedule": ["to", "at", "in_seconds", "flow", "next", "failure"],
        "originate": ["to", "caller_id", "trunk", "timeout_ms", "bridge", "flow", "next", "failure"],
        "subflow": ["flow", "next"],
        "goto": ["to"],
        "hangup": ["cause"],
    ]
    static let laterKinds: [String: String] = [:]
    static let conditionKeys: Set<String> = ["variable", "equals", "not_equals", "one_of", "matches", "caller_prefix", "called", "time", "weekdays", "holiday"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public func parse(_ text: String) -> Result<FlowDefinition, FlowErrors> {
        let root: Node
        do {
            try YAMLLimits.check(text)
            guard let n = try Yams.compose(yaml: text) else { return .failure(FlowErrors(errors: [FlowError(line: 1, column: 1, message: "the file is empty")])) }
            root = n
        } catch let e as YAMLLimits.Violation {
            return .failure(FlowErrors(errors: [FlowError(line: e.line, column: 1, message: e.message)]))
        } catch let e as YamlError {
            return .failure(FlowErrors(errors: [Self.yamlError(e)]))
        } catch {
            return .failure(FlowErrors(errors: [FlowError(line: 1, column: 1, message: "\(error)")]))
        }
        var ctx = Context(parser: self)
        let def = ctx.flow(root)
        if let def, ctx.errors.isEmpty { ctx.checkGraph(def) }
        guard let def, ctx.errors.isEmpty else {
            return .failure(FlowErrors(errors: ctx.errors.sorted { ($0.line, $0.column) < ($1.line, $1.column) }))
        }
        return .success(def)
    }

    static func yamlError(_ e: YamlError) -> FlowError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return FlowError(line: mark.line, column: mark.column, message: "YAML: \(problem)")
        default:
            return FlowError(line: 1, column: 1, message: "YAML: \(e)")
        }
    }

    struct Context {
        let parser: FlowParser
        var errors: [FlowError] = []

        mutating func error(_ node: Node?, _ message: String) {
            errors.append(FlowError(line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
        }

        func pairs(_ n: Node) -> [(String, Node, Node)] {
            guard case .mapping(let m) = n else { return [] }
            return m.map { ($0.key.string ?? "", $0.key, $0.value) }
        }

        mutating func string(_ n: Node?, _ what: String) -> String? {
            guard let n else { return nil }
            guard case .scalar(let s) = n else { error(n, "\(what) must be text"); return nil }
            return s.string
        }

        mutating func int(_ n: Node?, _ what: String, default d: Int, range: ClosedRange<Int>) -> Int {
            guard let n else { return d }
            guard let v = Int(n.string ?? "") else { error(n, "\(what) must be a whole number"); return d }
            guard range.contains(v) else { error(n, "\(what) must be within \(range.lowerBound)…\(range.upperBound)"); return d }
            return v
        }

        mutating func bool(_ n: Node?, _ what: String, default d: Bool) -> Bool {
            guard let n else { return d }
            switch (n.string ?? "").lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: error(n, "\(what) must be true or false"); return d
            }
        }

        /// A prompt list: one item or a sequence of items.
        mutating func prompts(_ n: Node?, _ what: String) -> [String] {
            guard let n else { return [] }
            var items: [(String, Node)] = []
            switch n {
            case .scalar(let s): items = [(s.string, n)]
            case .sequence(let seq): for e in seq { if let s = string(e, what) { items.append((s, e)) } }
            default: error(n, "\(what) must be a prompt or a list of prompts")
            }
            for (p, node) in items {
                let kind = p.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                switch kind {
                case "file":
                    let name = String(p.dropFirst(5))
                    if name.isEmpty || name.contains("..") { error(node, "\(what): bad prompt file \(name)") }
                    else if !name.contains("${"), let exists = parser.promptExists, !exists(name) { error(node, "\(what): prompt file \(name) is missing") }
                case "tts":
                    if p.split(separator: ":", maxSplits: 2).count < 3 { error(node, "\(what): tts prompts are tts:VOICE:TEXT") }
                case "tone", "silence": break
                default: error(node, "\(what): \(p) is not a prompt (file:, tts:, tone:, silence:)")
                }
            }
            return items.map(\.0)
        }

        mutating func flow(_ root: Node) -> FlowDefinition? {
            guard case .mapping = root else { error(root, "a flow is a mapping with flow, start and nodes"); return nil }
            var name: String?, description = "", start: String?, variables: [String: String] = [:]
            var nodes: [String: FlowNode] = [:], order: [String] = []
            var nodesNode: Node?
            var recording: RecordingPolicy?
            for (key, keyNode, value) in pairs(root) {
                switch key {
                case "flow": name = string(value, "flow")
                case "description": description = string(value, "description") ?? ""
                case "start": start = string(value, "start")
                case "variables":
                    for (k, kn, v) in pairs(value) {
                        guard Self.validName(k) else { error(kn, "variable name \(k) must be letters, digits, _ and ."); continue }
                        variables[k] = string(v, "variable \(k)") ?? ""
                    }
                case "nodes": nodesNode = value
                case "recording":
                    do { recording = try RecordingPolicy.parse(value, owner: "flow") { n, m in PolicyError(node: n, message: m) } }
                    catch let e as PolicyError { error(e.node ?? value, e.message) }
                    catch {}
                default: error(keyNode, "unknown field \(key) (flow, description, start, variables, recording, nodes)")
                }
            }
            if name == nil { error(root, "the flow has no name (flow:)") }
            if let n = name, !Self.validName(n) { error(root["flow"], "flow name \(n) must be letters, digits, _, - and .") }
            if start == nil { error(root, "the flow has no start node (start:)") }
            guard let nodesNode, case .mapping = nodesNode else { error(nodesNode ?? root, "nodes: must map node ids to nodes"); return nil }
            for (id, idNode, body) in pairs(nodesNode) {
                guard Self.validName(id) else { error(idNode, "node id \(id) must be letters, digits, _ and -"); continue }
                if nodes[id] != nil { error(idNode, "node \(id) is defined twice"); continue }
                if let n = node(id, body, at: idNode) {
                    nodes[id] = n
                    order.append(id)
                }
            }
            if let s = start, nodes[s] == nil, errors.isEmpty { error(root["start"], "start node \(s) does not exist") }
            guard let name, let start else { return nil }
            return FlowDefinition(name: name, description: description, start: start, variables: variables, nodes: nodes, order: order, recording: recording)
        }

        struct PolicyError: Error { var node: Node?; var message: String }

        static func validQueue(_ s: String) -> Bool {
            !s.isEmpty && s.count <= 64 && s.allSatisfy { $0.isLetter || $0.isNumber || "-_./".contains($0) }
        }

        static func validName(_ s: String) -> Bool {
            !s.isEmpty && s.count <= 100 && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
        }

        mutating func node(_ id: String, _ body: Node, at idNode: Node) -> FlowNode? {
            guard case .mapping = body else { error(body, "node \(id) must be a mapping with a type"); return nil }
            guard let typeNode = body["type"], let type = typeNode.string else { error(body, "node \(id) has no type"); return nil }
            if let later = FlowParser.laterKinds[type] { error(typeNode, "node \(id): type \(type) needs \(later), which this Flow-Server does not have yet"); return nil }
            guard let allowed = FlowParser.kinds[type] else {
                error(typeNode, "node \(id): unknown type \(type) (\(FlowParser.kinds.keys.sorted().joined(separator: ", ")))")
                return nil
            }
            for (k, kn, _) in pairs(body) where k != "type" && !allowed.contains(k) {
                error(kn, "node \(id): unknown field \(k) for a \(type) node (\(allowed.sorted().joined(separator: ", ")))")
            }
            func req(_ key: String) -> String? {
                guard let v = body[key] else { error(body, "node \(id): \(type) needs \(key)"); return nil }
                return string(v, "node \(id): \(key)")
            }
            let line = idNode.mark?.line ?? 1, column = idNode.mark?.column ?? 1
            let kind: FlowNode.Kind
            switch type {
            case "play":
                let p = prompts(body["prompts"], "node \(id): prompts")
                if p.isEmpty { error(body, "node \(id): play needs prompts") }
                kind = .play(prompts: p, bargeIn: bool(body["barge_in"], "barge_in", default: false), next: req("next") ?? "")
            case "menu":
                var options: [String: String] = [:]
                if let o = body["options"] {
                    for (k, kn, v) in pairs(o) {
                        guard k.count == 1, "0123456789*#".contains(k) else { error(kn, "node \(id): menu option \(k) must be one key (0-9, *, #)"); continue }
                        options[k] = string(v, "option \(k)") ?? ""
                    }
                }
                if options.isEmpty { error(body, "node \(id): menu needs options (key: node)") }
                kind = .menu(.init(prompt: prompts(body["prompt"], "node \(id): prompt"), options: options,
                                   retries: int(body["retries"], "retries", default: 2, range: 0...10),
                                   timeoutMs: int(body["timeout_ms"], "timeout_ms", default: 5000, range: 500...120_000),
                                   invalid: prompts(body["invalid"], "node \(id): invalid"), noInput: prompts(body["no_input"], "node \(id): no_input"),
                                   failure: req("failure") ?? ""))
            case "collect":
                let maxDigits = int(body["max"], "max", default: 0, range: 1...64)
                if body["max"] == nil { error(body, "node \(id): collect needs max") }
                let pattern = body["pattern"].flatMap { string($0, "pattern") }
                if let p = pattern, (try? NSRegularExpression(pattern: p)) == nil { error(body["pattern"], "node \(id): pattern is not a regular expression") }
                let variable = req("variable") ?? ""
                if !variable.isEmpty && !Self.validName(variable) { error(body["variable"], "node \(id): bad variable name \(variable)") }
                let minDigits = int(body["min"], "min", default: 1, range: 0...64)
                if body["max"] != nil, minDigits > maxDigits { error(body["min"], "node \(id): min (\(minDigits)) is more than max (\(maxDigits))") }
                kind = .collect(.init(prompt: prompts(body["prompt"], "node \(id): prompt"), variable: variable,
                                      minDigits: minDigits, maxDigits: maxDigits,
                                      terminators: body["terminators"].flatMap { string($0, "terminators") } ?? "#",
                                      firstDigitTimeoutMs: int(body["first_digit_timeout_ms"], "first_digit_timeout_ms", default: 5000, range: 500...120_000),
                                      interDigitTimeoutMs: int(body["inter_digit_timeout_ms"], "inter_digit_timeout_ms", default: 3000, range: 500...60_000),
                                      pattern: pattern, retries: int(body["retries"], "retries", default: 2, range: 0...10),
                                      invalid: prompts(body["invalid"], "node \(id): invalid"), next: req("next") ?? "", failure: req("failure") ?? ""))
            case "switch":
                var cases: [FlowNode.SwitchCase] = []
                if let cs = body["cases"] {
                    guard case .sequence(let seq) = cs else { error(cs, "node \(id): cases must be a list"); return nil }
                    for c in seq {
                        guard let when = c["when"], let next = c["next"]?.string else { error(c, "node \(id): each case needs when and next"); continue }
                        for (k, kn, _) in pairs(c) where k != "when" && k != "next" { error(kn, "node \(id): unknown field \(k) in a case") }
                        if let cond = condition(when, id) { cases.append(.init(condition: cond, next: next)) }
                    }
                }
                kind = .choose(cases: cases, otherwise: req("default") ?? "")
            case "set":
                var values: [(String, String)] = []
                if let v = body["values"] {
                    for (k, kn, val) in pairs(v) {
                        guard Self.validName(k) else { error(kn, "node \(id): bad variable name \(k)"); continue }
                        values.append((k, string(val, "value of \(k)") ?? ""))
                    }
                }
                if values.isEmpty { error(body, "node \(id): set needs values") }
                kind = .set(values: values, next: req("next") ?? "")
            case "lookup":
                kind = .lookup(by: body["by"].flatMap { string($0, "by") }, found: req("found") ?? "", notFound: req("not_found") ?? "")
            case "record":
                kind = .record(into: req("into") ?? "", maxMs: int(body["max_ms"], "max_ms", default: 60_000, range: 1000...3_600_000),
                               silenceMs: int(body["silence_ms"], "silence_ms", default: 5000, range: 0...600_000),
                               terminators: body["terminators"].flatMap { string($0, "terminators") } ?? "#",
                               beep: bool(body["beep"], "beep", default: true), next: req("next") ?? "")
            case "transfer":
                let to = body["to"].flatMap { string($0, "to") }, flow = body["flow"].flatMap { string($0, "flow") }
                let agent = body["agent"].flatMap { string($0, "agent") }
                if [to, flow, agent].compactMap({ $0 }).count != 1 { error(body, "node \(id): transfer needs one of to (a number or sip: URI), flow or agent") }
                if let f = flow, let exists = parser.flowExists, !exists(f) { error(body["flow"], "node \(id): there is no flow \(f)") }
                let failure = body["failure"].flatMap { string($0, "failure") }
                if let agent {
                    // To one agent: the agent's personal queue; when the agent cannot take it, failure.
                    if failure == nil { error(body, "node \(id): transfer to an agent needs failure (where the call goes when the agent cannot take it)") }
                    kind = .queue(.init(queue: "agent/\(agent)", priority: 0, skills: [:], maxWaitSeconds: 30, music: ["tone:ringback"], announce: [],
                                        announceEverySeconds: 0, timeout: failure, noAgents: failure, returned: nil))
                } else {
                    kind = .transfer(toNumber: to, toFlow: flow, failure: failure)
                }
            case "queue":
                let q = req("queue") ?? ""
                if !q.isEmpty && !Self.validQueue(q) { error(body["queue"], "node \(id): bad queue name \(q)") }
                var skills: [String: Int] = [:]
                if let sk = body["skills"] {
                    for (k, kn, v) in pairs(sk) {
                        guard let level = v.int, (1...10).contains(level) else { error(kn, "node \(id): skill \(k) needs a level 1–10"); continue }
                        skills[k] = level
                    }
                }
                let maxWait = body["max_wait_seconds"].map { _ in int(body["max_wait_seconds"], "max_wait_seconds", default: 300, range: 1...86_400) }
                let timeout = body["timeout"].flatMap { string($0, "timeout") }
                if maxWait != nil && timeout == nil { error(body, "node \(id): max_wait_seconds needs timeout (the node after the wait)") }
                let announce = prompts(body["announce"], "node \(id): announce")
                let every = int(body["announce_every_seconds"], "announce_every_seconds", default: announce.isEmpty ? 0 : 30, range: 0...3600)
                if !announce.isEmpty && every < 5 { error(body["announce_every_seconds"], "node \(id): announce_every_seconds is at least 5") }
                var music = prompts(body["music"], "node \(id): music")
                if music.isEmpty { music = ["tone:ringback"] }
                kind = .queue(.init(queue: q, priority: int(body["priority"], "priority", default: 0, range: 0...100), skills: skills,
                                    maxWaitSeconds: maxWait, music: music, announce: announce, announceEverySeconds: every, timeout: timeout,
                                    noAgents: body["no_agents"].flatMap { string($0, "no_agents") }, returned: body["returned"].flatMap { string($0, "returned") }))
            case "callback":
                let q = req("queue") ?? ""
                if !q.isEmpty && !Self.validQueue(q) { error(body["queue"], "node \(id): bad queue name \(q)") }
                let number = body["number"].flatMap { string($0, "number") }
                if let n = number, !Self.validName(n) { error(body["number"], "node \(id): number names a variable (the caller's number when absent)") }
                kind = .callback(queue: q, numberVariable: number, priority: int(body["priority"], "priority", default: 0, range: 0...100),
                                 next: req("next") ?? "", failure: req("failure") ?? "")
            case "schedule":
                let at = body["at"].flatMap { string($0, "at") }
                let inSeconds = body["in_seconds"].map { int($0, "in_seconds", default: 0, range: 1...31_536_000) }
                if (at == nil) == (inSeconds == nil) { error(body, "node \(id): schedule needs at (HH:MM or YYYY-MM-DDTHH:MM) or in_seconds, not both") }
                if let at, !at.contains("${"), ScheduleTime.parse(at, now: 0, timeZone: .current) == nil { error(body["at"], "node \(id): at is HH:MM or YYYY-MM-DDTHH:MM") }
                kind = .schedule(.init(to: req("to") ?? "", at: at, inSeconds: inSeconds, flow: req("flow") ?? "", next: req("next") ?? "", failure: req("failure") ?? ""))
            case "originate":
                let bridge = bool(body["bridge"], "bridge", default: true)
                let flow = body["flow"].flatMap { string($0, "flow") }
                if !bridge && flow == nil { error(body, "node \(id): originate with bridge: false needs flow (what the called party hears)") }
                if bridge && flow != nil { error(body["flow"], "node \(id): flow is for bridge: false") }
                if let f = flow, let exists = parser.flowExists, !exists(f) { error(body["flow"], "node \(id): there is no flow \(f)") }
                kind = .originate(.init(to: req("to") ?? "", callerID: body["caller_id"].flatMap { string($0, "caller_id") },
                                        trunk: body["trunk"].flatMap { string($0, "trunk") },
                                        timeoutMs: int(body["timeout_ms"], "timeout_ms", default: 30_000, range: 1000...300_000),
                                        bridge: bridge, flow: flow, next: req("next") ?? "", failure: req("failure") ?? ""))
            case "subflow":
                let f = req("flow") ?? ""
                if let exists = parser.flowExists, !f.isEmpty, !exists(f) { error(body["flow"], "node \(id): there is no flow \(f)") }
                kind = .subflow(flow: f, next: req("next") ?? "")
            case "goto":
                kind = .goto(req("to") ?? "")
            default:
                kind = .hangup(cause: body["cause"].flatMap { string($0, "cause") } ?? "flow ended")
            }
            return FlowNode(id: id, kind: kind, line: line, column: column)
        }

        mutating func condition(_ n: Node, _ id: String) -> Condition? {
            guard case .mapping = n else { error(n, "node \(id): when must be a mapping of conditions"); return nil }
            var c = Condition()
            func list(_ v: Node) -> [String] {
                if case .sequence(let s) = v { return s.compactMap(\.string) }
                return v.string.map { [$0] } ?? []
            }
            for (k, kn, v) in pairs(n) {
                switch k {
                case "variable": c.variable = v.string
                case "equals": c.equals = v.string
                case "not_equals": c.notEquals = v.string
                case "one_of": c.oneOf = list(v)
                case "matches":
                    c.matches = v.string
                    if (try? NSRegularExpression(pattern: v.string ?? "")) == nil { error(v, "node \(id): matches is not a regular expression") }
                case "caller_prefix": c.callerPrefix = list(v)
                case "called": c.calledIs = list(v)
                case "time":
                    c.time = v.string
                    if Condition.minutes(v.string ?? "") == nil { error(v, "node \(id): time is HH:MM-HH:MM") }
                case "weekdays":
                    c.weekdays = list(v).map { $0.lowercased() }
                    for d in c.weekdays ?? [] where !FlowParser.weekdayNames.contains(d) { error(v, "node \(id): weekday \(d) (sun … sat)") }
                case "holiday": c.holiday = bool(v, "holiday", default: true)
                default: error(kn, "node \(id): unknown condition \(k) (\(FlowParser.conditionKeys.sorted().joined(separator: ", ")))")
                }
            }
            if (c.equals != nil || c.notEquals != nil || c.oneOf != nil || c.matches != nil) && c.variable == nil {
                error(n, "node \(id): equals/not_equals/one_of/matches need variable")
            }
            return c
        }

        /// Dangling branches, unreachable nodes, and loops that can spin without input.
        mutating func checkGraph(_ def: FlowDefinition) {
            for id in def.order {
                guard let n = def.nodes[id] else { continue }
                for s in n.successors where def.nodes[s] == nil {
                    errors.append(FlowError(line: n.line, column: n.column, message: "node \(id) goes to \(s.isEmpty ? "nothing" : s), which does not exist"))
                }
            }
            guard errors.isEmpty else { return }
            var seen: Set<String> = [def.start], stack = [def.start]
            while let id = stack.popLast() {
                for s in def.nodes[id]?.successors ?? [] where !seen.contains(s) {
                    seen.insert(s)
                    stack.append(s)
                }
            }
            for id in def.order where !seen.contains(id) {
                let n = def.nodes[id]!
                errors.append(FlowError(line: n.line, column: n.column, message: "node \(id) cannot be reached from \(def.start)"))
            }
            // Cycles through nodes that never wait for the caller.
            var state: [String: Int] = [:]   // 1 on the path, 2 done
            var path: [String] = []
            var reported = false
            func visit(_ id: String) {
                guard !reported, let n = def.nodes[id], !n.waitsForInput else { return }
                if state[id] == 2 { return }
                if state[id] == 1 {
                    let cycle = path[(path.lastIndex(of: id) ?? 0)...] + [id]
                    errors.append(FlowError(line: n.line, column: n.column, message: "loop \(cycle.joined(separator: " → ")) can spin without waiting for the caller"))
                    reported = true
                    return
                }
                state[id] = 1
                path.append(id)
                for s in n.successors { visit(s) }
                path.removeLast()
                state[id] = 2
            }
            for id in def.order { visit(id) }
        }
    }
}

extension Condition {
    /// "09:00-18:00" → (540, 1080).
    static func minutes(_ range: String) -> (Int, Int)? {
        let parts = range.split(separator: "-")
        guard parts.count == 2 else { return nil }
        func m(_ s: Substring) -> Int? {
            let hm = s.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard hm.count == 2, let h = Int(hm[0]), let mm = Int(hm[1]), (0...24).contains(h), (0...59).contains(mm) else { return nil }
            return h * 60 + mm
        }
        guard let a = m(parts[0]), let b = m(parts[1]) else { return nil }
        return (a, b)
    }
}
