import Foundation
import Testing
@testable import FlowServerKit

/// The flow language: parsing, validation with line and column, and the interpreter driven by
/// scripted events (the CT-Server's part played by the test).
@Suite struct FlowParserTests {
    static let hotline = """
    flow: hotline
    description: Bilingual hotline
    start: welcome
    variables:
      lang: en
    nodes:
      welcome:
        type: play
        prompts: ["tts:en:Welcome to Hotline.", "tts:cmn:欢迎致电"]
        barge_in: true
        next: language
      language:
        type: menu
        prompt: "tts:en:For Chinese press 1, for English press 2."
        options:
          "1": chinese
          "2": english
        retries: 2
        timeout_ms: 4000
        invalid: "tts:en:Sorry."
        failure: english
      chinese:
        type: set
        values: {lang: cmn}
        next: account
      english:
        type: set
        values: {lang: en}
        next: account
      account:
        type: collect
        prompt: "tts:${lang}:Your account number, then hash."
        variable: account
        min: 4
        max: 8
        pattern: "[0-9]{4,8}"
        retries: 1
        next: hours
        failure: bye
      hours:
        type: switch
        cases:
          - when: {variable: account, equals: "9999"}
            next: vip
          - when: {time: "09:00-18:00", weekdays: [mon, tue, wed, thu, fri], holiday: false}
            next: open
        default: closed
      vip:
        type: play
        prompts: "tts:${lang}:Welcome back, ${account}."
        next: bye
      open:
        type: play
        prompts: "tone:beep:200"
        next: bye
      closed:
        type: play
        prompts: "tts:en:We are closed."
        next: bye
      bye:
        type: hangup
        cause: flow finished
    """

    @Test func parsesTheSample() throws {
        let def = try FlowParser().parse(Self.hotline).get()
        #expect(def.name == "hotline" && def.start == "welcome" && def.order.count == 10)
        #expect(def.nodes["language"]?.line == 12, "a node's line is its id's")
        if case .menu(let m)? = def.nodes["language"]?.kind {
            #expect(m.options == ["1": "chinese", "2": "english"] && m.retries == 2 && m.timeoutMs == 4000)
        } else { Issue.record("language is a menu") }
    }

    func errors(_ text: String, _ parser: FlowParser = FlowParser()) -> [FlowError] {
        if case .failure(let e) = parser.parse(text) { return e.errors }
        return []
    }

    @Test func collectWithMinAboveMaxIsRefused() {
        let e = errors("flow: x\nstart: a\nnodes:\n  a:\n    type: collect\n    variable: pin\n    min: 6\n    max: 4\n    next: b\n    failure: b\n  b:\n    type: hangup\n")
        #expect(e.contains { $0.line == 7 && $0.message.contains("min (6) is more than max (4)") }, "\(e)")
        let deep = errors("flow: x\nstart: a\nnodes:\n  a: {type: hangup, cause: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}\n")
        #expect(deep.contains { $0.line == 4 && $0.message.contains("nested") }, "a flow nested too deep is refused before the YAML parser: \(deep)")
    }

    @Test func yamlErrorsHaveLineAndColumn() {
        let e = errors("flow: x\nstart: a\nnodes:\n  a: {type: hangup\n  b: [")
        #expect(e.count == 1 && e[0].line >= 4 && e[0].message.hasPrefix("YAML:"), "\(e)")
    }

    @Test func everyClassOfErrorIsReportedWithItsLine() {
        let bad = """
        flow: bad
        start: one
        colour: blue
        nodes:
          one:
            type: play
            prompts: "tts:en:hi"
            volume: 11
            next: two
          two:
            type: teleport
          three:
            type: menu
            prompt: "file:missing.wav"
            options: {"1": one, "12": one}
            failure: nowhere
          four:
            type: queue
        """
        let e = errors(bad, FlowParser(promptExists: { _ in false }))
        let text = e.map(\.description).joined(separator: "\n")
        #expect(e.contains { $0.line == 3 && $0.message.contains("unknown field colour") }, "\(text)")
        #expect(e.contains { $0.line == 8 && $0.message.contains("unknown field volume") }, "\(text)")
        #expect(e.contains { $0.line == 11 && $0.message.contains("unknown type teleport") }, "\(text)")
        #expect(e.contains { $0.line == 14 && $0.message.contains("prompt file missing.wav is missing") }, "\(text)")
        #expect(e.contains { $0.line == 15 && $0.message.contains("menu option 12 must be one key") }, "\(text)")
        #expect(e.contains { $0.line == 18 && $0.message.contains("queue needs queue") }, "\(text)")

        let dangling = errors("""
        flow: d
        start: a
        nodes:
          a:
            type: goto
            to: b
        """)
        #expect(dangling.first?.message == "node a goes to b, which does not exist" && dangling.first?.line == 4, "\(dangling)")

        let unreachable = errors("""
        flow: u
        start: a
        nodes:
          a:
            type: hangup
          orphan:
            type: hangup
        """)
        #expect(unreachable.first?.message == "node orphan cannot be reached from a" && unreachable.first?.line == 6, "\(unreachable)")

        let spin = errors("""
        flow: s
        start: a
        nodes:
          a:
            type: set
            values: {n: "1"}
            next: b
          b:
            type: goto
            to: a
        """)
        #expect(spin.first?.message.contains("loop a → b → a can spin without waiting") == true, "\(spin)")

        // A loop through a menu waits for the caller each time: allowed.
        let menuLoop = errors("""
        flow: m
        start: a
        nodes:
          a:
            type: menu
            prompt: "tone:beep:100"
            options: {"1": b}
            failure: a
          b:
            type: goto
            to: a
        """)
        #expect(menuLoop.isEmpty, "\(menuLoop)")
    }
}

@Suite struct FlowRunTests {
    static func run(_ now: Date = Date(timeIntervalSince1970: 1_795_165_200), holidays: Set<String> = []) throws -> FlowRun {
        // 2026-11-20 09:00 UTC is a Friday.
        let def = try FlowParser().parse(FlowParserTests.hotline).get()
        return FlowRun(flow: def, version: 3, environment: .init(caller: "13800001111", called: "4000", now: { now },
                                                                 timeZone: TimeZone(identifier: "UTC")!, holidays: holidays))
    }

    @Test func walksMenusCollectsAndBranches() throws {
        var r = try Self.run()
        var a = r.start()
        guard case .play(let items, true, let t1)? = a.first else { Issue.record("\(a)"); return }
        #expect(items == ["tts:en:Welcome to Hotline.", "tts:cmn:欢迎致电"])
        a = r.handle(.playDone(tag: t1, reason: "finished"))
        // The menu: its prompt (barge-in) and a one-digit collect.
        guard case .collect(1, 1, _, 4000, _, let menuTag)? = a.last else { Issue.record("\(a)"); return }
        a = r.handle(.digitsCollected(tag: menuTag, digits: "7", reason: "max-digits"))   // invalid key: "Sorry", again
        // One play: "Sorry." then the menu's prompt — a second PlayMedia would cut the first off.
        guard case .play(let retryItems, true, _)? = a.first, retryItems.first == "tts:en:Sorry.", retryItems.count > 1, a.count == 2 else { Issue.record("\(a)"); return }
        guard case .collect(_, _, _, _, _, let again)? = a.last else { Issue.record("\(a)"); return }
        a = r.handle(.digitsCollected(tag: again, digits: "1", reason: "max-digits"))
        #expect(r.variables["lang"] == "cmn")
        // The collect node's prompt uses the variable just set.
        guard case .play(let prompt, true, _)? = a.first, case .collect(4, 8, "#", _, _, let acct)? = a.last else { Issue.record("\(a)"); return }
        #expect(prompt == ["tts:cmn:Your account number, then hash."])
        a = r.handle(.digitsCollected(tag: acct, digits: "9999", reason: "terminator"))
        guard case .play(let vip, false, let vipTag)? = a.first, a.count == 1 else { Issue.record("\(a)"); return }
        #expect(vip == ["tts:cmn:Welcome back, 9999."])
        a = r.handle(.playDone(tag: vipTag, reason: "finished"))
        #expect(a == [.hangup(cause: "flow finished")] && r.finished)
        #expect(r.trace.map(\.node) == ["welcome", "language", "chinese", "account", "hours", "vip", "bye"])
        #expect(r.trace.allSatisfy { $0.flow == "hotline" && $0.version == 3 })
    }

    @Test func badInputRetriesThenFails() throws {
        var r = try Self.run()
        var a = r.start()
        guard case .play(_, _, let t)? = a.first else { return }
        a = r.handle(.playDone(tag: t, reason: "finished"))
        guard case .collect(_, _, _, _, _, var tag)? = a.last else { return }
        a = r.handle(.digitsCollected(tag: tag, digits: "2", reason: "max-digits"))   // English
        guard case .collect(_, _, _, _, _, let acct)? = a.last else { Issue.record("\(a)"); return }
        tag = acct
        a = r.handle(.digitsCollected(tag: tag, digits: "12", reason: "too-short"))   // too short: one retry
        guard case .collect(_, _, _, _, _, let retry)? = a.last else { Issue.record("\(a)"); return }
        a = r.handle(.digitsCollected(tag: retry, digits: "12ab", reason: "terminator"))  // fails the pattern: failure → bye
        #expect(a == [.hangup(cause: "flow finished")])
        #expect(r.trace.last?.node == "bye")
        // Stale events of earlier nodes are ignored.
        #expect(r.handle(.playDone(tag: 1, reason: "finished")).isEmpty)
    }

    @Test func timeWeekdayAndHolidayConditions() throws {
        func branch(_ date: Date, holidays: Set<String> = []) throws -> String? {
            var r = try Self.run(date, holidays: holidays)
            var a = r.start()
            guard case .play(_, _, let t)? = a.first else { return nil }
            a = r.handle(.playDone(tag: t, reason: "finished"))
            guard case .collect(_, _, _, _, _, let m)? = a.last else { return nil }
            a = r.handle(.digitsCollected(tag: m, digits: "2", reason: "max-digits"))
            guard case .collect(_, _, _, _, _, let c)? = a.last else { return nil }
            _ = r.handle(.digitsCollected(tag: c, digits: "1234", reason: "terminator"))
            return r.trace.last?.node
        }
        #expect(try branch(Date(timeIntervalSince1970: 1_795_165_200)) == "open")                              // Fri 09:00
        #expect(try branch(Date(timeIntervalSince1970: 1_795_165_200 - 3600)) == "closed")                     // Fri 08:00
        #expect(try branch(Date(timeIntervalSince1970: 1_795_165_200 + 86400)) == "closed")                   // Sat 09:00
        #expect(try branch(Date(timeIntervalSince1970: 1_795_165_200), holidays: ["2026-11-20"]) == "closed")  // a holiday
    }

    @Test func subflowsReturnAndLookupsFillVariables() throws {
        let main = try FlowParser().parse("""
        flow: main
        start: who
        nodes:
          who:
            type: lookup
            found: greet
            not_found: survey
          greet:
            type: play
            prompts: "tts:en:Hello ${customer.name}"
            next: survey
          survey:
            type: subflow
            flow: survey
            next: end
          end:
            type: hangup
        """).get()
        let survey = try FlowParser().parse("""
        flow: survey
        start: ask
        nodes:
          ask:
            type: play
            prompts: "tts:en:Thanks"
            next: done
          done:
            type: hangup
        """).get()
        var r = FlowRun(flow: main, version: 1, environment: .init(caller: "555", called: "4000"))
        #expect(r.start() == [.lookup(phone: "555", account: nil)])
        var a = r.handle(.lookedUp(["name": "Li Hua", "id": "7"]))
        #expect(a == [.play(items: ["tts:en:Hello Li Hua"], bargeIn: false, tag: 1)] && r.variables["customer.id"] == "7")
        a = r.handle(.playDone(tag: 1, reason: "finished"))
        #expect(a == [.loadFlow(name: "survey")])
        a = r.handle(.flowLoaded(survey, version: 4))
        #expect(a == [.play(items: ["tts:en:Thanks"], bargeIn: false, tag: 2)] && r.flowName == "survey")
        a = r.handle(.playDone(tag: 2, reason: "finished"))
        #expect(a == [.hangup(cause: "flow ended")] && r.finished)
        #expect(r.trace.map { "\($0.flow)/\($0.node)" } == ["main/who", "main/greet", "main/survey", "survey/ask", "survey/done", "main/end"])
    }
}

import TestSupport

@Suite struct SampleFlowTests {
    /// deploy/flows ships a flow and a mapping table that validate (prompt files are generated
    /// by deploy/up, so their existence is not checked here).
    @Test func theShippedSampleValidates() throws {
        let dir = TestSupport.packageRoot.appendingPathComponent("deploy/flows")
        let text = try String(contentsOf: dir.appendingPathComponent("hotline.yaml"), encoding: .utf8)
        let def = try FlowParser().parse(text).get()
        #expect(def.name == "hotline" && def.nodes.count >= 10)
        let mapping = try MappingTable.parse(String(contentsOf: dir.appendingPathComponent("mapping.yaml"), encoding: .utf8))
        #expect(mapping.flow(caller: "13800001111", called: "4000", line: "sip", environment: .init(caller: "13800001111", called: "4000")) == "hotline")
        // Every prompt the sample names is in prompts.txt.
        let names = Set(try String(contentsOf: dir.appendingPathComponent("prompts.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: "|").first.map(String.init) })
        for n in def.nodes.values {
            for p in "\(n.kind)".components(separatedBy: "\"").filter({ $0.hasPrefix("file:") }) {
                let name = String(p.dropFirst(5))
                for lang in ["en", "cmn"] {
                    let resolved = name.replacingOccurrences(of: "${lang}", with: lang)
                    #expect(names.contains(resolved), "prompt \(resolved) of node \(n.id) is not generated")
                }
            }
        }
    }
}
