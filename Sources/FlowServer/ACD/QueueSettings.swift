import Protocol
import Foundation
import Yams

/// Queue settings, kept as data beside the flows (`queues.yaml` in the flows folder), read
/// again when the file changes:
///
///     queues:
///       sales:
///         strategy: longest-idle        # fewest-calls, skill-level-first, round-robin, ring-all
///         skills: {sales: 3}            # skill → minimum level
///         escalate_after_seconds: 60    # then each minimum drops by escalation_step
///         escalation_step: 2
///         service_level_seconds: 20
///         max_wait_seconds: 600         # a flow's queue node may set a shorter one
///         hours: "08:00-20:00"          # opening hours (local time) and days; outside them
///         weekdays: [mon, tue, wed, thu, fri]   # calls take the node's no_agents branch
///         recording: {policy: all, from: answer}  # RecordingPolicy: all, none, percent, on-demand
///         survey_flow: survey           # the caller's post-call survey when the agent hangs up first
///     ring_timeout_ms: 15000            # ring no answer after this
///     wrap_up_seconds: 5
///     disconnect_grace_seconds: 60      # an agent whose App-Operate link drops is logged out after this
///     sticky_window_seconds: 3600       # prefer the agent who last served the caller, within this
///     outbound: {routes: […], default: TRUNK}   # the outbound route table (OutboundRoutes)
public struct QueueSettings: Sendable, Equatable {
    public struct Queue: Sendable, Equatable {
        public var name: String
        public var strategy: ACDEngine.Strategy = .longestIdle
        public var skills: [String: Int] = [:]
        public var escalateAfterSeconds: Double?
        public var escalationStep = 2
        public var serviceLevelSeconds = 20
        public var maxWaitSeconds: Int?
        /// Opening hours ("HH:MM-HH:MM", local time) and days (mon … sun): outside them a call
        /// does not wait — it takes the queue node's `no_agents` branch (or its flow ends).
        public var hours: String?
        public var weekdays: [String]?
        /// Which of its calls are recorded, from when (RecordingPolicy).
        public var recording = RecordingPolicy()
        /// The post-call survey: when the agent hangs up first, the caller goes to this flow.
        public var surveyFlow: String?

        /// Whether the queue takes calls at `date` (in `timeZone`).
        public func isOpen(at date: Date, timeZone: TimeZone = .current) -> Bool {
            Condition(time: hours, weekdays: weekdays).holds(variables: [:], environment: .init(caller: "", called: "", now: { date }, timeZone: timeZone))
        }

        public var engineQueue: ACDEngine.Queue {
            ACDEngine.Queue(name: name, strategy: strategy, skills: skills, escalateAfterSeconds: escalateAfterSeconds, escalationStep: escalationStep)
        }
    }

    public var queues: [String: Queue] = [:]
    public var ringTimeoutMs = 15_000
    public var wrapUpSeconds: Double = 5
    public var disconnectGraceSeconds: Double = 60
    public var stickyWindowSeconds: Double = 3600
    /// The outbound route table (the `outbound` section).
    public var routes = OutboundRoutes()

    public init() {}

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String) throws -> QueueSettings {
        var s = QueueSettings()
        let root: Node
        do {
            try YAMLLimits.check(text)
            guard let r = try Yams.compose(yaml: text) else { return s }
            root = r
        } catch {
            throw ParseError(description: "queues.yaml: \(error)")
        }
        func fail(_ n: Node?, _ m: String) -> ParseError {
            ParseError(description: "queues.yaml line \((n?.mark?.line).map(String.init) ?? "?"): \(m)")
        }
        guard case .mapping(let top) = root else { throw fail(root, "expected a mapping") }
        for (k, v) in top {
            switch k.string ?? "" {
            case "queues":
                guard case .mapping(let qs) = v else { throw fail(v, "queues is a mapping of name → settings") }
                for (qn, qv) in qs {
                    guard let name = qn.string, !name.isEmpty else { throw fail(qn, "a queue needs a name") }
                    var q = Queue(name: name)
                    if case .mapping(let fields) = qv {
                        for (fk, fv) in fields {
                            switch fk.string ?? "" {
                            case "strategy":
                                guard let st = fv.string.flatMap(ACDEngine.Strategy.init(rawValue:)) else {
                                    throw fail(fv, "queue \(name): strategy is one of \(ACDEngine.Strategy.allCases.map(\.rawValue).joined(separator: ", "))")
                                }
                                q.strategy = st
                            case "skills":
                                guard case .mapping(let sk) = fv else { throw fail(fv, "queue \(name): skills is a mapping skill → level") }
                                for (sn, sl) in sk {
                                    guard let skill = sn.string, let level = sl.int, (1...10).contains(level) else { throw fail(sl, "queue \(name): skill levels are 1–10") }
                                    q.skills[skill] = level
                                }
                            case "escalate_after_seconds": q.escalateAfterSeconds = fv.float ?? fv.int.map(Double.init)
                            case "escalation_step": q.escalationStep = fv.int ?? 2
                            case "service_level_seconds": q.serviceLevelSeconds = fv.int ?? 20
                            case "max_wait_seconds": q.maxWaitSeconds = fv.int
                            case "hours":
                                guard let h = fv.string, Condition.minutes(h) != nil else { throw fail(fv, "queue \(name): hours is HH:MM-HH:MM") }
                                q.hours = h
                            case "weekdays":
                                guard case .sequence(let days) = fv else { throw fail(fv, "queue \(name): weekdays is a list (mon … sun)") }
                                let names = days.compactMap { $0.string?.lowercased() }
                                guard names.count == days.count, names.allSatisfy(FlowParser.weekdayNames.contains) else {
                                    throw fail(fv, "queue \(name): weekdays are mon, tue, wed, thu, fri, sat, sun")
                                }
                                q.weekdays = names
                            case "recording": q.recording = try RecordingPolicy.parse(fv, owner: "queue \(name)", fail: fail)
                            case "survey_flow":
                                guard let f = fv.string, !f.isEmpty else { throw fail(fv, "queue \(name): survey_flow names a flow") }
                                q.surveyFlow = f
                            case let other: throw fail(fk, "queue \(name): unknown setting \(other)")
                            }
                        }
                    }
                    s.queues[name] = q
                }
            case "ring_timeout_ms": s.ringTimeoutMs = max(2000, v.int ?? 15_000)
            case "wrap_up_seconds": s.wrapUpSeconds = v.float ?? v.int.map(Double.init) ?? 5
            case "disconnect_grace_seconds": s.disconnectGraceSeconds = v.float ?? v.int.map(Double.init) ?? 60
            case "outbound": s.routes = try OutboundRoutes.parse(v, fail: fail)
            case "sticky_window_seconds": s.stickyWindowSeconds = v.float ?? v.int.map(Double.init) ?? 3600
            case let other: throw fail(k, "unknown setting \(other)")
            }
        }
        return s
    }
}
