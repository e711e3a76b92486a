import Foundation
import Testing
import TestSupport
@testable import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// CT ↔ Flow call control over the real protocol link: a test harness attaches to a ct-server
/// process as a Flow-Server and answers, rejects, originates and hangs up; SIPp is the phone.
@Suite(.serialized) struct CallControlTests {
    let edge = SIPEdgeTests()

    /// Starts a ct-server; returns it with its SIP and link ports.
    func startCT() throws -> (ChildProcess, sip: Int, link: Int, dir: URL) {
        let ct = try CTServerUnderTest()
        return (ct.process, ct.sip, ct.link, ct.dir)
    }

    /// An in-process Flow-Server stand-in on its own loop.
    final class FlowHarness {
        let lt: LoopThread
        let dialer: Dialer
        let events = Box<[ChannelEvent]>([])
        let media = Box<[MediaEventMessage]>([])
        var onOffered: ((Connection, ChannelEvent) -> Void)?
        var onEvent: ((Connection, ChannelEvent) -> Void)?

        init(linkPort: Int) throws {
            lt = try LoopThread("flow-harness")
            let events = self.events, media = self.media
            var cfg = LinkConfiguration(secret: "e2e-flow-link-secret")
            cfg.heartbeatIntervalMs = 1000
            let d = Dialer(loop: lt.loop, host: "127.0.0.1", port: linkPort, configuration: cfg,
                           identity: LinkIdentity(role: .flowServer, name: "harness"), expectedPeerRoles: [.ctServer], logger: TestSupport.logger)
            dialer = d
            try lt.sync {
                d.onConnection = { [weak self] c in
                    c.onEvent = { conn, frame in
                        if frame.type == MediaEventMessage.messageType, let m = try? MediaEventMessage.decode(frame.body) {
                            media.mutate { $0.append(m) }
                            return
                        }
                        guard let e = try? ChannelEvent.decode(frame.body) else { return }
                        events.mutate { $0.append(e) }
                        if e.kind == .offered { self?.onOffered?(conn, e) }
                        self?.onEvent?(conn, e)
                    }
                }
                d.start()
            }
            #expect(TestSupport.waitUntil { (try? self.lt.sync { d.established != nil }) == true })
        }

        func request<M: WireMessage>(_ m: M) -> Result<ChannelCommandResult, ProtocolError> {
            let r = Box<Result<ChannelCommandResult, ProtocolError>?>(nil)
            lt.loop.execute { [dialer] in
                guard let c = dialer.established else { r.value = .failure(ProtocolError(.unavailable, "down")); return }
                c.request(m, expecting: ChannelCommandResult.self) { r.value = $0 }
            }
            TestSupport.waitUntil(10) { r.value != nil }
            return r.value ?? .failure(ProtocolError(.timeout, "test"))
        }

        func kinds(_ id: String) -> [ChannelEvent.Kind] { events.value.filter { $0.channelID == id }.map(\.kind) }

        func stop() {
            try? lt.sync { self.dialer.stop() }
            lt.stop()
        }
    }

    /// SIPp calls in; the Flow-Server answers on the Offered event; SIPp hangs up; the
    /// Flow-Server sees Offered, Established, ConnectionCleared.
    @Test func flowServerAnswersAnInboundCall() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in
            conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in }
        }
        let r = try edge.sippBuiltin("uac", port: sip, ["-s", "4000", "-d", "500"], calls: 3)
        #expect(r.0 == 0, "\(r.1)")
        #expect(TestSupport.waitUntil(5) { flow.events.value.filter { $0.kind == .cleared }.count == 3 })
        let first = try #require(flow.events.value.first)
        #expect(first.kind == .offered && first.called == "4000" && first.direction == .inbound)
        #expect(flow.kinds(first.channelID) == [.offered, .established, .cleared])
    }

    /// The Flow-Server rejects: SIPp gets the 486 it asked for.
    @Test func flowServerRejectsWithACause() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in
            conn.request(RejectChannel(channelID: e.channelID, sipCode: 486, reason: "all agents busy"), expecting: ChannelCommandResult.self) { _ in }
        }
        let r = try edge.sippBuiltin("uac", port: sip, ["-s", "4000"], calls: 1, seconds: 10)
        #expect(r.0 != 0)
        #expect(r.1.contains("486") || r.1.contains("Failed"), "\(r.1)")
        #expect(TestSupport.waitUntil(5) { flow.events.value.contains { $0.kind == .cleared && $0.cause == "all agents busy" } })
    }

    /// The CT-Server dials a SIPp UAS on the Flow-Server's command, the UAS answers, the
    /// Flow-Server hangs up: Delivered, Established, ConnectionCleared; SIPp sees a clean call.
    @Test func originateToASippUAS() throws {
        let (ct, _, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let uasPorts = SIPp.Ports()
        let uasPort = uasPorts.sip
        let uas = try SIPp.start(nil, builtin: "uas", ports: uasPorts, ["-m", "1", "-timeout", "30"])
        defer { uas.stop() }
        usleep(300_000)
        let result = flow.request(Originate(destination: "sip:agent@127.0.0.1:\(uasPort)", callerID: "4000", timeoutMs: 10_000))
        let id = try #require(try? result.get().channelID, "\(result)")
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.established) }, "\(flow.events.value)")
        #expect(flow.kinds(id).first == .delivered)
        #expect((try? flow.request(HangupChannel(channelID: id, cause: "agent done")).get()) != nil)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).last == .cleared })
        #expect(TestSupport.waitUntil(10) { !uas.isRunning }, "SIPp UAS did not finish")
        #expect(uas.terminationStatus == 0, "\(uas.outputText.suffix(1500))")
    }

    /// Originate to a destination that answers busy, and to a registered-user name that is not
    /// registered: Failed with the cause, or a clear error.
    @Test func originateFailures() throws {
        let (ct, _, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        guard case .failure(let e) = flow.request(Originate(destination: "1001", callerID: "x")) else {
            Issue.record("originate to an unregistered user succeeded"); return
        }
        #expect(e.reason.contains("not registered"))
        // A ct-server of its own answers 480 to any non-echo INVITE without a Flow-Server: dial it.
        let (other, otherSIP, otherDir) = try edge.startCT()
        defer { other.stop(); try? FileManager.default.removeItem(at: otherDir) }
        let id = try #require(try? flow.request(Originate(destination: "sip:5555@127.0.0.1:\(otherSIP)", callerID: "4000")).get().channelID)
        #expect(TestSupport.waitUntil(10) { flow.events.value.contains { $0.channelID == id && $0.kind == .failed && $0.sipCode == 480 } },
                "\(flow.events.value)")
    }

    /// A real flow-server process with no flows rejects offered calls with 480 and the reason.
    @Test func flowServerWithoutFlowsRejectsWithReason() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try ChildProcess("flow-server", ["--name", "flow-nf", "--ct", "127.0.0.1:\(link)", "--listen", "127.0.0.1:0"],
                                    environment: ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret", "HOTLINE_APP_LINK_SECRET": "e2e-app-secret"])
        defer { flow.stop() }
        #expect(ct.waitForLine(containing: "flow-server flow-nf attached") != nil)
        let r = try edge.sipp("invite_480.xml", port: sip, ["-s", "4321"], calls: 2)
        #expect(r.0 == 0, "\(r.1)")
        #expect(flow.waitForLine(containing: "Offered inbound to 4321") != nil, "\(flow.outputText)")
    }
}

extension CallControlTests {
    /// The Flow-Server redirects an offered call: SIPp gets 302 with the target in Contact.
    @Test func flowServerRedirects() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in
            conn.request(RedirectChannel(channelID: e.channelID, target: "sip:overflow@127.0.0.1:5999"), expecting: ChannelCommandResult.self) { _ in }
        }
        let r = try edge.sipp("invite_redirect.xml", port: sip, ["-s", "4000"], calls: 1)
        #expect(r.0 == 0, "\(r.1)")
        #expect(TestSupport.waitUntil(5) { flow.events.value.contains { $0.kind == .cleared && $0.cause.contains("redirected") } })
    }

    /// DTMF sent as SIP INFO (application/dtmf-relay) reaches the Flow-Server as DigitsReceived.
    @Test func infoDTMFReachesTheFlowServer() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        let r = try edge.sipp("call_info_dtmf.xml", port: sip, ["-s", "4000"], calls: 1)
        #expect(r.0 == 0, "\(r.1)")
        #expect(TestSupport.waitUntil(5) { flow.events.value.filter { $0.kind == .digits }.map(\.digits) == ["5", "#"] }, "\(flow.events.value)")
    }

    /// Blind transfer: the CT-Server REFERs the far end (a SIPp UAS) to a target, the far end
    /// reports success by NOTIFY sipfrag 200, and the leg is released with BYE.
    @Test func blindTransferWithRefer() throws {
        let (ct, _, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let uasPorts = SIPp.Ports()
        let uasPort = uasPorts.sip
        let uas = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_refer.xml"), ports: uasPorts, ["-m", "1", "-timeout", "30"])
        defer { uas.stop() }
        usleep(300_000)
        let id = try #require(try? flow.request(Originate(destination: "sip:far@127.0.0.1:\(uasPort)", callerID: "4000")).get().channelID)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.established) }, "\(flow.events.value)")
        #expect((try? flow.request(TransferChannel(channelID: id, target: "sip:6000@127.0.0.1:5999")).get()) != nil)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.transferred) && flow.kinds(id).last == .cleared }, "\(flow.events.value)")
        #expect(TestSupport.waitUntil(10) { !uas.isRunning })
        #expect(uas.terminationStatus == 0, "\(uas.outputText.suffix(2000))")
    }
}

extension CallControlTests {
    /// Hold and resume from the caller (re-INVITE sendonly / sendrecv): the answers mirror the
    /// direction and the Flow-Server sees Held then Retrieved.
    @Test func holdAndResume() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        let r = try edge.sipp("call_hold.xml", port: sip, ["-s", "4000"], calls: 1)
        #expect(r.0 == 0, "\(r.1)")
        let id = try #require(flow.events.value.first?.channelID)
        #expect(TestSupport.waitUntil(5) { flow.kinds(id) == [.offered, .established, .held, .retrieved, .cleared] }, "\(flow.kinds(id))")
    }

    /// Hold and resume with UPDATE (RFC 3311) instead of re-INVITE: answered with SDP, and the
    /// Flow-Server sees Held then Retrieved.
    @Test func holdAndResumeWithUpdate() throws {
        let (ct, sip, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        flow.onOffered = { conn, e in conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { _ in } }
        let r = try edge.sipp("call_hold_update.xml", port: sip, ["-s", "4000"], calls: 1)
        #expect(r.0 == 0, "\(r.1)")
        let id = try #require(flow.events.value.first?.channelID)
        #expect(TestSupport.waitUntil(5) { flow.kinds(id) == [.offered, .established, .held, .retrieved, .cleared] }, "\(flow.kinds(id))")
    }

    /// Originate to a UAS that answers 302: the CT-Server follows the Contact to a second UAS,
    /// which answers; the Flow-Server sees Established on the same channel.
    @Test func originateFollowsARedirect() throws {
        let (ct, _, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let (moved, final) = (SIPp.Ports(), SIPp.Ports())
        let (movedPort, finalPort) = (moved.sip, final.sip)
        let mover = try SIPp.start(nil, scenario: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uas_302.xml"), ports: moved,
                                   ["-key", "target", "127.0.0.1:\(finalPort)", "-m", "1", "-timeout", "30"])
        defer { mover.stop() }
        let uas = try SIPp.start(nil, builtin: "uas", ports: final, ["-m", "1", "-timeout", "30"])
        defer { uas.stop() }
        usleep(300_000)
        let id = try #require(try? flow.request(Originate(destination: "sip:agent@127.0.0.1:\(movedPort)", callerID: "4000", timeoutMs: 10_000)).get().channelID)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.established) }, "\(flow.events.value) \(ct.outputText.suffix(1500))")
        #expect(ct.outputLines.contains { $0.contains("302 redirect to sip:moved@127.0.0.1:\(finalPort)") })
        #expect((try? flow.request(HangupChannel(channelID: id, cause: "done")).get()) != nil)
        #expect(TestSupport.waitUntil(10) { !uas.isRunning && !mover.isRunning })
        #expect(uas.terminationStatus == 0 && mover.terminationStatus == 0, "\(uas.outputText.suffix(800)) \(mover.outputText.suffix(800))")
    }

    /// Originate over TCP: the CT-Server opens the connection, the SIPp UAS answers on it.
    @Test func originateOverTCP() throws {
        let (ct, _, link, dir) = try startCT()
        defer { ct.stop(); try? FileManager.default.removeItem(at: dir) }
        let flow = try FlowHarness(linkPort: link)
        defer { flow.stop() }
        let uasPorts = SIPp.Ports()
        let port = uasPorts.sip
        let uas = try SIPp.start(nil, builtin: "uas", ports: uasPorts, ["-t", "t1", "-m", "1", "-timeout", "30"])
        defer { uas.stop() }
        usleep(300_000)
        let id = try #require(try? flow.request(Originate(destination: "sip:agent@127.0.0.1:\(port);transport=tcp", callerID: "4000", timeoutMs: 10_000)).get().channelID)
        #expect(TestSupport.waitUntil(10) { flow.kinds(id).contains(.established) }, "\(flow.events.value) \(ct.outputText.suffix(1500))")
        #expect(ct.outputLines.contains { $0.contains("SIP tcp: connecting to 127.0.0.1:\(port)") })
        #expect((try? flow.request(HangupChannel(channelID: id, cause: "done")).get()) != nil)
        #expect(TestSupport.waitUntil(10) { !uas.isRunning })
        #expect(uas.terminationStatus == 0, "\(uas.outputText.suffix(1500))")
    }
}
