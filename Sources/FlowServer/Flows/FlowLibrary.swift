import Foundation
import Logging
import Yams

/// Which flow answers a call (seed: 语音流程对应表): entries tried in order — by called number
/// (DNIS), calling-number prefix (ANI), inbound line (trunk), time of day, weekdays and the
/// holiday calendar — then the default.
public struct MappingTable: Sendable {
    public struct Entry: Sendable {
        public var called: [String]?
        public var callerPrefix: [String]?
        public var line: [String]?
        public var when: Condition?
        public var flow: String
    }
    public var entries: [Entry]
    public var defaultFlow: String?
    public var holidays: Set<String>

    public func flow(caller: String, called: String, line: String, environment: FlowRun.Environment) -> String? {
        for e in entries {
            if let c = e.called, !c.contains(called) { continue }
            if let p = e.callerPrefix, !p.contains(where: { caller.hasPrefix($0) }) { continue }
            if let l = e.line, !l.contains(line) { continue }
            if let w = e.when, !w.holds(variables: [:], environment: environment) { continue }
            return e.flow
        }
        return defaultFlow
    }

    /// mapping.yaml: `mappings: [{called: [...], caller_prefix: [...], line: [...], time: "HH:MM-HH:MM",
    /// weekdays: [...], holiday: bool, flow: NAME}]`, `default: NAME`, `holidays: [yyyy-MM-dd]`.
    public static func parse(_ text: String) throws -> MappingTable {
        guard let root = try Yams.compose(yaml: text) else { return MappingTable(entries: [], defaultFlow: nil, holidays: []) }
        func list(_ n: Node?) -> [String]? {
            guard let n else { return nil }
            if case .sequence(let s) = n { return s.compactMap(\.string) }
            return n.string.map { [$0] }
        }
        var entries: [Entry] = []
        for e in root["mappings"]?.array() ?? [] {
            guard let flow = e["flow"]?.string else { throw FlowError(line: e.mark?.line ?? 1, column: e.mark?.column ?? 1, message: "a mapping needs a flow") }
            var c = Condition()
            c.time = e["time"]?.string
            if let t = c.time, Condition.minutes(t) == nil { throw FlowError(line: e["time"]?.mark?.line ?? 1, column: 1, message: "time is HH:MM-HH:MM") }
            c.weekdays = list(e["weekdays"])?.map { $0.lowercased() }
            if let h = e["holiday"]?.string { c.holiday = ["true", "yes"].contains(h.lowercased()) }
            let hasWhen = c.time != nil || c.weekdays != nil || c.holiday != nil
            entries.append(Entry(called: list(e["called"]), callerPrefix: list(e["caller_prefix"]), line: list(e["line"]), when: hasWhen ? c : nil, flow: flow))
        }
        return MappingTable(entries: entries, defaultFlow: root["default"]?.string, holidays: Set(list(root["holidays"]) ?? []))
    }
}

/// The flows a Flow-Server runs, loaded from a folder of YAML files (`*.yaml`, plus
/// `mapping.yaml`). A file that does not validate is refused with its line and reason and
/// never replaces the flow that is running; `reload()` picks up changes, and calls in progress
/// keep the version they started with (each FlowRun holds its own copy).
public final class FlowLibrary: @unchecked Sendable {
    public let directory: URL
    private let lock = NSLock()
    private var flows: [String: (def: FlowDefinition, version: Int, checksum: String)] = [:]
    public private(set) var mapping = MappingTable(entries: [], defaultFlow: nil, holidays: [])
    private let logger: Logger
    private let promptDirectory: String?

    public init(directory: URL, promptDirectory: String?, logger: Logger) {
        self.directory = directory
        self.logger = logger
        self.promptDirectory = promptDirectory
    }

    public func flow(named name: String) -> (FlowDefinition, Int)? {
        lock.lock(); defer { lock.unlock() }
        return flows[name].map { ($0.def, $0.version) }
    }

    public var names: [String] {
        lock.lock(); defer { lock.unlock() }
        return flows.keys.sorted()
    }

    /// Loads every flow and the mapping table; returns the problems found (also logged).
    private var lastSnapshot: [String: String] = [:]
    private var lastProblems: [String] = []

    @discardableResult
    public func reload() -> [String] {
        // Nothing changed on disk: nothing to do (and nothing to log again).
        var snapshot: [String: String] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where f.hasSuffix(".yaml") {
            snapshot[f] = (try? String(contentsOf: directory.appendingPathComponent(f), encoding: .utf8)) ?? ""
        }
        lock.lock()
        let unchanged = snapshot == lastSnapshot
        lastSnapshot = snapshot
        let previous = lastProblems
        lock.unlock()
        if unchanged { return previous }
        var problems: [String] = []
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".yaml") && $0 != "mapping.yaml" }.sorted()
        var parsed: [(String, FlowDefinition, String)] = []
        for f in files {
            guard let text = try? String(contentsOf: directory.appendingPathComponent(f), encoding: .utf8) else { continue }
            let promptDir = promptDirectory
            let parser = FlowParser(promptExists: promptDir.map { dir in { name in
                FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name))
                    || FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name + ".wav")) } })
            switch parser.parse(text) {
            case .success(let def): parsed.append((f, def, String(text.hashValue)))
            case .failure(let e):
                for err in e.errors { problems.append("\(f): \(err)") }
            }
        }
        // Subflow and transfer targets must exist among the flows that loaded.
        let known = Set(parsed.map(\.1.name))
        lock.lock()
        for (f, def, sum) in parsed {
            var missing: [String] = []
            for n in def.nodes.values {
                if case .subflow(let target, _) = n.kind, !known.contains(target) { missing.append("line \(n.line): there is no flow \(target)") }
                if case .transfer(_, let target?, _) = n.kind, !known.contains(target) { missing.append("line \(n.line): there is no flow \(target)") }
            }
            if !missing.isEmpty { problems += missing.map { "\(f): \($0)" }; continue }
            if let old = flows[def.name], old.checksum == sum { continue }
            let version = (flows[def.name]?.version ?? 0) + 1
            flows[def.name] = (def, version, sum)
            logger.notice("flow \(def.name) v\(version) loaded from \(f)")
        }
        lock.unlock()
        let mappingFile = directory.appendingPathComponent("mapping.yaml")
        if let text = try? String(contentsOf: mappingFile, encoding: .utf8) {
            do {
                let m = try MappingTable.parse(text)
                let unknown = (m.entries.map(\.flow) + [m.defaultFlow].compactMap { $0 }).filter { flow(named: $0) == nil }
                if unknown.isEmpty { lock.lock(); mapping = m; lock.unlock() } else { problems.append("mapping.yaml: unknown flows \(unknown.joined(separator: ", "))") }
            } catch {
                problems.append("mapping.yaml: \(error)")
            }
        }
        for p in problems where !previous.contains(p) { logger.error("flow refused: \(p)") }
        lock.lock(); lastProblems = problems; lock.unlock()
        return problems
    }
}
