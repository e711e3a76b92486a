import Foundation
import Testing
@testable import FlowServerKit

/// Queue settings edited as App-Operate's admin does (FlowService.edit): the result is checked
/// by queues.yaml's own rules before anything is written (that part is end to end, AdminTests).
@Suite struct QueueAdministrationTests {
    let file = """
    queues:
      sales: {strategy: longest-idle, skills: {sales: 3}, service_level_seconds: 20}
      support: {strategy: ring-all}
    wrap_up_seconds: 5
    """

    @Test func editsAQueueKeepingTheOthers() throws {
        let text = try FlowService.edit(file, queue: "sales", create: false,
                                        changes: ["strategy": "round-robin", "skills": "{sales: 2, english: 4}", "service_level_seconds": "-"])
        let s = try QueueSettings.parse(text)
        #expect(s.queues["sales"]?.strategy == .roundRobin)
        #expect(s.queues["sales"]?.skills == ["sales": 2, "english": 4])
        #expect(s.queues["sales"]?.serviceLevelSeconds == 20, "removed: back to the default")
        #expect(s.queues["support"]?.strategy == .ringAll)
        #expect(s.wrapUpSeconds == 5)
    }

    @Test func globalSettingsAndNewQueues() throws {
        var text = try FlowService.edit(file, queue: "", create: false, changes: ["wrap_up_seconds": "9", "ring_timeout_ms": "20000"])
        var s = try QueueSettings.parse(text)
        #expect(s.wrapUpSeconds == 9 && s.ringTimeoutMs == 20_000)
        text = try FlowService.edit(text, queue: "vip", create: true, changes: ["weekdays": "[mon, fri]", "hours": "08:00-18:00"])
        s = try QueueSettings.parse(text)
        #expect(s.queues["vip"]?.weekdays == ["mon", "fri"] && s.queues["vip"]?.hours == "08:00-18:00")
        #expect(s.queues.count == 3)
    }

    @Test func refusals() throws {
        #expect(throws: (any Error).self) { try FlowService.edit(file, queue: "nosuch", create: false, changes: ["strategy": "ring-all"]) }
        #expect(throws: (any Error).self) { try FlowService.edit(file, queue: "sales", create: true, changes: ["strategy": "ring-all"]) }
        #expect(throws: (any Error).self) { try FlowService.edit(file, queue: "sales", create: false, changes: ["colour": "blue"]) }
        #expect(throws: (any Error).self) { try FlowService.edit(file, queue: "", create: false, changes: ["strategy": "ring-all"]) }
        // Accepted by the editor, refused by the file's rules (the server writes nothing then).
        let bad = try FlowService.edit(file, queue: "sales", create: false, changes: ["strategy": "fastest"])
        #expect(throws: (any Error).self) { try QueueSettings.parse(bad) }
    }
}
