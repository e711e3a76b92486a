import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Outbound trunks against SIPp playing the carrier: digest credentials, OPTIONS keep-alives,
/// and the toll-fraud guard (an inbound INVITE never reaches a trunk).
@Suite(.serialized) struct TrunkTests {
    let edge = SIPEdgeTests()
    typealias FlowHarness = CallControlTests.FlowHarness

    func startCT(trunk: String) throws -> (ChildProcess, sip: Int, link: Int, dir: URL) {
        let ct = try CTServerUnderTest(extraSIP: trunk)
        return (ct.process, ct.sip, ct.link, ct.dir)
    }

    @Test func originateThroughATrunkAnswersItsChallenge() throws {
        let carrierPorts = SIPp.Ports()
        let carrierPort = carrierPorts.sip
        let (ct, sip, link, dir) = try startCT(trunk: """
              trunks:
                - name: carrier
                  address: 127.0.0.1:\(carrierPort)
                  username: trunkuser
                  password: trunk-secret-1
                  options_interval_ms: 0
            """)
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let carrier = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_trunk_auth.xml"), ports: carrierPorts,
                                     ["-m", "1", "-timeout", "30", "-timeout_error"])
        defer { carrier.stop() }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in
            conn.request(RejectChannel(channelID: e.channelID, sipCode: 480, reason: "not for the public"), expecting: ChannelCommandResult.self) { _ in }
        }
        // Toll-fraud guard: an unauthenticated caller dials an international number; it is offered
        // to the Flow-Server (which rejects it) and never relayed to the trunk.
        let fraud = try edge.sipp("invite_480.xml", port: sip, ["-s", "0044123456789"], calls: 1)
        #expect(fraud.0 == 0, "\(fraud.1)")
        let id = try #require(try? flow.request(Originate(destination: "0044123456789", callerID: "4000", timeoutMs: 10_000, trunk: "carrier")).get().channelID)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.established) }, "\(flow.events.value) \(carrier.outputText.suffix(1000))")
        #expect(flow.events.value.first { $0.channelID == id }?.line == "carrier")
        #expect((try? flow.request(HangupChannel(channelID: id, cause: "done")).get()) != nil)
        // The carrier saw exactly one call — ours — and accepted its credentials.
        #expect(TestSupport.waitUntil(10) { !carrier.isRunning })
        #expect(carrier.terminationStatus == 0, "\(carrier.outputText.suffix(1500))")
        // Unknown trunks and non-numbers are refused.
        if case .failure(let e) = flow.request(Originate(destination: "123", callerID: "", trunk: "nosuch")) {
            #expect("\(e)".contains("no trunk nosuch"))
        } else { Issue.record("an unknown trunk was accepted") }
        if case .failure(let e) = flow.request(Originate(destination: "sip:x@1.2.3.4", callerID: "", trunk: "carrier")) {
            #expect("\(e)".contains("is a number"))
        } else { Issue.record("a URI was dialled through a trunk") }
    }

    @Test func keepAlivesMarkATrunkUpAndDown() throws {
        let carrierPorts = SIPp.Ports()
        let carrierPort = carrierPorts.sip
        let carrier = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_options.xml"), ports: carrierPorts,
                                     ["-m", "1000", "-timeout", "60"])
        let (ct, _, link, dir) = try startCT(trunk: """
              trunks:
                - name: pstn
                  address: 127.0.0.1:\(carrierPort)
                  options_interval_ms: 300
                  options_timeout_ms: 600
            """)
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        #expect(ct.waitForLine(containing: "trunk pstn up (OPTIONS answered 200)") != nil, "\(ct.outputText.suffix(1500))")
        carrier.stop()
        #expect(ct.waitForLine(containing: "trunk pstn down (no answer to OPTIONS") != nil, "\(ct.outputText.suffix(1500))")
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        if case .failure(let e) = flow.request(Originate(destination: "110", callerID: "", trunk: "pstn")) {
            #expect("\(e)".contains("trunk pstn is down"), "\(e)")
        } else { Issue.record("a call was placed on a trunk that is down") }
    }
}
