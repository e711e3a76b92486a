import Foundation
import Testing
import TestSupport
@testable import CTServerKit

/// The load generator's payload (issue 20, `hotline-bench rtp-load`): what it writes survives
/// the channel loop's G.711 decode and re-encode octet for octet, and anything else — a frame
/// of another call, a changed octet, a short frame, a concealed or mixed frame — is refused.
@Suite struct RTPLoadPayloadTests {
    func frame(call: Int, packet: UInt32) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: RTPLoadPayload.size)
        b.withUnsafeMutableBytes { RTPLoadPayload.write(call: call, packet: packet, into: $0.baseAddress!) }
        return b
    }

    func read(_ b: [UInt8]) -> (call: Int, packet: UInt32)? {
        b.withUnsafeBytes { RTPLoadPayload.read($0.baseAddress!, count: $0.count) }
    }

    @Test func everyOctetItUsesSurvivesDecodeAndReencode() {
        for b in UInt8(0x80)...UInt8(0xFF) {
            #expect(G711.encode(G711.decode(b, .ulaw), .ulaw) == b, "µ-law \(b) changes through the echo")
        }
        // The one code it avoids does change: −0 comes back as +0.
        #expect(G711.encode(G711.decode(0x7F, .ulaw), .ulaw) == 0xFF)
    }

    @Test func framesRoundTripThroughTheChannelLoopsCodec() {
        for (call, packet) in [(0, UInt32(0)), (1, 1), (9_999, 1_499), (RTPLoadPayload.maxCalls - 1, UInt32.max), (123_456, 0x1234_5678)] {
            let sent = frame(call: call, packet: packet)
            var linear = [Int16](repeating: 0, count: sent.count)
            sent.withUnsafeBytes { s in linear.withUnsafeMutableBufferPointer { G711.decode(s, count: sent.count, law: .ulaw, into: $0.baseAddress!) } }
            var back = [UInt8](repeating: 0, count: sent.count)
            linear.withUnsafeBufferPointer { l in back.withUnsafeMutableBytes { G711.encode(l.baseAddress!, count: l.count, law: .ulaw, into: $0.baseAddress!) } }
            #expect(back == sent)
            let r = read(back)
            #expect(r?.call == call && r?.packet == packet, "\(call)/\(packet) read as \(String(describing: r))")
        }
    }

    @Test func anythingElseIsRefused() {
        let good = frame(call: 4_321, packet: 77)
        #expect(read(good) != nil)
        for i in [0, 3, 7, 8, 9, 80, 159] {
            var b = good
            b[i] ^= 0x01
            #expect(read(b) == nil, "octet \(i) changed and still accepted")
        }
        #expect(good.withUnsafeBytes { RTPLoadPayload.read($0.baseAddress!, count: 159) } == nil)
        #expect(read([UInt8](repeating: 0xFF, count: 160)) == nil, "silence")
        // Two calls' frames summed (a mix) is neither.
        let other = frame(call: 4_322, packet: 77)
        let mixed = (0..<160).map { G711.encode(Int16(clamping: Int32(G711.decode(good[$0], .ulaw)) + Int32(G711.decode(other[$0], .ulaw))), .ulaw) }
        #expect(read(mixed) == nil)
        // Neighbouring calls and packets differ in their pattern, not only in the first octets.
        #expect(frame(call: 1, packet: 2)[9...] != frame(call: 2, packet: 2)[9...])
        #expect(frame(call: 1, packet: 2)[9...] != frame(call: 1, packet: 3)[9...])
    }
}
