import Foundation
import Testing
@testable import CTServerKit
import Protocol

@Suite struct G711Tests {
    @Test func uLawRoundTripIsWithinQuantisation() {
        for v in stride(from: -32000, through: 32000, by: 37) {
            let s = Int16(v)
            let back = Int(G711.decode(G711.encode(s, .ulaw), .ulaw))
            #expect(abs(back - v) <= max(8, abs(v) / 16), "µ-law \(v) -> \(back)")
        }
    }

    @Test func aLawRoundTripIsWithinQuantisation() {
        for v in stride(from: -32000, through: 32000, by: 37) {
            let back = Int(G711.decode(G711.encode(Int16(v), .alaw), .alaw))
            #expect(abs(back - v) <= max(16, abs(v) / 16), "A-law \(v) -> \(back)")
        }
    }

    @Test func knownCodewords() {
        // Silence: µ-law 0xFF and A-law 0xD5 decode to (near) zero; G.711's reference values.
        #expect(G711.ulawToLinear[0xFF] == 0)
        #expect(G711.ulawToLinear[0x00] == -32124)
        #expect(G711.ulawToLinear[0x80] == 32124)
        #expect(G711.alawToLinear[0xD5] == 8)
        #expect(G711.alawToLinear[0x55] == -8)
        #expect(G711.encode(0, .ulaw) == 0xFF)
        #expect(G711.encode(0, .alaw) == 0xD5)
        // Every codeword survives decode -> encode (both laws are bijective on their codes).
        for b in 0...255 {
            let u = UInt8(b)
            if u != 0x7F { #expect(G711.decode(G711.encode(G711.decode(u, .ulaw), .ulaw), .ulaw) == G711.decode(u, .ulaw)) }
            #expect(G711.encode(G711.decode(u, .alaw), .alaw) == u)
        }
    }
}

@Suite struct RTPHeaderTests {
    @Test func roundTripAndPayloadBounds() {
        var packet = [UInt8](repeating: 0xAA, count: 12 + 160)
        RTPHeader(marker: true, payloadType: 8, sequence: 65535, timestamp: 0xDEADBEEF, ssrc: 0x01020304)
            .write(to: packet.withUnsafeMutableBytes { $0.baseAddress! })
        let h = packet.withUnsafeBytes { RTPHeader.parse($0) }
        #expect(h?.marker == true)
        #expect(h?.payloadType == 8)
        #expect(h?.sequence == 65535)
        #expect(h?.timestamp == 0xDEADBEEF)
        #expect(h?.ssrc == 0x01020304)
        #expect(h?.payloadOffset == 12)
        #expect(h?.payloadLength == 160)
    }

    @Test func cSRCExtensionAndPadding() {
        // V=2, P=1, X=1, CC=2; two CSRCs, a one-word extension, 4 payload bytes, 3 padding bytes.
        var p: [UInt8] = [0xB2, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9]
        p += [1, 1, 1, 1, 2, 2, 2, 2]
        p += [0xBE, 0xDE, 0, 1, 7, 7, 7, 7]
        p += [10, 20, 30, 40]
        p += [0, 0, 3]
        let h = p.withUnsafeBytes { RTPHeader.parse($0) }
        #expect(h?.payloadOffset == 28)
        #expect(h?.payloadLength == 4)
    }

    @Test func garbageIsRejected() {
        #expect([UInt8](repeating: 0, count: 20).withUnsafeBytes { RTPHeader.parse($0) } == nil)          // version 0
        #expect([UInt8]([0x80, 0, 0]).withUnsafeBytes { RTPHeader.parse($0) } == nil)                        // short
        #expect([UInt8]([0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).withUnsafeBytes { RTPHeader.parse($0) } == nil) // CSRCs missing
        #expect([UInt8]([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]).withUnsafeBytes { RTPHeader.parse($0) } == nil) // padding > length
        #expect([UInt8]([0x80, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).withUnsafeBytes { RTPHeader.parse($0) } == nil)  // RTCP SR
        // Random bytes never crash the parser.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let h = bytes.withUnsafeBytes({ RTPHeader.parse($0) }) {
                #expect(h.payloadOffset + h.payloadLength <= n)
            }
        }
    }

    @Test func telephoneEventsBecomeOneDigitEach() {
        var rx = DTMFEventReceiver()
        var digits = ""
        // "1" with 3 progress packets and 3 end packets, then "#" whose first packets were lost.
        for d in [160, 320, 480] { if let c = rx.receive(TelephoneEvent(event: 1, end: false, duration: UInt16(d)), timestamp: 1000) { digits.append(c) } }
        for _ in 0..<3 { if let c = rx.receive(TelephoneEvent(event: 1, end: true, duration: 800), timestamp: 1000) { digits.append(c) } }
        for _ in 0..<3 { if let c = rx.receive(TelephoneEvent(event: 11, end: true, duration: 800), timestamp: 3000) { digits.append(c) } }
        // The same key pressed again is a new event (new timestamp).
        if let c = rx.receive(TelephoneEvent(event: 11, end: false, duration: 160), timestamp: 5000) { digits.append(c) }
        #expect(digits == "1##")
    }
}

@Suite struct JitterBufferTests {
    private func frame(_ v: Int16) -> [Int16] { [Int16](repeating: v, count: 160) }

    private func put(_ jb: inout JitterBuffer, seq: UInt16, value: Int16, arrival: Int64) {
        let f = frame(value)
        f.withUnsafeBufferPointer { jb.put(sequence: seq, timestamp: UInt32(seq) * 160, ssrc: 1, arrival: arrival, samples: $0.baseAddress!, count: 160) }
    }

    private func get(_ jb: inout JitterBuffer) -> Int16? {
        var out = [Int16](repeating: 0, count: 160)
        let ok = out.withUnsafeMutableBufferPointer { jb.get(into: $0.baseAddress!) }
        return ok ? out[0] : nil
    }

    @Test func reordersAndPlaysInSequence() {
        var jb = JitterBuffer()
        for (i, seq) in [10, 12, 11, 13, 15, 14].enumerated() { put(&jb, seq: UInt16(seq), value: Int16(seq), arrival: Int64(i * 160)) }
        var played: [Int16] = []
        for _ in 0..<6 { if let v = get(&jb) { played.append(v) } }
        #expect(played == [10, 11, 12, 13, 14, 15])
        #expect(jb.stats.lost == 0)
    }

    @Test func lossIsConcealedOnceAndCounted() {
        var jb = JitterBuffer()
        for seq in [1, 2, 4, 5] { put(&jb, seq: UInt16(seq), value: 1000, arrival: Int64(seq * 160)) }
        #expect(get(&jb) == 1000)
        #expect(get(&jb) == 1000)
        #expect(get(&jb) == 500, "the lost frame is the previous one at half level")
        #expect(get(&jb) == 1000)
        #expect(jb.stats.lost == 1)
        #expect(jb.stats.concealed == 1)
    }

    /// A key event's packet takes a sequence number without audio: silence, not a loss — and
    /// the RTCP reception count sees no gap either (issue 14).
    @Test func keyEventPacketsAreNotLoss() {
        var jb = JitterBuffer()
        var reception = RTPReceptionStats()
        var played: [Int16?] = []
        for seq in 1...7 {
            reception.update(sequence: UInt16(seq), ssrc: 1)
            if seq == 3 || seq == 4 { jb.putSilent(sequence: UInt16(seq), timestamp: 320, ssrc: 1, arrival: Int64(seq * 160)) } else {
                put(&jb, seq: UInt16(seq), value: 1000, arrival: Int64(seq * 160))
            }
            if seq >= 2 { played.append(get(&jb)) }   // one frame in, one out, as in a call
        }
        #expect(played == [1000, 1000, nil, nil, 1000, 1000])
        #expect(jb.stats.lost == 0 && jb.stats.concealed == 0)
        #expect(reception.cumulativeLost == 0)
    }

    @Test func latePacketsAreDroppedAndSequenceWraps() {
        var jb = JitterBuffer()
        put(&jb, seq: 65534, value: 1, arrival: 0)
        put(&jb, seq: 65535, value: 2, arrival: 160)
        #expect(get(&jb) == 1)
        put(&jb, seq: 65534, value: 9, arrival: 320)   // late duplicate
        put(&jb, seq: 0, value: 3, arrival: 480)
        #expect(get(&jb) == 2)
        #expect(get(&jb) == 3)
        #expect(jb.stats.late == 1)
    }

    @Test func targetGrowsWithJitter() {
        var calm = JitterBuffer(), jumpy = JitterBuffer()
        for i in 0..<200 {
            put(&calm, seq: UInt16(i), value: 1, arrival: Int64(i * 160))
            put(&jumpy, seq: UInt16(i), value: 1, arrival: Int64(i * 160 + (i % 2 == 0 ? 0 : 600)))
            _ = get(&calm); _ = get(&jumpy)
        }
        #expect(calm.target == 2)
        #expect(jumpy.target > calm.target)
    }

    @Test func newSSRCResets() {
        var jb = JitterBuffer()
        put(&jb, seq: 100, value: 1, arrival: 0)
        put(&jb, seq: 101, value: 1, arrival: 160)
        let f = frame(7)
        f.withUnsafeBufferPointer { jb.put(sequence: 5000, timestamp: 0, ssrc: 2, arrival: 320, samples: $0.baseAddress!, count: 160) }
        f.withUnsafeBufferPointer { jb.put(sequence: 5001, timestamp: 160, ssrc: 2, arrival: 480, samples: $0.baseAddress!, count: 160) }
        #expect(get(&jb) == 7)
        #expect(jb.stats.resets == 1)
    }
}

@Suite struct DigitCollectorTests {
    let ms: UInt64 = 1_000_000

    @Test func maxDigitsTerminatorAndTimeouts() {
        var c = DigitCollector(minDigits: 2, maxDigits: 4, firstDigitTimeoutMs: 5000, interDigitTimeoutMs: 2000, terminators: ["#"], now: 0)
        #expect(c.digit("1", now: 100 * ms) == nil)
        #expect(c.digit("2", now: 200 * ms) == nil)
        #expect(c.digit("#", now: 300 * ms) == .init(digits: "12", reason: .terminator))

        var d = DigitCollector(minDigits: 1, maxDigits: 3, now: 0)
        for x in "12" { #expect(d.digit(x, now: 0) == nil) }
        #expect(d.digit("3", now: 0) == .init(digits: "123", reason: .maxDigits))

        let e = DigitCollector(minDigits: 1, maxDigits: 3, firstDigitTimeoutMs: 5000, now: 0)
        #expect(e.tick(now: 4999 * ms) == nil)
        #expect(e.tick(now: 5000 * ms) == .init(digits: "", reason: .timeout))

        var f = DigitCollector(minDigits: 3, maxDigits: 6, firstDigitTimeoutMs: 5000, interDigitTimeoutMs: 2000, now: 0)
        _ = f.digit("4", now: 1000 * ms)
        #expect(f.tick(now: 2999 * ms) == nil)
        #expect(f.tick(now: 3000 * ms) == .init(digits: "4", reason: .tooShort))
        #expect(f.digit("#", now: 3000 * ms)?.reason == .tooShort)
    }
}

@Suite struct MixAndPlayTests {
    private func channel(_ id: String) -> MediaChannel {
        MediaChannel(id: id, fd: -1, port: 0, endpoint: .init(remote: nil, payloadType: 0, law: .ulaw, telephoneEvent: 101, verified: true), echo: false)
    }

    private func speak(_ ch: MediaChannel, _ v: Int16?) {
        ch.hasInput = v != nil
        ch.input = [Int16](repeating: v ?? 0, count: 160)
        ch.hasOutput = false
        ch.output = [Int16](repeating: 0, count: 160)
    }

    @Test func conferenceIsNMinusOne() {
        let m = MixGroup(id: "c", isBridge: false)
        let chans = (1...5).map { channel("c\($0)") }
        for (i, c) in chans.enumerated() { c.mix = m; m.members.append(c); speak(c, Int16(100 * (i + 1))) }
        m.mix()
        let total = 100 + 200 + 300 + 400 + 500
        for (i, c) in chans.enumerated() { #expect(Int(c.output[0]) == total - 100 * (i + 1), "\(c.id) hears the others, not itself") }
    }

    @Test func mutedAndDeafMembers() {
        let m = MixGroup(id: "c", isBridge: false)
        let a = channel("a"), b = channel("b"), c = channel("c")
        b.role = MixRole(speaks: false, hears: true)     // muted
        c.role = MixRole(speaks: true, hears: false)     // deaf
        for (x, v) in [(a, Int16(10)), (b, 20), (c, 40)] { m.members.append(x); speak(x, v) }
        m.mix()
        #expect(a.output[0] == 40, "a hears c, not the muted b")
        #expect(b.output[0] == 50, "b hears a and c")
        #expect(!(c.hasOutput), "deaf c hears nothing")
    }

    @Test func monitorModes() {
        // Caller, agent, supervisor: listen / whisper / barge.
        for (role, callerHears, agentHears, supHears) in [
            (MixRole.listen, 200, 100, 300),
            (MixRole.whisper(to: "agent"), 200, 100 + 1000, 300),
            (MixRole.barge, 200 + 1000, 100 + 1000, 300),
        ] {
            let m = MixGroup(id: "b", isBridge: true)
            let caller = channel("caller"), agent = channel("agent"), sup = channel("sup")
            sup.role = role
            for (x, v) in [(caller, Int16(100)), (agent, 200), (sup, 1000)] { m.members.append(x); speak(x, v) }
            m.mix()
            #expect(Int(caller.output[0]) == callerHears, "caller with \(role)")
            #expect(Int(agent.output[0]) == agentHears, "agent with \(role)")
            #expect(Int(sup.output[0]) == supHears, "supervisor with \(role)")
        }
    }

    @Test func mixClipsInsteadOfWrapping() {
        let m = MixGroup(id: "c", isBridge: false)
        let chans = (1...4).map { channel("c\($0)") }
        for c in chans { m.members.append(c); speak(c, 30000) }
        m.mix()
        #expect(chans[0].output[0] == Int16.max)
    }

    @Test func playerPlaysListThenFinishes() {
        let prompt = PromptAudio(name: "p", samples: [Int16](repeating: 5, count: 200))
        var p = Player(items: [.samples(prompt), .silence(ms: 20), .tone(.beep, ms: 40)])
        var out = [Int16](repeating: 0, count: 160)
        var frames = 0
        while !p.isDone && frames < 100 {
            _ = out.withUnsafeMutableBufferPointer { p.render(into: $0.baseAddress!, count: 160) }
            frames += 1
        }
        // 200 + 160 + 320 samples = 680 → 5 frames (the last one padded).
        #expect(frames == 5)
        var looped = Player(items: [.samples(prompt)], loop: true)
        for _ in 0..<50 { #expect(out.withUnsafeMutableBufferPointer { looped.render(into: $0.baseAddress!, count: 160) }) }
        #expect(!(looped.isDone))
    }
}

@Suite struct WAVTests {
    @Test func writerProducesValidFileReadableWhileOpen() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wav-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("rec.wav").path
        let w = try WAVWriter(path: path, channels: 1)
        let tone = ToneSpec.beep.samples(ms: 1500)
        tone.withUnsafeBufferPointer { w.append($0.baseAddress!, count: $0.count) }
        // Flushed at one second: the file on disk is already a valid WAV of at least 1 s.
        let partial = try WAVFile.readPrompt(path: path)
        #expect(partial.count >= 8000)
        w.close()
        let full = try WAVFile.readPrompt(path: path)
        #expect(full.count == 12000)
        #expect(Array(full.prefix(100)) == Array(tone.prefix(100)))
    }

    /// Tones come from a per-tone table: the same samples as the formula, cadence included,
    /// at any position (a caller who has held for an hour hears the same tone).
    @Test func toneTableEqualsTheFormula() {
        for spec in [ToneSpec.ringback, .busy, .dialTone, .beep, ToneSpec.dtmf("5")!] {
            let period = spec.cadence.reduce(0, +) * 8
            for t in [0, 160, 7_999, 15_840, 28_800_000 + 37] {
                var out = [Int16](repeating: 1, count: 160)
                out.withUnsafeMutableBufferPointer { spec.render(into: $0.baseAddress!, count: 160, at: t) }
                for i in stride(from: 0, to: 160, by: 7) {
                    let n = t + i
                    var on = true
                    if period > 0 {
                        var pos = n % period, idx = 0
                        while pos >= spec.cadence[idx] * 8 { pos -= spec.cadence[idx] * 8; idx += 1 }
                        on = idx % 2 == 0
                    }
                    let v = spec.frequencies.reduce(0.0) { $0 + sin(2 * Double.pi * $1 * Double(n) / 8000) }
                    let want = on ? Int16(max(-32767, min(32767, v * spec.level * 32767 / Double(spec.frequencies.count)))) : 0
                    #expect(abs(Int(out[i]) - Int(want)) <= 1, "\(spec) at \(n): \(out[i]) vs \(want)")
                }
            }
        }
    }

    /// A stereo recorder: caller left, what it hears right; paused, both are silence and the
    /// span is listed (an open pause ends with the file); the file's SHA-256 and size are summed.
    @Test func recorderPausesIntoSilenceAndListsTheSpan() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a/b.wav").path
        let r = try Recorder(.init(path: path, stereo: true, startedBy: "policy", callID: "c1"))
        let n = JitterBuffer.frameSamples
        let left = [Int16](repeating: 1000, count: n), right = [Int16](repeating: -2000, count: n)
        for i in 0..<150 {
            if i == 50 { r.pause(true) }
            if i == 100 { r.pause(false) }
            if i == 120 { r.pause(true) }
            #expect(r.append(input: left, hasInput: true, output: right, hasOutput: true) == nil)
        }
        r.writer.close()
        let result = r.result(reason: "hangup")
        #expect(result.pauses == [.init(startMs: 1000, endMs: 2000), .init(startMs: 2400, endMs: 3000)])
        #expect(result.durationMs == 3000 && result.channels == 2 && result.startedBy == "policy" && result.callID == "c1")
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func sample(_ frame: Int, _ ch: Int) -> Int16 { let o = 44 + frame * 4 + ch * 2; return Int16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8) }
        #expect(sample(10, 0) == 1000 && sample(10, 1) == -2000)
        #expect(sample(8000 + 10, 0) == 0 && sample(8000 + 10, 1) == 0)    // 1.0–2.0 s: paused
        #expect(sample(16000 + 10, 0) == 1000)
        #expect(sample(20000 + 10, 1) == 0)                                 // 2.4 s on: paused to the end
        let summed = try #require(Crypto.sha256(file: path))
        #expect(summed.size == UInt64(b.count) && summed.size == 44 + 3 * 8000 * 4)
        #expect(summed.hex.count == 64)
        #expect(Crypto.sha256(file: dir.appendingPathComponent("none").path) == nil)
    }

    @Test func resamplesAndMixesDownOtherFormats() throws {
        // A 16 kHz stereo WAV of 1 s becomes 8000 mono samples.
        var bytes = WAVFile.header(channels: 2, dataBytes: 16000 * 4)
        bytes.replaceSubrange(24..<28, with: [0x80, 0x3E, 0, 0])   // 16000 Hz
        bytes += [UInt8](repeating: 0, count: 16000 * 4)
        let s = try WAVFile.decode(bytes, name: "x.wav")
        #expect(abs((Double(s.count)) - (8000)) <= 50)
        #expect(throws: (any Error).self) { try WAVFile.decode(Array("RIFFxxxxWAVEjunk".utf8), name: "bad.wav") }
        var adpcm = WAVFile.header(channels: 1, dataBytes: 4)
        adpcm[20] = 2   // MS ADPCM
        adpcm += [0, 0, 0, 0]
        do {
            _ = try WAVFile.decode(adpcm, name: "adpcm.wav")
            Issue.record("ADPCM accepted")
        } catch {
            #expect("\(error)".contains("encoding 2"), "\(error)")
        }
    }

    @Test func inbandDTMFDetectsGeneratedTones() throws {
        let det = try #require(InbandDTMFDetector())
        var audio: [Int16] = []
        for d in "159#" { audio += ToneSpec.dtmf(d)!.samples(ms: 100) + [Int16](repeating: 0, count: 800) }
        var got = ""
        audio.withUnsafeBufferPointer { p in
            var i = 0
            while i + 160 <= p.count { got += det.feed(p.baseAddress! + i, count: 160); i += 160 }
        }
        #expect(got == "159#")
    }
}

@Suite struct RTCPTests {
    @Test func receptionStatsCountLossAcrossWrap() {
        var r = RTPReceptionStats()
        for seq in 65530...65535 { r.update(sequence: UInt16(seq), ssrc: 7) }
        for seq in [0, 1, 3, 4] { r.update(sequence: UInt16(seq), ssrc: 7) }   // 2 lost, and the wrap
        #expect(r.expected == 11)
        #expect(r.cumulativeLost == 1)
        #expect(r.extendedMax == 65536 + 4)
        #expect(r.takeFractionLost() == UInt8(256 / 11))
        #expect(r.takeFractionLost() == 0, "a new interval")
    }

    @Test func senderReportRoundTrip() {
        var buf = [UInt8](repeating: 0, count: 256)
        let block = RTCP.ReportBlock(ssrc: 0xAABBCCDD, fractionLost: 25, cumulativeLost: -3, extendedMax: 70000, jitter: 80, lastSR: 0x12345678, delaySinceLastSR: 65536)
        let n = buf.withUnsafeMutableBytes {
            RTCP.build(into: $0.baseAddress!, capacity: $0.count, ssrc: 1, sender: (ntp: 0x1122334455667788, rtpTimestamp: 5, packets: 6, octets: 7), block: block, cname: "hotline@1")
        }
        #expect(n % 4 == 0 && n == 28 + 24 + 20)
        let parsed = buf.withUnsafeBytes { RTCP.parse(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        #expect(parsed?.senderSSRC == 1)
        #expect(parsed?.senderReportNTP == 0x33445566)
        #expect(parsed?.blocks == [block])
        // An RR without sender info; and garbage is refused.
        let rr = buf.withUnsafeMutableBytes { RTCP.build(into: $0.baseAddress!, capacity: $0.count, ssrc: 2, sender: nil, block: block, cname: "x") }
        let p2 = buf.withUnsafeBytes { RTCP.parse(UnsafeRawBufferPointer(rebasing: $0[0..<rr])) }
        #expect(p2?.senderReportNTP == nil && p2?.blocks.count == 1)
        #expect([UInt8](repeating: 0xFF, count: 40).withUnsafeBytes { RTCP.parse($0) } == nil)
        for len in 0..<n { _ = buf.withUnsafeBytes { RTCP.parse(UnsafeRawBufferPointer(rebasing: $0[0..<len])) } }
    }
}

@Suite struct FadeTests {
    /// A member joining is faded in over its first frame: the others hear it start from silence.
    @Test func joinFadesIn() {
        let m = MixGroup(id: "c", isBridge: false)
        let a = MediaChannel(id: "a", fd: -1, port: 0, endpoint: .init(remote: nil, payloadType: 0, law: .ulaw, telephoneEvent: nil, verified: true), echo: false)
        let b = MediaChannel(id: "b", fd: -1, port: 0, endpoint: .init(remote: nil, payloadType: 0, law: .ulaw, telephoneEvent: nil, verified: true), echo: false)
        for x in [a, b] { m.members.append(x); x.hasInput = true; x.input = [Int16](repeating: 8000, count: 160) }
        b.fade = 1
        m.mix()
        #expect(a.output[0] == 0)
        #expect(a.output[80] == 4000)
        #expect(a.output[159] > 7900)
        b.fade = -1
        b.input = [Int16](repeating: 8000, count: 160)
        m.mix()
        #expect(a.output[0] > 7900 && a.output[159] < 100, "leaving fades out")
    }
}

@Suite struct SpeechTests {
    /// espeak-ng speaks Chinese and English at 22,050 Hz; the store resamples to 8 kHz and caches.
    @Test func textToSpeechInChineseAndEnglishIsCachedAt8kHz() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = PromptStore(promptDirectory: dir.path, cacheDirectory: dir.appendingPathComponent("cache").path)
        #expect(PromptStore.hasSpeech, "espeak-ng must be installed (deploy/test installs it)")
        let zh = try store.speech("您好，欢迎致电", voice: "cmn")
        let en = try store.speech("Welcome to the hotline", voice: "en")
        // About 3 s and 1.5 s of speech at 8 kHz, with real signal in it.
        #expect(zh.samples.count > 8000 && zh.samples.count < 8000 * 6, "\(zh.samples.count)")
        #expect(en.samples.count > 4000 && en.samples.count < 8000 * 4, "\(en.samples.count)")
        #expect(zh.samples.contains { abs(Int($0)) > 3000 })
        #expect(store.hasCachedSpeech("您好，欢迎致电", voice: "cmn"))
        let again = try store.speech("您好，欢迎致电", voice: "cmn")
        #expect(again.samples == zh.samples, "served from the cache")
    }
}

@Suite struct PromptStorePathTests {
    /// A relative cache folder (as deploy/config has it) resolves from the working directory and
    /// is not looked for under the prompt folder. (The working directory is not changed here:
    /// tests run in parallel in one process.)
    @Test func relativeCacheFolder() throws {
        let rel = ".build/tts-test-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: rel) }
        let store = PromptStore(promptDirectory: "prompts-that-do-not-exist", cacheDirectory: rel)
        let a = try store.speech("relative paths", voice: "en")
        #expect(a.samples.count > 1000)
    }
}
