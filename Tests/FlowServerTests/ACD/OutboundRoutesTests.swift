import Testing
@testable import FlowServerKit
@testable import Protocol

@Suite struct OutboundRoutesTests {
    @Test func patterns() {
        #expect(OutboundRoutes.matches("1[3-9]XXXXXXXXX", "13800138000"))
        #expect(!OutboundRoutes.matches("1[3-9]XXXXXXXXX", "12800138000"))
        #expect(!OutboundRoutes.matches("1[3-9]XXXXXXXXX", "1380013800"), "too short")
        #expect(OutboundRoutes.matches("0ZX.", "01055501234") && !OutboundRoutes.matches("0ZX.", "010"), ". is one or more")
        #expect(OutboundRoutes.matches("00!", "00") && OutboundRoutes.matches("00!", "0044"), "! is zero or more")
        #expect(OutboundRoutes.matches("NXXXXXX", "5551234") && !OutboundRoutes.matches("NXXXXXX", "1551234"))
        #expect(OutboundRoutes.matches("[1-5,7]", "7") && !OutboundRoutes.matches("[1-5,7]", "6"))
        #expect(OutboundRoutes.matches("+X.", "+861088880000"))
    }

    @Test func firstMatchingRouteThenDefault() {
        let t = OutboundRoutes(routes: [.init(name: "mobile", patterns: ["1[3-9]XXXXXXXXX"], trunk: "m", callerID: "4000"),
                                        .init(name: "intl", patterns: ["00X."], trunk: "i", strip: 2, prepend: "+")], defaultTrunk: "d")
        #expect(t.resolve("13800138000", callerID: "c") == .success(.init(number: "13800138000", trunk: "m", callerID: "4000", route: "mobile")))
        #expect(t.resolve("0044207946000", callerID: "c") == .success(.init(number: "+44207946000", trunk: "i", callerID: "c", route: "intl")))
        #expect(t.resolve("5551234", callerID: "c") == .success(.init(number: "5551234", trunk: "d", callerID: "c", route: "default")))
        #expect((try? t.resolve("55a", callerID: "c").get()) == nil, "not a number")
        let strict = OutboundRoutes(routes: t.routes, defaultTrunk: nil)
        #expect((try? strict.resolve("5551234", callerID: "c").get()) == nil, "no route, no default: refused")
        #expect(OutboundRoutes().resolve("1002", callerID: "c") == .success(.init(number: "1002", trunk: "", callerID: "c", route: "")),
                "no table: dialled as it is (registered phones only)")
    }

    @Test func parsedFromQueuesYamlWithLineNumbers() throws {
        let s = try QueueSettings.parse("""
            outbound:
              routes:
                - name: mobile
                  match: ["1[3-9]XXXXXXXXX"]
                  trunk: carrier
                  caller_id: "4000"
              default: carrier
            """)
        #expect(s.routes.routes.first?.trunk == "carrier" && s.routes.defaultTrunk == "carrier" && s.routes.configured)
        #expect(throws: QueueSettings.ParseError.self) { try QueueSettings.parse("outbound:\n  routes:\n    - match: [\"1X.X\"]\n      trunk: t\n") }
        do {
            _ = try QueueSettings.parse("outbound:\n  routes:\n    - match: \"1X.\"\n      trunk: t\n      trunkk: u\n")
            Issue.record("a misspelt key was accepted")
        } catch {
            #expect("\(error)".contains("line 5") && "\(error)".contains("trunkk"))
        }
    }

    @Test func clearCausesFromSIP() {
        #expect(ChannelEvent.Cause(sipCode: 486) == .userBusy && ChannelEvent.Cause(sipCode: 600) == .userBusy)
        #expect(ChannelEvent.Cause(sipCode: 603) == .callRejected && ChannelEvent.Cause(sipCode: 404) == .unallocatedNumber)
        #expect(ChannelEvent.Cause(sipCode: 480) == .noUserResponding && ChannelEvent.Cause(sipCode: 503) == .temporaryFailure)
        #expect(ChannelEvent.Cause(kind: .cleared, sipCode: 0) == .normalClearing)
        var e = ChannelEvent(channelID: "c", kind: .failed, direction: .outbound, caller: "", called: "", sipCode: 487, timestampMs: 0, causeCode: .noAnswer)
        var w = TLVWriter()
        e.encode(into: &w)
        var f = try! TLVFields(w.bytes)
        let back = try! ChannelEvent(fields: &f)
        #expect(back.causeCode == .noAnswer, "the code survives the wire, not only the SIP status")
        e.causeCode = ChannelEvent.Cause(rawValue: 999)
        #expect(e.causeCode.text == "cause 999")
    }
}
