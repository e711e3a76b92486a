import Foundation
import Testing
import TestSupport
@testable import FlowServerKit
@testable import Protocol

/// Supervisors' actions on the ACD call and the agent's machine, through the runner against
/// the scripted CT-Server on virtual time.
@Suite struct SupervisionTests {
    typealias Rig = ACDCallTests.Rig

    /// Intercept with the supervisor's phone rung: the agent keeps the call while it rings; once
    /// it answers, the caller is bridged to it, the agent's leg is hung up and the agent wraps
    /// up; the call ends when the supervisor hangs up.
    @Test func interceptRingsTheSupervisorThenTakesTheCaller() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        let agentLeg = try #require(r.call?.talk?.leg)
        let text = try r.d.supervise(SupervisorCommand(action: .intercept, agent: "a1", supervisor: "s1", sipExtension: "ext-s1"))
        #expect(text.contains("ringing your phone ext-s1"))
        #expect(throws: CallDistributor.CommandError.self) { try r.d.supervise(SupervisorCommand(action: .intercept, agent: "a1", supervisor: "s2", sipExtension: "ext-s2")) }
        r.flush()
        let sup = try #require(r.leg(to: "ext-s1"))
        #expect(r.call?.talk?.intercept?.leg == sup)
        #expect(a1.machine.state.name == "talking", "the agent keeps the call while the supervisor's phone rings")
        r.event(sup, .established)
        #expect(r.call?.phase == .intercepted(supervisor: "s1", leg: sup))
        #expect(r.ct.clears.contains(agentLeg), "the agent's leg is released")
        #expect(a1.machine.state.name == "wrap-up")
        r.event(sup, .cleared)
        #expect(r.call == nil)
        #expect(r.ct.clears.contains("in-1"), "the caller is hung up when the supervisor hangs up")
    }

    /// A supervisor listening to the agent intercepts with the monitoring leg itself: no new dial.
    @Test func interceptTakesTheMonitoringLeg() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        _ = try r.d.supervise(SupervisorCommand(action: .listen, agent: "a1", supervisor: "s1", sipExtension: "ext-s1"))
        r.flush()
        let mon = try #require(r.leg(to: "ext-s1"))
        r.event(mon, .established)
        #expect(r.d.monitorLegs[mon]?.established == true)
        let dials = r.ct.destination.count
        #expect(try r.d.supervise(SupervisorCommand(action: .intercept, agent: "a1", supervisor: "s1")) == "you have a1's caller")
        #expect(r.ct.destination.count == dials, "nothing dialled")
        #expect(r.d.monitorLegs[mon] == nil, "the leg is no longer a tap")
        #expect(r.call?.phase == .intercepted(supervisor: "s1", leg: mon))
        #expect(a1.machine.state.name == "wrap-up")
        r.event("in-1", .cleared)
        #expect(r.ct.clears.contains(mon), "the caller hanging up hangs up the supervisor")
    }

    /// Force-release clears the caller and the agent's leg; another supervisor's monitoring leg
    /// ends with the call.
    @Test func forceReleaseClearsTheCallAndEndsMonitoring() throws {
        let r = Rig()
        let a1 = try r.login("a1")
        try r.connect(a1)
        let agentLeg = try #require(r.call?.talk?.leg)
        _ = try r.d.supervise(SupervisorCommand(action: .barge, agent: "a1", supervisor: "s2", sipExtension: "ext-s2"))
        r.flush()
        let mon = try #require(r.leg(to: "ext-s2"))
        r.event(mon, .established)
        _ = try r.d.supervise(SupervisorCommand(action: .forceRelease, agent: "a1", supervisor: "s1", reason: "abusive caller"))
        #expect(r.call == nil)
        #expect(r.ct.clears.contains("in-1") && r.ct.clears.contains(agentLeg))
        #expect(a1.machine.state.name == "wrap-up")
        r.flush()
        r.event(agentLeg, .cleared)
        #expect(r.ct.clears.contains(mon), "monitoring ends with the call")
        #expect(r.d.monitorLegs.isEmpty)
    }

    /// Forced states: ready even when locked; not ready and logout on a call wait for its end.
    @Test func forcedStatesWaitForTheCall() throws {
        let r = Rig()
        let a1 = try r.login("a1", ready: false)
        r.d.handle(a1, .notReady(reason: "lunch", lockPassword: "pw"))
        #expect(r.d.handle(a1, .ready(password: nil)) != nil, "locked")
        _ = try r.d.supervise(SupervisorCommand(action: .forceReady, agent: "a1", supervisor: "s1"))
        #expect(a1.machine.state.name == "ready")
        try r.connect(a1)
        let leg = try #require(r.call?.talk?.leg)
        let t = try r.d.supervise(SupervisorCommand(action: .forceLogout, agent: "a1", supervisor: "s1"))
        #expect(t.contains("when it ends") && a1.machine.state.name == "talking" && r.d.agents["a1"] != nil)
        r.event(leg, .cleared)
        #expect(r.d.agents["a1"] == nil, "logged out when the call ended")
        #expect(a1.machine.state == .loggedOut)

        let a2 = try r.login("a2")
        r.caller("in-2")
        r.flush()
        let leg2 = try #require(r.leg(to: "ext-a2"))
        r.event(leg2, .established)
        _ = try r.d.supervise(SupervisorCommand(action: .forceNotReady, agent: "a2", supervisor: "s1", reason: "coaching"))
        #expect(a2.machine.state.name == "talking")
        r.event(leg2, .cleared)
        #expect(a2.machine.state.name == "wrap-up", "the wrap-up first")
        r.clock.advance(by: 2)
        #expect(a2.machine.state == .notReady(reason: "coaching", locked: false))
    }
}

@Suite struct ForcedAgentStateTests {
    @Test func forcedTransitions() {
        var m = AgentStateMachine(wrapUpSeconds: 5)
        #expect(m.handle(.forceReady, now: 0) == [.refuse("not logged in")])
        _ = m.handle(.login, now: 1)
        _ = m.handle(.ready(password: nil), now: 2)
        _ = m.handle(.reserve(call: "c"), now: 3)
        #expect(m.handle(.forceReady, now: 3) == [.refuse("reserved: on a call")])
        #expect(m.handle(.forceNotReady(reason: "meeting"), now: 3) == [.deferred("not ready (meeting) when the call ends")])
        // The offer is rejected: the agent would be ready; the forced not-ready takes its place.
        let a = m.handle(.rejected(call: "c"), now: 4)
        #expect(m.state == .notReady(reason: "meeting", locked: false))
        #expect(a.contains(.requeue(call: "c", reason: .rejected)))
        _ = m.handle(.forceReady, now: 5)
        _ = m.handle(.reserve(call: "d"), now: 6)
        _ = m.handle(.answered(call: "d"), now: 7)
        #expect(m.handle(.forceLogout, now: 8) == [.deferred("logged out when the call ends")])
        let end = m.handle(.callEnded(call: "d"), now: 9)
        #expect(m.state == .loggedOut && end.contains(.sessionEnded) && !m.pendingLogout)
        #expect(end.filter { $0 == .sessionEnded }.count == 1)
    }
}
