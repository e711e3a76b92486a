import Foundation
import Testing
import TestSupport

/// The load generator of `hotline-bench rtp-load` (issue 20) against a real CT-Server over
/// real sockets: echo calls spread over the CT-Server's channel loops, the generator's two RTP
/// threads and several shared sockets each — every packet sent in the window comes back once,
/// intact, from its own call; and when the far end does not echo, the check says so.
@Suite(.serialized) struct RTPLoadTests {
    func generator(_ ct: CTServerUnderTest, number: String, calls: Int, seconds: Double) throws -> RTPLoadGenerator.Report {
        var c = RTPLoadGenerator.Configuration()
        c.serverPort = ct.sip
        c.number = number
        c.calls = calls
        c.rate = 100
        c.seconds = seconds
        c.workers = 2
        c.callsPerSocket = 4
        c.rtpPortBase = TestPorts.block(2 * ((calls + 3) / 4 + 2))
        return try RTPLoadGenerator(c).run()
    }

    @Test func everyEchoedPacketComesBackOnceFromItsOwnCall() throws {
        let ct = try CTServerUnderTest(extraSIP: "  trusted_sources: [127.0.0.1]", top: "media:\n  loops: 2")
        defer { ct.stop() }
        let r = try generator(ct, number: "*43", calls: 24, seconds: 3)
        #expect(r.answered == 24 && r.failed == 0 && r.ended == 24, "\(r.line)")
        #expect(r.rtp.windowSent >= 24 * 140, "\(r.line)")       // 50 packets/s per call for 3 s
        #expect(r.rtp.corrupt == 0 && r.rtp.crossTalk == 0 && r.rtp.duplicates == 0 && r.rtp.foreign == 0, "\(r.line)")
        // A debug build on a busy test machine may lose a late packet or two; never more.
        #expect(r.returnedPercent >= 99.5, "\(r.line)")
        #expect(r.echoMs(0.5) > 0 && r.echoMs(0.5) < 200, "\(r.line)")
        // Every channel ended, on both loops.
        #expect(ct.process.waitForLine(containing: "channel loop 1: channels=0") != nil)
    }

    @Test func aFarEndThatDoesNotEchoIsCaught() throws {
        // *44 plays a prompt instead of echoing: frames arrive, none of them ours.
        let ct = try CTServerUnderTest(extraSIP: "  trusted_sources: [127.0.0.1]")
        defer { ct.stop() }
        let r = try generator(ct, number: "*44", calls: 4, seconds: 1)
        #expect(r.answered == 4, "\(r.line)")
        #expect(r.rtp.windowSent > 0 && r.rtp.windowReturned == 0 && r.rtp.corrupt > 0, "\(r.line)")
        #expect(r.returnedPercent == 0, "\(r.line)")
    }
}
