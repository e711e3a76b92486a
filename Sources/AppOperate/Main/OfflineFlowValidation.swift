import ArgumentParser
import FlowServerKit
import Foundation

/// Flows as code: the Flow-Server's own validation (FlowParser) run here, with no server — for
/// a flow repository's CI. Flows the files call must be among the files; `file:` prompts are
/// checked under `prompts` when given.
enum OfflineFlowValidation {
    static func run(_ files: [String], prompts: String?) throws {
        var sources: [(String, String)] = []
        for f in files {
            guard let text = try? String(contentsOfFile: f, encoding: .utf8) else { throw ValidationError("cannot read \(f)") }
            sources.append((f, text))
        }
        // The names the files define (a first pass that does not check references).
        var names: Set<String> = []
        for (_, text) in sources { if case .success(let def) = FlowParser().parse(text) { names.insert(def.name) } }
        let promptExists: ((String) -> Bool)? = prompts.map { dir in { name in
            FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name))
                || FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name + ".wav")) } }
        let parser = FlowParser(promptExists: promptExists, flowExists: { names.contains($0) })
        var refused = 0
        for (file, text) in sources {
            switch parser.parse(text) {
            case .success(let def):
                print("\(file): ok: flow \(def.name), \(def.nodes.count) nodes, start \(def.start)")
            case .failure(let e):
                refused += 1
                FileHandle.standardError.write(Data("\(file): refused:\n\(e.description)\n".utf8))
            }
        }
        if refused > 0 { throw ExitCode(1) }
    }
}
