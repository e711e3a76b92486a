import Foundation
import Testing
import TestSupport
@testable import CTServerKit

@Suite struct SIPParserTests {
    static let invite = """
    INVITE sip:2000@127.0.0.1:5060 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-abc;rport\r
    Max-Forwards: 70\r
    From: "Alice" <sip:alice@127.0.0.1>;tag=a1\r
    To: <sip:2000@127.0.0.1>\r
    Call-ID: call-1@127.0.0.1\r
    CSeq: 1 INVITE\r
    Contact: <sip:alice@127.0.0.1:5061>\r
    Content-Type: application/sdp\r
    Content-Length: 4\r
    \r
    v=0\n
    """

    @Test func parsesAndSerialisesRoundTrip() throws {
        let m = try SIPParser().parse(Array(Self.invite.utf8)).get()
        #expect(m.method == "INVITE")
        #expect(m.body == Array("v=0\n".utf8))
        let again = try SIPParser().parse(m.serialized()).get()
        #expect(again == m)
    }

    @Test func compactFormsExpand() throws {
        let text = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:x@b>\r\ni: c1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"
        let m = try SIPParser().parse(Array(text.utf8)).get()
        #expect(m.callID == "c1" && m.from?.tag == "1" && m.topVia?.branch == "z9hG4bK1")
        #expect(String(decoding: m.serialized(), as: UTF8.self).contains("Call-ID: c1\r\n"))
    }

    /// Stream framing by Content-Length, fed byte by byte: two messages and a keep-alive.
    @Test func streamFramingByteByByte() throws {
        let one = Array(Self.invite.utf8)
        let input = one + Array("\r\n\r\n".utf8) + one
        var buffer: [UInt8] = []
        var items: [SIPParser.StreamItem] = []
        for b in input {
            buffer.append(b)
            while let item = try SIPParser().nextFromStream(&buffer) { items.append(item) }
        }
        #expect(items == [.message(one), .keepAlive(ping: true), .message(one)])
    }

    @Test func streamWithNegativeOrConflictingLengthCannotBeFramed() {
        var neg = Array("OPTIONS sip:x@y SIP/2.0\r\nContent-Length: -5\r\n\r\n".utf8)
        #expect(throws: SIPParseError.self) { try SIPParser().nextFromStream(&neg) }
        var two = Array("OPTIONS sip:x@y SIP/2.0\r\nl: 3\r\nContent-Length: 4\r\n\r\nabcd".utf8)
        #expect(throws: SIPParseError.self) { try SIPParser().nextFromStream(&two) }
    }

    @Test func oversizedStreamHeadersAre513() {
        var big = Array("OPTIONS sip:x@y SIP/2.0\r\nX-Pad: ".utf8) + [UInt8](repeating: 0x61, count: 70_000)
        do {
            _ = try SIPParser().nextFromStream(&big)
            Issue.record("accepted")
        } catch let e as SIPParseError {
            #expect(e.status == 513)
        } catch { Issue.record("\(error)") }
    }

    /// Every RFC 4475 message and a valid INVITE, mutated at random thousands of times:
    /// the parser and the screen never crash or hang, and whatever they answer parses back.
    @Test func mutationFuzz() throws {
        let folder = TestSupport.rfc4475Directory
        var corpus = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".dat") }
            .map { try [UInt8](Data(contentsOf: folder.appendingPathComponent($0))) }
        corpus.append(Array(Self.invite.utf8))
        var g = SystemRandomNumberGenerator()
        let interesting: [UInt8] = Array(" \t\r\n:;,<>\"\\%@=?/0123456789".utf8) + [0, 0xff, 0x80]
        var answered = 0
        for _ in 0..<20_000 {
            var m = corpus.randomElement(using: &g)!
            for _ in 0..<Int.random(in: 1...8, using: &g) where !m.isEmpty {
                let i = Int.random(in: 0..<m.count, using: &g)
                switch Int.random(in: 0...4, using: &g) {
                case 0: m[i] = interesting.randomElement(using: &g)!
                case 1: m[i] = UInt8.random(in: 0...255, using: &g)
                case 2: m.remove(at: i)
                case 3: m.insert(contentsOf: m[i..<min(m.count, i + Int.random(in: 1...40, using: &g))], at: i)
                default: m.removeLast(Int.random(in: 0...(m.count - i - 1), using: &g))
                }
            }
            let verdict = SIPRequestScreen().screen(SIPParser().parse(m))
            if case .reject(let req, let code, let reason, let headers) = verdict {
                let resp = req.makeResponse(code, reason, toTag: "x", extraHeaders: headers)
                #expect((try? SIPParser().parse(resp.serialized()).get())?.statusCode == code)
                answered += 1
            }
            var stream = m
            _ = try? SIPParser().nextFromStream(&stream)
        }
        #expect(answered > 0)
    }

    /// A stream message announcing more than the limit is too large (513), not malformed (400);
    /// a non-numeric length is malformed.
    @Test func oversizeStreamMessageIs513() {
        let head = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        for (length, status) in [("100000", 513), ("99999999999999999999999", 513), ("12a", 400)] {
            var buffer = Array((head + "Content-Length: \(length)\r\n\r\n").utf8)
            do {
                _ = try SIPParser(maximumMessageSize: 65535).nextFromStream(&buffer)
                Issue.record("Content-Length \(length) was framed")
            } catch let e as SIPParseError {
                #expect(e.status == status, "Content-Length \(length): \(e.status)")
            } catch { Issue.record("\(error)") }
        }
    }
}
