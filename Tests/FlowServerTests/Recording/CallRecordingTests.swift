import Foundation
import Testing
import Yams
@testable import FlowServerKit
@testable import Protocol

/// The recording machine and its policy, as values.
@Suite struct CallRecordingTests {
    let id = UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF")!
    var day: Date { Date(timeIntervalSince1970: 1_796_300_000) }   // 2026-12-03 12:13 UTC

    @Test func startPauseResumeStopThenASecondSegment() {
        var r = CallRecording(channel: "ch", callID: id, day: day, timeZone: TimeZone(identifier: "UTC")!)
        #expect(r.handle(.pause(by: .agent("1001"))) == [.refuse("the call is not being recorded")])
        let start = r.handle(.start(by: .agent("1001"), maxMs: 60_000, stereo: true))
        #expect(start == [.record(name: "2026/12/03/6f9619ff-8b86-d011-b42d-00c04fc964ff", stereo: true, maxMs: 60_000, startedBy: "1001")])
        #expect(r.handle(.start(by: .policy, maxMs: 1, stereo: true)) == [.refuse("the call is being recorded already")])
        #expect(r.handle(.pause(by: .agent("1001"))) == [.control(.pause)])
        #expect(r.state == .paused)
        #expect(r.handle(.pause(by: .agent("1001"))) == [.refuse("the recording is paused already")])
        #expect(r.handle(.resume(by: .agent("1001"))) == [.control(.resume)])
        #expect(r.handle(.resume(by: .agent("1001"))) == [.refuse("the recording is not paused")])
        #expect(r.handle(.stop(by: .agent("1001"))) == [.control(.stop)])
        #expect(r.state == .stopping)
        #expect(r.handle(.start(by: .agent("1001"), maxMs: 1, stereo: true)) == [.refuse("the call's recording is stopping")])
        // A RecordDone for another file changes nothing; for this one, the machine is idle again.
        #expect(r.handle(.closed(path: "2026/12/03/other.wav")) == [] && r.state == .stopping)
        #expect(r.handle(.closed(path: "2026/12/03/6f9619ff-8b86-d011-b42d-00c04fc964ff.wav")) == [] && r.state == .idle)
        let second = r.handle(.start(by: .supervisor("2001"), maxMs: 5, stereo: false))
        #expect(second == [.record(name: "2026/12/03/6f9619ff-8b86-d011-b42d-00c04fc964ff-2", stereo: false, maxMs: 5, startedBy: "2001")])
    }

    @Test func agentsMayPauseButNotStopPolicyOrSupervisorRecordings() {
        var r = CallRecording(channel: "ch", callID: id, day: day)
        _ = r.handle(.start(by: .policy, maxMs: 1000, stereo: true))
        #expect(r.handle(.pause(by: .agent("1001"))) == [.control(.pause)])
        #expect(r.handle(.stop(by: .agent("1001"))) == [.refuse("the recording is by policy: an agent may pause it, not stop it")])
        #expect(r.handle(.stop(by: .supervisor("2001"))) == [.control(.stop)])
        _ = r.handle(.closed(path: r.path!))
        _ = r.handle(.start(by: .supervisor("2001"), maxMs: 1000, stereo: true))
        #expect(r.handle(.stop(by: .agent("1001"))) == [.refuse("supervisor 2001 started this recording: only a supervisor stops it")])
        // The time limit or the call's end closes it whoever started it.
        #expect(r.handle(.closed(path: r.path!)) == [] && r.state == .idle)
    }

    @Test func policyParsingAndDecision() throws {
        func parse(_ y: String) throws -> RecordingPolicy {
            try RecordingPolicy.parse(try #require(try Yams.compose(yaml: y)), owner: "queue q") { n, m in QueueSettings.ParseError(description: "line \(n?.mark?.line ?? 0): \(m)") }
        }
        let all = try parse("{policy: all, from: start, stereo: false, max_minutes: 30}")
        #expect(all == RecordingPolicy(mode: .all, from: .start, stereo: false, maxMinutes: 30))
        #expect(all.records(roll: 0.999))
        let pct = try parse("{policy: percent, percent: 20}")
        #expect(pct.records(roll: 0.19) && !pct.records(roll: 0.2))
        #expect(!(try parse("{policy: on-demand}")).records(roll: 0))
        #expect(throws: QueueSettings.ParseError.self) { try parse("{policy: sometimes}") }
        #expect(throws: QueueSettings.ParseError.self) { try parse("{policy: percent}") }
        #expect(throws: QueueSettings.ParseError.self) { try parse("{policy: percent, percent: 101}") }
        #expect(throws: QueueSettings.ParseError.self) { try parse("{policy: all, from: later}") }
        #expect(throws: QueueSettings.ParseError.self) { try parse("{policy: all, colour: red}") }
        // In queues.yaml and in a flow, with the line of the mistake.
        let q = try QueueSettings.parse("queues:\n  sales:\n    recording: {policy: all}\n    survey_flow: survey\n")
        #expect(q.queues["sales"]?.recording.mode == .all && q.queues["sales"]?.surveyFlow == "survey")
        do {
            _ = try QueueSettings.parse("queues:\n  sales:\n    recording:\n      policy: al\n")
            Issue.record("a misspelt policy passed")
        } catch {
            #expect("\(error)".contains("line 4") && "\(error)".contains("recording policy is one of"), "\(error)")
        }
        let flow = FlowParser().parse("flow: f\nstart: a\nrecording: {policy: all}\nnodes:\n  a: {type: hangup, cause: x}\n")
        #expect((try? flow.get())?.recording?.mode == .all)
        if case .failure(let e) = FlowParser().parse("flow: f\nstart: a\nrecording: {policy: every}\nnodes:\n  a: {type: hangup, cause: x}\n") {
            #expect("\(e)".contains("recording policy"), "\(e)")
        } else { Issue.record("a bad flow recording policy passed") }
    }
}
