import Yams

/// The outbound route table: which trunk a number is dialled through, how the number is
/// rewritten and which caller ID goes with it. Every dial of a number by the Flow-Server goes
/// through it — callbacks, agents' external calls, transfers and consultations to a number,
/// three-way calls with an outside party, the flow's `originate` node. Kept in queues.yaml:
///
///     outbound:
///       routes:
///         - name: mobile
///           match: ["1[3-9]XXXXXXXXX"]   # X any digit, Z 1-9, N 2-9, [1-5] a set, . one or more, ! zero or more
///           trunk: carrier
///           caller_id: "+861088880000"  # optional: the caller ID sent (default: the call's own)
///         - name: national
///           match: ["0ZX."]
///           trunk: carrier
///           strip: 0                     # digits removed from the front, then `prepend` added
///           prepend: ""
///       default: carrier                 # trunk for numbers no route matches (omit: refused)
///
/// With no `outbound` section a number is dialled as it is, without a trunk: it reaches the
/// phones registered at the CT-Server only.
public struct OutboundRoutes: Sendable, Equatable {
    public struct Route: Sendable, Equatable {
        public var name: String
        public var patterns: [String]
        public var trunk: String
        public var strip = 0
        public var prepend = ""
        public var callerID: String?
        public init(name: String, patterns: [String], trunk: String, strip: Int = 0, prepend: String = "", callerID: String? = nil) {
            self.name = name; self.patterns = patterns; self.trunk = trunk; self.strip = strip; self.prepend = prepend; self.callerID = callerID
        }
    }

    /// Where a number goes.
    public struct Resolved: Sendable, Equatable {
        public var number: String
        public var trunk: String
        public var callerID: String
        public var route: String
    }

    public var routes: [Route] = []
    public var defaultTrunk: String?
    /// False when no `outbound` section was given: numbers are dialled as they are, no trunk.
    public var configured = false

    public init(routes: [Route] = [], defaultTrunk: String? = nil) {
        self.routes = routes
        self.defaultTrunk = defaultTrunk
        configured = !routes.isEmpty || defaultTrunk != nil
    }

    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// The first route whose pattern matches `number` (in file order), else the default trunk.
    public func resolve(_ number: String, callerID: String) -> Result<Resolved, Refusal> {
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || "+*#".contains($0)) }) else {
            return .failure(Refusal(description: "\(number) is not a number"))
        }
        guard configured else { return .success(Resolved(number: number, trunk: "", callerID: callerID, route: "")) }
        for r in routes where r.patterns.contains(where: { Self.matches($0, number) }) {
            let n = r.prepend + String(number.dropFirst(min(r.strip, number.count)))
            return .success(Resolved(number: n, trunk: r.trunk, callerID: r.callerID ?? callerID, route: r.name))
        }
        if let t = defaultTrunk { return .success(Resolved(number: number, trunk: t, callerID: callerID, route: "default")) }
        return .failure(Refusal(description: "no outbound route for \(number)"))
    }

    /// Dial-plan patterns: digits, `+`, `*` and `#` match themselves; `X` any digit, `Z` 1–9,
    /// `N` 2–9, `[…]` one of a set with ranges (`[1-5,7]`), `.` one or more characters at the
    /// end, `!` zero or more at the end.
    public static func matches(_ pattern: String, _ number: String) -> Bool {
        let p = Array(pattern), n = Array(number)
        var i = 0, j = 0
        while i < p.count {
            let c = p[i]
            if c == "." { return j < n.count }
            if c == "!" { return true }
            guard j < n.count else { return false }
            let d = n[j]
            switch c {
            case "X", "x": guard d.isNumber else { return false }
            case "Z", "z": guard d.isNumber, d != "0" else { return false }
            case "N", "n": guard d.isNumber, d != "0", d != "1" else { return false }
            case "[":
                guard let close = p[i...].firstIndex(of: "]") else { return false }
                let set = Array(p[(i + 1)..<close])
                var ok = false, k = 0
                while k < set.count {
                    if k + 2 < set.count, set[k + 1] == "-" {
                        if set[k] <= d && d <= set[k + 2] { ok = true }
                        k += 3
                    } else {
                        if set[k] == d { ok = true }
                        k += 1
                    }
                }
                guard ok else { return false }
                i = close
            default: guard c == d else { return false }
            }
            i += 1
            j += 1
        }
        return j == n.count
    }

    /// The `outbound` section of queues.yaml.
    static func parse(_ node: Node, fail: (Node?, String) -> QueueSettings.ParseError) throws -> OutboundRoutes {
        guard case .mapping(let m) = node else { throw fail(node, "outbound is a mapping with routes and default") }
        var t = OutboundRoutes()
        t.configured = true
        for (k, v) in m {
            switch k.string ?? "" {
            case "default":
                guard let s = v.string, !s.isEmpty else { throw fail(v, "outbound default is a trunk name") }
                t.defaultTrunk = s
            case "routes":
                guard case .sequence(let rs) = v else { throw fail(v, "outbound routes is a list") }
                for rn in rs {
                    guard case .mapping(let fields) = rn else { throw fail(rn, "a route is a mapping (match, trunk …)") }
                    var r = Route(name: "route-\(t.routes.count + 1)", patterns: [], trunk: "")
                    for (fk, fv) in fields {
                        switch fk.string ?? "" {
                        case "name": r.name = fv.string ?? r.name
                        case "match":
                            let ps: [String]
                            if case .sequence(let seq) = fv { ps = seq.compactMap(\.string) } else { ps = fv.string.map { [$0] } ?? [] }
                            guard !ps.isEmpty, ps.allSatisfy(Self.validPattern) else {
                                throw fail(fv, "route \(r.name): match is a pattern or a list of them (digits, X Z N, [1-5], a final . or !)")
                            }
                            r.patterns = ps
                        case "trunk":
                            guard let s = fv.string, !s.isEmpty else { throw fail(fv, "route \(r.name): trunk is a trunk name") }
                            r.trunk = s
                        case "strip":
                            guard let n = fv.int, (0...20).contains(n) else { throw fail(fv, "route \(r.name): strip is 0–20 digits") }
                            r.strip = n
                        case "prepend":
                            guard let s = fv.string, s.allSatisfy({ $0.isNumber || "+*#".contains($0) }) else { throw fail(fv, "route \(r.name): prepend is digits") }
                            r.prepend = s
                        case "caller_id": r.callerID = fv.string
                        case let other: throw fail(fk, "route \(r.name): unknown setting \(other)")
                        }
                    }
                    guard !r.patterns.isEmpty, !r.trunk.isEmpty else { throw fail(rn, "route \(r.name) needs match and trunk") }
                    t.routes.append(r)
                }
            case let other: throw fail(k, "outbound: unknown setting \(other)")
            }
        }
        return t
    }

    static func validPattern(_ p: String) -> Bool {
        guard !p.isEmpty else { return false }
        var inSet = false
        for (i, c) in p.enumerated() {
            if inSet { if c == "]" { inSet = false }; continue }
            switch c {
            case "[": inSet = true
            case ".", "!": if i != p.count - 1 { return false }
            case "X", "x", "Z", "z", "N", "n", "+", "*", "#": break
            default: if !c.isNumber { return false }
            }
        }
        return !inSet
    }
}
