import Foundation
import Yams

/// Which calls are recorded, and from when: per queue (`recording:` in queues.yaml) and per flow
/// (`recording:` at a flow's top level, for calls that never reach a queue).
///
///     recording: {policy: all, from: answer, stereo: true, max_minutes: 240}
///     recording: {policy: percent, percent: 20}
///     recording: {policy: on-demand}              # only when an agent or supervisor starts it
///
/// `all` records every call; `percent` a random share (decided once per call, when it enters
/// the queue); `none` and `on-demand` record nothing by themselves. `from: answer` starts at the
/// agent's answer, `from: start` when the call enters the queue (or the flow starts).
public struct RecordingPolicy: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable { case all, none, percent, onDemand = "on-demand" }
    public enum From: String, Sendable, CaseIterable { case answer, start }

    public var mode: Mode = .none
    public var percent = 0
    public var from: From = .answer
    public var stereo = true
    public var maxMinutes = 240

    public init(mode: Mode = .none, percent: Int = 0, from: From = .answer, stereo: Bool = true, maxMinutes: Int = 240) {
        self.mode = mode
        self.percent = percent
        self.from = from
        self.stereo = stereo
        self.maxMinutes = maxMinutes
    }

    /// Whether a call is recorded by policy, for a uniform random `roll` in [0, 1).
    public func records(roll: Double) -> Bool {
        switch mode {
        case .all: return true
        case .percent: return roll * 100 < Double(percent)
        case .none, .onDemand: return false
        }
    }

    /// Parses a `recording:` mapping; `fail` makes the error (with the node's line).
    static func parse(_ node: Node, owner: String, fail: (Node?, String) -> Error) throws -> RecordingPolicy {
        guard case .mapping(let fields) = node else { throw fail(node, "\(owner): recording is a mapping (policy, percent, from, stereo, max_minutes)") }
        var p = RecordingPolicy()
        var sawPercent = false
        for (k, v) in fields {
            switch k.string ?? "" {
            case "policy":
                guard let m = v.string.flatMap(Mode.init(rawValue:)) else {
                    throw fail(v, "\(owner): recording policy is one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                p.mode = m
            case "percent":
                guard let n = v.int, (0...100).contains(n) else { throw fail(v, "\(owner): recording percent is 0–100") }
                p.percent = n
                sawPercent = true
            case "from":
                guard let f = v.string.flatMap(From.init(rawValue:)) else { throw fail(v, "\(owner): recording from is answer or start") }
                p.from = f
            case "stereo":
                guard let b = v.bool else { throw fail(v, "\(owner): recording stereo is true or false") }
                p.stereo = b
            case "max_minutes":
                guard let n = v.int, (1...1440).contains(n) else { throw fail(v, "\(owner): recording max_minutes is 1–1440") }
                p.maxMinutes = n
            case let other:
                throw fail(k, "\(owner): unknown recording setting \(other)")
            }
        }
        if p.mode == .percent, !sawPercent { throw fail(node, "\(owner): recording policy percent needs percent: N") }
        return p
    }
}
