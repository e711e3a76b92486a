import Protocol
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
    /// Numbers that ring a registered phone directly, decided before any flow (`extensions:`):
    /// exact numbers and ranges of equally long numbers ("1000-1999"). Only calls from phones
    /// (line `sip`) dial extensions; a trunk call reaches one through a flow.
    public var extensions: [ExtensionRange] = []

    public struct ExtensionRange: Sendable, Equatable {
        public var low: String
        public var high: String

        /// "1001" or "1000-1999" (digits, both ends as long).
        public init?(_ text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 1 || parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 15 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
            low = parts[0]
            high = parts.count == 2 ? parts[1] : parts[0]
            guard low.count == high.count, low <= high else { return nil }
        }

        public func contains(_ number: String) -> Bool {
            number.count == low.count && number.allSatisfy { $0.isASCII && $0.isNumber } && low <= number && number <= high
        }
    }

    public init(entries: [Entry], defaultFlow: String?, holidays: Set<String>, extensions: [ExtensionRange] = []) {
        self.entries = entries
        self.defaultFlow = defaultFlow
        self.holidays = holidays
        self.extensions = extensions
    }

    /// Whether a call is an extension call: from a phone, to a number in `extensions`, not to itself.
    public func isExtensionCall(caller: String, called: String, line: String) -> Bool {
        line == "sip" && called != caller && extensions.contains { $0.contains(called) }
    }

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
        try YAMLLimits.check(text)
        guard let root = try Yams.compose(yaml: text) else { return MappingTable(entries: [], defaultFlow: nil, holidays: []) }
        func list(_ n: Node?) -> [String]? {
            guard let n else { return nil }
            if case .sequence(let s) = n { return s.compactMap(\.string) }
            return n.string.map { [$0] }
        }
        if case .mapping(let top) = root {
            let known = ["mappings", "default", "holidays", "extensions"]
            for (k, _) in top {
                guard let key = k.string, known.contains(key) else {
                    throw FlowError(line: k.mark?.line ?? 1, column: k.mark?.column ?? 1, message: "unknown key '\(k.string ?? "?")' (known: \(known.joined(separator: ", ")))")
                }
            }
        }
        var extensions: [ExtensionRange] = []
        for n in root["extensions"]?.array() ?? [] {
            guard let text = n.string, let r = ExtensionRange(text) else {
                throw FlowError(line: n.mark?.line ?? 1, column: n.mark?.column ?? 1, message: "an extension is a number or a range of equally long numbers (1000-1999), got '\(n.string ?? "?")'")
            }
            extensions.append(r)
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
        return MappingTable(entries: entries, defaultFlow: root["default"]?.string, holidays: Set(list(root["holidays"]) ?? []), extensions: extensions)
    }
}

/// The flows a Flow-Server runs. With a database, the published versions there are the truth:
/// every Flow-Server runs each flow's current version, and a file in the flows folder that
/// changes (and validates) is published as the next version. Without one, the folder alone.
/// A file that does not validate is refused with its line and reason and never replaces the
/// flow that is running; calls in progress keep the version they started with (each FlowRun
/// holds its own copy). `reload()` runs at start and every 2 s, off the loop.
public final class FlowLibrary: @unchecked Sendable {
    public let directory: URL?
    public let databaseURL: String?
    private let lock = NSLock()
    private var flows: [String: (def: FlowDefinition, version: Int, source: String)] = [:]
    private var mappingState = (table: MappingTable(entries: [], defaultFlow: nil, holidays: []), version: 0, source: "")
    private let logger: Logger
    private let promptDirectory: String?
    private var db: PostgresConnection?
    private var lastSnapshot: [String: String] = [:]
    private var lastProblems: [String] = []
    private var databaseDown = false

    public init(directory: URL?, databaseURL: String? = nil, promptDirectory: String?, logger: Logger) {
        self.directory = directory
        self.databaseURL = databaseURL
        self.logger = logger
        self.promptDirectory = promptDirectory
    }

    public var mapping: MappingTable {
        lock.lock(); defer { lock.unlock() }
        return mappingState.table
    }

    public func flow(named name: String) -> (FlowDefinition, Int)? {
        lock.lock(); defer { lock.unlock() }
        return flows[name].map { ($0.def, $0.version) }
    }

    public var names: [String] {
        lock.lock(); defer { lock.unlock() }
        return flows.keys.sorted()
    }

    func parser(known: Set<String>?) -> FlowParser {
        let promptDir = promptDirectory
        return FlowParser(promptExists: promptDir.map { dir in { name in
            FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name))
                || FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name + ".wav")) } },
                          flowExists: known.map { k in { k.contains($0) } })
    }

    /// Validates a flow as it would be published (flows it calls must exist here or in `extra`).
    public func validate(_ source: String, alsoKnown extra: Set<String> = []) -> Result<FlowDefinition, FlowErrors> {
        parser(known: Set(names).union(extra)).parse(source)
    }

    /// Loads what changed; returns the problems found (each logged once).
    @discardableResult
    public func reload() -> [String] {
        var problems: [String] = []
        var snapshot: [String: String] = [:]
        if let directory {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where f.hasSuffix(".yaml") && f != "queues.yaml" {   // queues.yaml: ACD settings (QueueSettings)
                snapshot[f] = (try? String(contentsOf: directory.appendingPathComponent(f), encoding: .utf8)) ?? ""
            }
        }
        let folderChanged = snapshot != lastSnapshot
        lastSnapshot = snapshot
        // Folder flows that validate (their subflows may be among them).
        var folderFlows: [(file: String, def: FlowDefinition, source: String)] = []
        var folderMapping: (MappingTable, String)?
        if folderChanged {
            let names = Set(snapshot.compactMap { f, text in f == "mapping.yaml" ? nil : (try? parser(known: nil).parse(text).get())?.name })
            for (f, text) in snapshot.sorted(by: { $0.key < $1.key }) where f != "mapping.yaml" {
                switch parser(known: names.union(self.names)).parse(text) {
                case .success(let def): folderFlows.append((f, def, text))
                case .failure(let e): problems += e.errors.map { "\(f): \($0)" }
                }
            }
            if let text = snapshot["mapping.yaml"] {
                do { folderMapping = (try MappingTable.parse(text), text) } catch { problems.append("mapping.yaml: \(error)") }
            }
        }
        if let url = databaseURL {
            do {
                if db?.isConnected != true {
                    let c = try PostgresConnection(url: url)
                    try Migrator.bundled().migrate(c, logger: logger)
                    db = c
                }
                guard let db else { throw PostgresError(message: "not connected", sqlState: "") }
                let current = Dictionary(try FlowStore.current(db).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                for f in folderFlows where current[f.def.name]?.source != f.source {
                    let v = try FlowStore.publish(db, name: f.def.name, source: f.source, by: "file \(f.file)")
                    logger.notice("flow \(f.def.name) v\(v) published from \(f.file)")
                }
                if let (_, text) = folderMapping, try FlowStore.current(db, mapping: true).first?.source != text {
                    let v = try FlowStore.publish(db, name: FlowStore.mappingName, source: text, by: "file mapping.yaml", mapping: true)
                    logger.notice("mapping table v\(v) published from mapping.yaml")
                }
                for p in try FlowStore.current(db) { install(p.name, source: p.source, version: p.version, from: "the database", problems: &problems) }
                if let m = try FlowStore.current(db, mapping: true).first { installMapping(m.source, version: m.version, problems: &problems) }
                if databaseDown { logger.notice("flows: database reachable again") }
                databaseDown = false
            } catch {
                self.db = nil
                if !databaseDown { logger.warning("flows: database unavailable (\(error)); running the flows already loaded") }
                databaseDown = true
                lastSnapshot = [:]   // publish the folder again once the database is back
            }
        } else {
            for f in folderFlows { install(f.def.name, source: f.source, version: nil, from: f.file, problems: &problems) }
            if let (_, text) = folderMapping { installMapping(text, version: nil, problems: &problems) }
        }
        let previous = lastProblems
        if folderChanged || databaseURL != nil {
            for p in problems where !previous.contains(p) { logger.error("flow refused: \(p)") }
            if folderChanged { lastProblems = problems }
        }
        return folderChanged ? problems : previous
    }

    private func install(_ name: String, source: String, version: Int?, from: String, problems: inout [String]) {
        lock.lock()
        let loaded = flows[name]
        lock.unlock()
        if let loaded, version == nil ? loaded.source == source : loaded.version == version { return }
        switch parser(known: nil).parse(source) {
        case .success(let def):
            lock.lock()
            let v = version ?? ((flows[name]?.version ?? 0) + 1)
            flows[name] = (def, v, source)
            lock.unlock()
            logger.notice("flow \(name) v\(v) loaded from \(from)")
        case .failure(let e):
            problems += e.errors.map { "\(name) (\(from)): \($0)" }
        }
    }

    private func installMapping(_ source: String, version: Int?, problems: inout [String]) {
        lock.lock()
        let same = version == nil ? mappingState.source == source : mappingState.version == version
        lock.unlock()
        if same { return }
        do {
            let m = try MappingTable.parse(source)
            let unknown = (m.entries.map(\.flow) + [m.defaultFlow].compactMap { $0 }).filter { flow(named: $0) == nil }
            guard unknown.isEmpty else { problems.append("mapping.yaml: unknown flows \(unknown.joined(separator: ", "))"); return }
            lock.lock()
            mappingState = (m, version ?? mappingState.version + 1, source)
            lock.unlock()
            logger.notice("mapping table v\(version ?? mappingState.version) loaded")
        } catch {
            problems.append("mapping.yaml: \(error)")
        }
    }
}
