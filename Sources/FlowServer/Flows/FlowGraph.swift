/// A flow as text (one line per node with its branches) and as Graphviz DOT.
public enum FlowGraph {
    static func kindName(_ k: FlowNode.Kind) -> String {
        switch k {
        case .play: return "play"
        case .menu: return "menu"
        case .collect: return "collect"
        case .choose: return "switch"
        case .set: return "set"
        case .lookup: return "lookup"
        case .record: return "record"
        case .transfer: return "transfer"
        case .subflow: return "subflow"
        case .goto: return "goto"
        case .hangup: return "hangup"
        case .queue: return "queue"
        case .callback: return "callback"
        case .originate: return "originate"
        case .schedule: return "schedule"
        }
    }

    /// Labelled edges of a node.
    static func edges(_ n: FlowNode) -> [(String, String)] {
        switch n.kind {
        case .menu(let m): return m.options.sorted { $0.key < $1.key }.map { ("key \($0.key)", $0.value) } + [("failure", m.failure)]
        case .collect(let c): return [("ok", c.next), ("failure", c.failure)]
        case .choose(let cases, let otherwise): return cases.enumerated().map { ("case \($0.offset + 1)", $0.element.next) } + [("default", otherwise)]
        case .lookup(_, let f, let nf): return [("found", f), ("not found", nf)]
        case .transfer(let to, let flow, let failure): return (failure.map { [("failure", $0)] } ?? []) + (flow.map { [("flow", "flow:\($0)")] } ?? []) + (to.map { [("to", "out:\($0)")] } ?? [])
        case .queue(let q):
            return [("queue", "acd:\(q.queue)")] + [("timeout", q.timeout), ("no agents", q.noAgents), ("returned", q.returned)].compactMap { l, n in n.map { (l, $0) } }
        case .callback(let q, _, _, let next, let failure): return [("queue", "acd:\(q)"), ("ok", next), ("failure", failure)]
        case .originate(let o): return [("dial", "out:\(o.to)"), ("ok", o.next), ("failure", o.failure)]
        case .schedule(let s): return [("scheduled", s.next), ("failure", s.failure)]
        default: return n.successors.map { ("", $0) }
        }
    }

    public static func text(_ def: FlowDefinition, version: Int) -> String {
        var lines = ["flow \(def.name) v\(version)\(def.description.isEmpty ? "" : " — \(def.description)")", "start: \(def.start)"]
        for id in def.order {
            guard let n = def.nodes[id] else { continue }
            let e = edges(n).map { $0.0.isEmpty ? $0.1 : "\($0.0) → \($0.1)" }.joined(separator: ", ")
            lines.append("  \(id.padding(toLength: max(12, id.count), withPad: " ", startingAt: 0))  \(kindName(n.kind).padding(toLength: 8, withPad: " ", startingAt: 0))  \(e.isEmpty ? "(end)" : e)")
        }
        return lines.joined(separator: "\n")
    }

    public static func dot(_ def: FlowDefinition, version: Int) -> String {
        func q(_ s: String) -> String { "\"\(s.replacingOccurrences(of: "\"", with: "\\\""))\"" }
        var out = ["digraph \(q("\(def.name) v\(version)")) {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];", "  start [shape=circle, label=\"\"];",
                   "  start -> \(q(def.start));"]
        for id in def.order {
            guard let n = def.nodes[id] else { continue }
            out.append("  \(q(id)) [label=\(q("\(id)\n\(kindName(n.kind))"))\(n.successors.isEmpty ? ", shape=doubleoctagon" : "")];")
            for (label, target) in edges(n) { out.append("  \(q(id)) -> \(q(target))\(label.isEmpty ? "" : " [label=\(q(label))]");") }
        }
        out.append("}")
        return out.joined(separator: "\n")
    }
}
