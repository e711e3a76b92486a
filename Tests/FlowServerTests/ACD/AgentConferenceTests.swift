import Foundation
import Testing
import TestSupport
@testable import FlowServerKit
@testable import Protocol

/// The agent-hosted conference through the ACD's runner against the scripted CT-Server.
@Suite struct AgentConferenceTests {
    typealias Rig = ACDCallTests.Rig

    func open() throws -> (Rig, CallDistributor.Agent) {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        _ = try r.d.openConference(a1)
        return (r, a1)
    }

    /// Eight added talkers at most; listeners beyond; `*1` from a listener is a floor request
    /// the host grants (the ninth talker is refused until one is muted).
    @Test func talkersListenersAndTheFloor() throws {
        let (r, a1) = try open()
        #expect(r.call?.talk?.conference == "host-in-1")
        for i in 1...8 { _ = try r.d.conferenceAdd(a1, to: "ext:t\(i)", kind: .talker) }
        #expect(throws: CallDistributor.CommandError.self) { try r.d.conferenceAdd(a1, to: "ext:t9", kind: .talker) }
        _ = try r.d.conferenceAdd(a1, to: "ext:l1", kind: .listener)
        r.flush()
        for ext in (1...8).map({ "ext:t\($0)" }) + ["ext:l1"] {
            let leg = try #require(r.leg(to: String(ext.dropFirst(4))))
            r.event(leg, .established)
        }
        let conf = try #require(r.d.conferences["in-1"])
        #expect(conf.parties.count == 11 && conf.parties.values.filter { $0.connected }.count == 11)
        let listener = try #require(conf.parties.values.first { $0.number == "l1" })
        // A talker's *1 is nothing; a listener's is a request.
        let t1 = try #require(conf.parties.values.first { $0.number == "t1" })
        r.d.channelEvent(ChannelEvent(channelID: t1.leg!, kind: .digits, direction: .outbound, caller: "", called: "", timestampMs: 0, digits: "*1"))
        r.d.channelEvent(ChannelEvent(channelID: listener.leg!, kind: .digits, direction: .outbound, caller: "", called: "", timestampMs: 0, digits: "*"))
        r.d.channelEvent(ChannelEvent(channelID: listener.leg!, kind: .digits, direction: .outbound, caller: "", called: "", timestampMs: 0, digits: "1"))
        var rows = try r.d.conferenceRoster(a1)
        #expect(rows.filter { $0["floor_requested"] == "yes" }.map { $0["number"] } == ["l1"])
        #expect(throws: CallDistributor.CommandError.self) { try r.d.conferenceFloor(a1, party: listener.id, grant: true) }
        _ = try r.d.conferenceFloor(a1, party: t1.id, grant: false)
        _ = try r.d.conferenceFloor(a1, party: listener.id, grant: true)
        rows = try r.d.conferenceRoster(a1)
        #expect(rows.first { $0["number"] == "l1" }?["may_talk"] == "yes" && rows.first { $0["number"] == "t1" }?["may_talk"] == "no")
        r.d.conferenceTalking(listener.leg!, on: true)
        #expect(try r.d.conferenceRoster(a1).first { $0["number"] == "l1" }?["talking"] == "yes")
        // The host hangs up: the call and the conference end; every party is hung up.
        r.event(try #require(r.call?.talk?.leg), .cleared)
        #expect(r.d.conferences.isEmpty && r.d.conferenceLegs.isEmpty)
        #expect(r.ct.clears.contains(listener.leg!) && r.ct.clears.contains(t1.leg!))
    }

    /// An agent in the conference becomes its host; the old host leaves and wraps up.
    @Test func handedToAnotherAgent() throws {
        let (r, a1) = try open()
        let a2 = try r.login("a2", ready: false)
        _ = try r.d.conferenceAdd(a1, to: "agent:a2", kind: .talker)
        #expect(a2.machine.state.name == "reserved")
        r.flush()
        let leg2 = try #require(r.leg(to: "ext-a2"))
        #expect(a2.machine.state.name == "ringing")
        r.event(leg2, .established)
        #expect(a2.machine.state == .talking(call: "in-1"))
        let oldLeg = try #require(r.call?.talk?.leg)
        _ = try r.d.conferenceHand(a1, to: "a2")
        #expect(r.call?.agent == "a2" && r.call?.talk?.leg == leg2 && r.call?.talk?.conference == "host-in-1")
        #expect(r.ct.clears.contains(oldLeg) && a1.machine.state.name == "wrap-up")
        #expect(r.d.conferences["in-1"]?.host == "a2")
        #expect(throws: CallDistributor.CommandError.self) { try r.d.conferenceRoster(a1) }
        #expect(try r.d.conferenceRoster(a2).count == 2)
        // The caller hangs up: everything ends; a2 wraps up.
        r.event("in-1", .cleared)
        #expect(r.d.conferences.isEmpty && a2.machine.state.name == "wrap-up")
    }
}
