import Foundation
import Protocol
import Testing
@testable import FlowServerKit

/// AHT's parts in the record (issue 14): hold is the agent's (from App-Operate or the agent's
/// phone), never the caller's own a=inactive; wrap-up after the call lands on its record.
@Suite struct CallRecorderTests {
    final class Sink { var records: [StoredRecord] = [] }

    func event(_ id: String, _ kind: ChannelEvent.Kind, at s: Double) -> ChannelEvent {
        ChannelEvent(channelID: id, kind: kind, direction: .inbound, caller: "13800001", called: "4000", cause: kind == .cleared ? "caller hung up" : "",
                     timestampMs: UInt64(s * 1000))
    }

    @Test func holdIsTheAgentsAndWrapUpFollowsTheCall() throws {
        let sink = Sink()
        let r = CallRecorder(flowServer: "f") { sink.records.append($0) }
        r.event(event("caller", .offered, at: 100))
        r.event(event("caller", .established, at: 101))
        r.queued("caller", queue: "sales", at: 102)
        r.agentAnswered("caller", agent: "1001", channelID: "agent-leg", at: 110)
        // The caller's phone holds us for 20 s: an event, not hold time.
        r.event(event("caller", .held, at: 120))
        r.event(event("caller", .retrieved, at: 140))
        // The agent holds from App-Operate for 5 s, then from the phone for 7 s (the phone's
        // re-INVITE while already held from App-Operate is not counted twice).
        r.hold("caller", at: 150, on: true)
        r.event(event("agent-leg", .held, at: 151))
        r.hold("caller", at: 155, on: false)
        r.event(event("agent-leg", .held, at: 160))
        r.event(event("agent-leg", .retrieved, at: 167))
        r.event(event("caller", .cleared, at: 180).cleared(by: .farEnd))
        guard case .call(let c)? = sink.records.last else { Issue.record("\(sink.records)"); return }
        #expect(c.holdSeconds == 12)
        #expect(c.endedBy == "caller", "from the typed field 15")
        #expect(c.events.filter { $0.kind == "held" }.map { $0.detail["by"] ?? "" } == ["caller", "agent", "agent"])
        // Wrap-up from the call's end, 15 s: an update of that record.
        r.wrapUpEnded(agent: "1001", started: 180, seconds: 15)
        #expect(sink.records.last == .wrapUp(WrapUpRecord(callID: c.callID, agent: "1001", seconds: 15)))
        // A wrap-up that began long after (the agent transferred another call away) is not put on it.
        let n = sink.records.count
        r.wrapUpEnded(agent: "1001", started: 900, seconds: 10)
        #expect(sink.records.count == n)
    }
}
