import Foundation
import Testing
@testable import CTServerKit

/// The lazy message (issue 20): values stay spans of the received octets until read, and every
/// way of reading or changing a message gives what the eager String-per-header message gave.
@Suite struct SIPLazyMessageTests {
    static let text = "INVITE sip:2000@127.0.0.1 SIP/2.0\r\n"
        + "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
        + "v:  SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-2  \r\n"
        + "X-Custom-Thing:   folded\r\n"
        + "   over \r\n"
        + "\tthree lines\r\n"
        + "From: <sip:a@b>;tag=1\r\n"
        + "To: <sip:2000@b>\r\n"
        + "i: c1\r\n"
        + "cseq: 1 INVITE\r\n"
        + "X-custom-thing: second\r\n"
        + "Content-Length: 5\r\n\r\nhello"

    @Test func valuesAreSpansUntilReadAndReadAsText() throws {
        let m = try SIPParser().parse(Array(Self.text.utf8)).get()
        // Only the folded value was made into text while parsing.
        #expect(m.texts == ["folded over three lines"])
        #expect(m.fields.filter { $0.text < 0 }.count == m.fields.count - 1)
        #expect(m.values(.via) == ["SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1", "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-2"])
        #expect(m.listValues(.via).count == 2)
        #expect(m.value(.callID) == "c1" && m.value(.cseq) == "1 INVITE")
        let custom = SIPHeaderName("x-CUSTOM-thing")
        #expect(m.values(custom) == ["folded over three lines", "second"])
        #expect(m.count(custom) == 2)
        #expect(m.body == Array("hello".utf8) && m.bodyCount == 5)
        // Unknown names keep the first spelling seen on the wire; known ones are canonical.
        #expect(m.headers.map(\.name.canonical) == ["Via", "Via", "X-Custom-Thing", "From", "To", "Call-ID", "CSeq", "X-custom-thing", "Content-Length"])
    }

    @Test func changesKeepOrderAndMixSpansWithText() throws {
        var m = try SIPParser().parse(Array(Self.text.utf8)).get()
        m.prepend(.via, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-0")
        m.replaceValue(at: m.firstIndex(of: .to)!, with: "<sip:2000@b>;tag=x")
        m.set(.cseq, "2 INVITE")
        m.remove(SIPHeaderName("X-Custom-Thing"))
        m.add([SIPHeader(name: SIPHeaderName("X-New"), value: "n")])
        m.body = Array("bye".utf8)
        #expect(m.values(.via).first == "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-0")
        #expect(m.value(.to) == "<sip:2000@b>;tag=x")
        #expect(m.headers.map(\.name.canonical) == ["Via", "Via", "Via", "From", "To", "Call-ID", "Content-Length", "CSeq", "X-New"])
        let wire = String(decoding: m.serialized(), as: UTF8.self)
        #expect(wire.hasSuffix("CSeq: 2 INVITE\r\nX-New: n\r\nContent-Length: 3\r\n\r\nbye"))
        let again = try SIPParser().parse(m.serialized()).get()
        // Serialising moves Content-Length to the end; everything else is as it was.
        #expect(again.headers.filter { $0.name != .contentLength } == m.headers.filter { $0.name != .contentLength })
        #expect(again.body == m.body)
        // Assigning `headers` replaces every field, texts included.
        m.headers = [SIPHeader(name: .callID, value: "z")]
        #expect(m.fields.count == 1 && m.texts == ["z"] && m.value(.callID) == "z")
    }

    /// The parser against the plain reference it replaced (split lines, unfold, trim, look the
    /// name up as a String) on random header blocks: the same names and values, in order.
    @Test func agreesWithAStringReference() throws {
        var rng = SystemRandomNumberGenerator()
        let names = ["Via", "v", "FROM", "t", "Call-ID", "cseq", "X-A", "x-a", "Max-Forwards", "Proxy-Authorization", "Subscription-State", "l"]
        let values = ["a", "  spaced  ", "b;c=\"d, e\"", "", "<sip:x@y>;tag=9", "1 INVITE", "0"]
        for _ in 0..<2000 {
            var lines: [String] = ["OPTIONS sip:x@y SIP/2.0"]
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let n = names.randomElement(using: &rng)!
                if n == "l" { continue }
                lines.append("\(n):\(values.randomElement(using: &rng)!)")
                if Bool.random(using: &rng), Int.random(in: 0..<4, using: &rng) == 0 { lines.append(" \(values.randomElement(using: &rng)!)") }
            }
            let text = lines.joined(separator: Bool.random(using: &rng) ? "\r\n" : "\n") + "\r\n\r\n"
            guard case .success(let m) = SIPParser().parse(Array(text.utf8)) else { Issue.record("refused: \(text)"); continue }
            // The value as received after the colon, continuation lines joined by one SP after
            // their own trimming, then the whole trimmed (RFC 3261 §7.3.1).
            var expected: [(name: SIPHeaderName, raw: String)] = []
            for line in lines.dropFirst() {
                if line.first == " " {
                    expected[expected.count - 1].raw += " " + line.trimmingLWS
                } else {
                    let colon = line.firstIndex(of: ":")!
                    expected.append((SIPHeaderName(parsing: line[..<colon]), String(line[line.index(after: colon)...])))
                }
            }
            let reference = expected.map { SIPHeader(name: $0.name, value: $0.raw.trimmingLWS.description) }
            #expect(m.headers == reference, "\(text)")
        }
    }
}
