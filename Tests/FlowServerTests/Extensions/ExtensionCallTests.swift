import Foundation
import Testing
@testable import FlowServerKit

/// A phone calling an extension: the machine alone, and the mapping table that decides it.
@Suite struct ExtensionCallTests {
    @Test func ringsThenAnswersThenEitherSideEndsBoth() {
        var c = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        #expect(c.start() == [.ring("in"), .dial(destination: "1002", callerID: "1001")])
        #expect(c.handle(.dialled(leg: "out")) == [.record(.dialled(leg: "out"))])
        #expect(c.handle(.answered(leg: "other")).isEmpty, "an unknown channel answering changes nothing")
        #expect(c.handle(.answered(leg: "out")) == [.answer("in"), .bridge("in", "out"), .record(.answered(leg: "out"))])
        #expect(c.handle(.cleared(channel: "out")) == [.record(.endedBy("called")), .hangup("in", cause: "called party hung up")])
        #expect(c.phase == .ended(.calledHungUp))

        var d = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = d.handle(.dialled(leg: "out"))
        _ = d.handle(.answered(leg: "out"))
        #expect(d.handle(.cleared(channel: "in")) == [.hangup("out", cause: "caller hung up")])
        #expect(d.phase == .ended(.callerHungUp))
    }

    /// The extension's status reaches the caller: busy stays busy, an unregistered extension is
    /// 480, and the caller is never answered.
    @Test func unansweredExtensionGivesTheCallerItsStatus() {
        var busy = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = busy.handle(.dialled(leg: "out"))
        #expect(busy.handle(.failed(leg: "out", code: 486, cause: "busy")) == [.record(.unanswered(code: 486, cause: "busy")), .reject("in", code: 486, reason: "busy")])
        var nobody = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1009")
        #expect(nobody.handle(.dialFailed(reason: "1009 is not registered"))
            == [.record(.unanswered(code: 480, cause: "1009 is not registered")), .reject("in", code: 480, reason: "1009 is not registered")])
        var odd = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = odd.handle(.dialled(leg: "out"))
        #expect(odd.handle(.failed(leg: "out", code: 0, cause: "failed")).contains(.reject("in", code: 480, reason: "failed")))
    }

    /// The caller gives up while the extension rings: the ringing stops; a leg dialled after the
    /// caller left is hung up.
    @Test func callerLeavesWhileRinging() {
        var c = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = c.handle(.dialled(leg: "out"))
        #expect(c.handle(.cleared(channel: "in")) == [.hangup("out", cause: "caller left")])
        var late = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        #expect(late.handle(.cleared(channel: "in")).isEmpty)
        #expect(late.handle(.dialled(leg: "out")) == [.hangup("out", cause: "caller left")])
    }

    /// Either phone transfers (REFER): the extension's transfer keeps the call with the new
    /// party; the caller's leaves the extension and the target as a pair.
    @Test func transfersFromEitherPhone() {
        var c = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = c.handle(.dialled(leg: "out"))
        _ = c.handle(.answered(leg: "out"))
        #expect(c.handle(.transferred(channel: "out", to: "t", target: "1003")) == [.record(.transferred(to: "1003", by: "1002"))])
        #expect(c.leg == "t")
        #expect(c.handle(.cleared(channel: "out")).isEmpty, "the transferring phone's leg ending is not the call's end")
        #expect(c.handle(.cleared(channel: "t")) == [.record(.endedBy("called")), .hangup("in", cause: "called party hung up")])
        var d = ExtensionCall(callerChannel: "in", caller: "1001", destination: "1002")
        _ = d.handle(.dialled(leg: "out"))
        _ = d.handle(.answered(leg: "out"))
        #expect(d.handle(.transferred(channel: "in", to: "t", target: "1004")) == [.record(.transferred(to: "1004", by: "1001")), .pair("out", "t")])
        #expect(d.isEnded)
    }

    @Test func mappingTableDecidesExtensionsBeforeFlows() throws {
        let m = try MappingTable.parse("""
        extensions: ["1000-1999", "8001"]
        mappings:
          - called: ["1500"]
            flow: never
        default: hotline
        """)
        #expect(m.isExtensionCall(caller: "1001", called: "1500", line: "sip"))
        #expect(m.isExtensionCall(caller: "1001", called: "8001", line: "sip"))
        #expect(!m.isExtensionCall(caller: "1001", called: "1001", line: "sip"), "not a call to itself")
        #expect(!m.isExtensionCall(caller: "1001", called: "15000", line: "sip"), "a range holds numbers of its length only")
        #expect(!m.isExtensionCall(caller: "1001", called: "4000", line: "sip"))
        #expect(!m.isExtensionCall(caller: "13800138000", called: "1500", line: "carrier"), "trunk calls reach extensions through flows")
        #expect(throws: FlowError.self) { try MappingTable.parse("extensions: [\"1000-999\"]\n") }
        #expect(throws: FlowError.self) { try MappingTable.parse("extensions: [\"10a0\"]\n") }
        do {
            _ = try MappingTable.parse("default: hotline\nextension: [\"1000-1999\"]\n")
            Issue.record("a misspelt key was accepted")
        } catch let e as FlowError {
            #expect(e.line == 2 && e.message.contains("extension"), "\(e)")
        }
    }
}

extension ExtensionCallTests {
    /// The consultation call of an attended transfer is replaced: it ends without hanging up
    /// the party that now talks to the transferred caller.
    @Test func replacedByAnAttendedTransfer() {
        var c = ExtensionCall(callerChannel: "consult", caller: "1001", destination: "1003")
        _ = c.handle(.dialled(leg: "t"))
        _ = c.handle(.answered(leg: "t"))
        #expect(c.handle(.replaced(channel: "consult", target: "1003")) == [.record(.transferred(to: "1003", by: "1001"))])
        #expect(c.phase == .ended(.replaced))
        #expect(c.handle(.cleared(channel: "consult")).isEmpty && c.handle(.cleared(channel: "t")).isEmpty, "nobody is hung up afterwards")
    }
}
