import Foundation
import Testing
import TestSupport
@testable import CTServerKit

/// RFC 4475 "SIP Torture Test Messages": one test per message, named as in the RFC, read
/// byte-exact from TestSupport.rfc4475Directory (deploy/lib/rfc4475.py; each file is one UDP datagram).
@Suite struct RFC4475TortureTests {
    static let folder = TestSupport.rfc4475Directory

    enum Expect: Equatable {
        case accept
        case reject(Int)
        case drop
    }

    func run(_ name: String) throws -> (SIPRequestScreen.Verdict, Result<SIPMessage, SIPParseError>) {
        let bytes = try TestSupport.rfc4475Message(name)
        let parsed = SIPParser().parse(bytes, framing: .datagram)
        return (SIPRequestScreen().screen(parsed), parsed)
    }

    @discardableResult
    func check(_ name: String, _ expect: Expect) throws -> SIPMessage? {
        let (verdict, parsed) = try run(name)
        switch (verdict, expect) {
        case (.accept(let m), .accept): return m
        case (.reject(let req, let code, _, _), .reject(let want)):
            #expect(code == want, "\(name): answered \(code), expected \(want)")
            // The answer is a well-formed response we can parse back.
            let resp = req.makeResponse(code, SIPMessage.reasonPhrase(code), toTag: "t1")
            let back = SIPParser().parse(resp.serialized())
            #expect((try? back.get())?.statusCode == code, "\(name): the \(code) we would send does not parse back")
            return req
        case (.drop, .drop): return nil
        default:
            Issue.record("\(name): verdict \(verdict), expected \(expect); parse: \(parsed)")
            return nil
        }
    }

    // MARK: 3.1.1 valid messages

    @Test func wsinv() throws {
        let m = try #require(try check("wsinv", .accept))
        #expect(m.method == "INVITE")
        #expect(m.maxForwards == 68)
        #expect(m.cseq == SIPCSeq(number: 9, method: "INVITE"))
        #expect(m.to?.tag == "1918181833n")
        #expect(m.from?.displayName == "J Rosenberg \\\"")
        #expect(m.from?.tag == "98asjd8")
        #expect(try m.vias.map(\.transport) == ["UDP", "TCP", "UDP"])
        #expect(try m.vias[1].branch == "z9hG4bK9ikj8")
        #expect(m.body.count == Int(m.value(.contentLength) ?? "") ?? -1)
    }

    @Test func intmeth() throws {
        try check("intmeth", .reject(501))
        let (_, parsed) = try run("intmeth")
        let m = try parsed.get()
        #expect(m.method == "!interesting-Method0123456789_*+`.%indeed'~")
        #expect(m.maxForwards == 255)
        #expect(m.to?.displayName?.unicodeScalars.contains("\u{0}") == true, "NUL kept inside the quoted display name")
    }

    @Test func esc01() throws {
        let m = try #require(try check("esc01", .accept))
        #expect(try SIPURI(parsing: m.requestURI!).user == "sips:user@example.com")
    }

    @Test func escnull() throws {
        let m = try #require(try check("escnull", .accept))
        #expect(m.from?.uri.user == "null-\u{0}-null")
        #expect(m.listValues(.contact).count == 2)
    }

    @Test func esc02() throws {
        try check("esc02", .reject(501))
        let m = try run("esc02").1.get()
        #expect(m.method == "RE%47IST%45R")
        #expect(m.listValues(.contact).count == 2, "C%6Fntact is an unknown header, not Contact")
    }

    @Test func lwsdisp() throws {
        let m = try #require(try check("lwsdisp", .accept))
        #expect(m.from?.displayName == "caller")
    }

    @Test func longreq() throws {
        let m = try #require(try check("longreq", .accept))
        #expect(try m.vias.count > 10)
    }

    @Test func dblreq() throws {
        let m = try #require(try check("dblreq", .accept))
        #expect(m.method == "REGISTER")
        #expect(m.body.isEmpty, "the trailing INVITE is discarded")
    }

    @Test func semiuri() throws {
        let m = try #require(try check("semiuri", .accept))
        let uri = try SIPURI(parsing: m.requestURI!)
        #expect(uri.user == "user;par=u@example.net")
        #expect(uri.host == "example.com")
    }

    @Test func transports() throws {
        let m = try #require(try check("transports", .accept))
        #expect(try m.vias.map(\.transport) == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
    }

    @Test func mpart01() throws {
        try check("mpart01", .reject(405))
        let m = try run("mpart01").1.get()
        #expect(m.body.count == 553)
    }

    @Test func unreason() throws {
        let m = try #require(try check("unreason", .accept))
        guard case .response(_, let code, let reason) = m.startLine else { Issue.record("not a response"); return }
        #expect(code == 200 && reason.contains("2**3 * 5**2") && reason.contains("но"))
    }

    @Test func noreason() throws {
        let m = try #require(try check("noreason", .accept))
        #expect(m.startLine == .response(version: "SIP/2.0", code: 100, reason: ""))
    }

    // MARK: 3.1.2 invalid messages

    @Test func badinv01() throws { try check("badinv01", .reject(400)) }
    @Test func clerr() throws { try check("clerr", .reject(400)) }
    @Test func ncl() throws { try check("ncl", .reject(400)) }
    @Test func scalar02() throws { try check("scalar02", .reject(400)) }
    @Test func scalarlg() throws { try check("scalarlg", .drop) }
    @Test func quotbal() throws { try check("quotbal", .reject(400)) }
    @Test func ltgtruri() throws { try check("ltgtruri", .reject(400)) }
    @Test func lwsruri() throws { try check("lwsruri", .reject(400)) }
    @Test func lwsstart() throws { try check("lwsstart", .reject(400)) }
    @Test func trws() throws { try check("trws", .reject(400)) }
    /// Escaped headers in the Request-URI are ignored, never turned into real headers.
    @Test func escruri() throws {
        let m = try #require(try check("escruri", .accept))
        #expect(m.count(.route) == 0)
    }
    /// A bad Date is ignored (the liberal choice the RFC allows).
    @Test func baddate() throws { try check("baddate", .accept) }
    @Test func regbadct() throws { try check("regbadct", .reject(400)) }
    @Test func badaspec() throws { try check("badaspec", .reject(400)) }
    @Test func baddn() throws { try check("baddn", .reject(400)) }
    @Test func badvers() throws { try check("badvers", .reject(505)) }
    @Test func mismatch01() throws { try check("mismatch01", .reject(400)) }
    @Test func mismatch02() throws { try check("mismatch02", .reject(501)) }
    @Test func bigcode() throws { try check("bigcode", .drop) }

    // MARK: 3.2 transaction layer, 3.3 application layer

    @Test func badbranch() throws { try check("badbranch", .reject(400)) }
    @Test func insuf() throws { try check("insuf", .reject(400)) }
    @Test func unkscm() throws { try check("unkscm", .reject(416)) }
    @Test func novelsc() throws { try check("novelsc", .reject(416)) }
    /// Parses; the registrar (not the screen) refuses a non-SIP To.
    @Test func unksm2() throws { try check("unksm2", .accept) }
    @Test func bext01() throws {
        let (verdict, _) = try run("bext01")
        guard case .reject(_, 420, _, let headers) = verdict else { Issue.record("expected 420, got \(verdict)"); return }
        #expect(headers.first { $0.name == .unsupported }?.value == "nothingSupportsThis, nothingSupportsThisEither")
    }
    @Test func invut() throws { try check("invut", .reject(415)) }
    /// Parses; the registrar answers with a Digest challenge.
    @Test func regaut01() throws { try check("regaut01", .accept) }
    @Test func multi01() throws { try check("multi01", .reject(400)) }
    @Test func mcl01() throws { try check("mcl01", .reject(400)) }
    /// A response: parses; the transaction layer finds no transaction and discards it.
    @Test func bcast() throws { try check("bcast", .accept) }
    /// A UAS processes Max-Forwards: 0 normally.
    @Test func zeromf() throws { try check("zeromf", .accept) }

    /// Contact without <>: `;unknownparam` is a header parameter, not a URI parameter.
    @Test func cparam01() throws {
        let m = try #require(try check("cparam01", .accept))
        let c = try SIPNameAddr(parsing: m.listValues(.contact)[0])
        #expect(c.parameters.has("unknownparam") && c.uri.parameter("unknownparam") == nil)
    }
    /// Contact with <>: the same parameter belongs to the URI.
    @Test func cparam02() throws {
        let m = try #require(try check("cparam02", .accept))
        let c = try SIPNameAddr(parsing: m.listValues(.contact)[0])
        #expect(c.uri.parameter("unknownparam") != nil && !c.parameters.has("unknownparam"))
    }
    /// The escaped Route header stays inside the Contact URI.
    @Test func regescrt() throws {
        let m = try #require(try check("regescrt", .accept))
        let c = try SIPNameAddr(parsing: m.listValues(.contact)[0])
        #expect(c.uri.headers == "Route=%3Csip:sip.example.com%3E")
    }
    @Test func sdp01() throws { try check("sdp01", .reject(406)) }

    // MARK: 3.4 backward compatibility

    /// RFC 2543: no branch, no From tag, no Content-Length (body = rest of datagram), no Max-Forwards.
    @Test func inv2543() throws {
        let m = try #require(try check("inv2543", .accept))
        #expect(!m.body.isEmpty)
        #expect(m.topVia?.branch == nil)
    }

    @Test func everyFixtureIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".dat") }
        #expect(files.count == 49)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        for f in files { #expect(source.contains("check(\"\(f.dropLast(4))\"") || source.contains("run(\"\(f.dropLast(4))\""), "\(f) has no test") }
    }
}
