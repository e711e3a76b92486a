import Testing
@testable import Protocol

@Suite struct FrameCodecTests {
    let codec = FrameCodec()

    func sample(_ n: Int = 40) -> Frame {
        Frame(type: MessageType(rawValue: 0x1234), flags: [.response], correlationID: 99, body: (0..<n).map { UInt8($0 & 0xff) })
    }

    @Test func roundTripAllAtOnce() throws {
        let bytes = try codec.encode(sample())
        var b = ByteBuffer(bytes: bytes)
        #expect(try codec.decode(&b) == sample())
        #expect(b.readableBytes == 0)
    }

    /// Fed byte by byte, the decoder returns nil until the last byte and never moves early.
    @Test func byteByByte() throws {
        let bytes = try codec.encode(sample()) + codec.encode(sample(3))
        var b = ByteBuffer()
        var frames: [Frame] = []
        for byte in bytes {
            b.writeBytes([byte])
            while let f = try codec.decode(&b) { frames.append(f) }
        }
        #expect(frames == [sample(), sample(3)])
    }

    /// Split at every possible point into two writes.
    @Test func everySplitPoint() throws {
        let bytes = try codec.encode(sample(20))
        for cut in 0...bytes.count {
            var b = ByteBuffer(bytes: bytes[..<cut])
            let first = try codec.decode(&b)
            #expect((first != nil) == (cut == bytes.count))
            if first == nil {
                b.writeBytes(bytes[cut...])
                #expect(try codec.decode(&b) == sample(20))
            }
        }
    }

    @Test func oversizedDeclaredLengthIsRejectedBeforeTheBodyArrives() {
        let small = FrameCodec(maximumFrameSize: 1024)
        // Only the 4 length bytes: 0x7fffffff declared. Must throw now, not wait for 2 GiB.
        var b = ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff])
        #expect(throws: ProtocolError.self) { try small.decode(&b) }
        do { _ = try small.decode(&b) } catch let e as ProtocolError { #expect(e.code == .frameTooLarge) } catch {}
    }

    @Test func lengthShorterThanHeaderIsBadFrame() {
        var b = ByteBuffer(bytes: [0, 0, 0, 3, 0, 0, 0])
        #expect(throws: ProtocolError.self) { try codec.decode(&b) }
    }

    @Test func reservedFlagsAreBadFrame() throws {
        var bytes = try codec.encode(sample())
        bytes[7] |= 0x80
        var b = ByteBuffer(bytes: bytes)
        #expect(throws: ProtocolError.self) { try codec.decode(&b) }
    }

    @Test func encoderRefusesFramesOverTheMaximum() {
        let small = FrameCodec(maximumFrameSize: 64, compressionThreshold: 0)
        #expect(throws: ProtocolError.self) { try small.encode(sample(100)) }
    }

    @Test func largeBodiesAreCompressedAndRoundTrip() throws {
        let body = [UInt8](repeating: 65, count: 100_000)
        let f = Frame(type: MessageType(rawValue: 9), body: body)
        let bytes = try codec.encode(f)
        #expect(bytes.count < 2000)
        #expect(bytes[7] & FrameFlags.compressed.rawValue != 0)
        var b = ByteBuffer(bytes: bytes)
        #expect(try codec.decode(&b) == f)
    }

    @Test func incompressibleBodiesAreSentPlain() throws {
        var g = SplitMix64(seed: 1)
        let body = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &g) }
        let bytes = try codec.encode(Frame(type: MessageType(rawValue: 9), body: body))
        #expect(bytes[7] & FrameFlags.compressed.rawValue == 0)
    }

    /// A frame of a few kilobytes that inflates to 64 MiB is an error, not an allocation.
    @Test func zipBombIsRejected() throws {
        let bomb = try Deflate.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 100_000)
        var b = ByteBuffer()
        b.writeInteger(UInt32(8 + bomb.count))
        b.writeInteger(UInt16(9))
        b.writeInteger(UInt8(1))
        b.writeInteger(FrameFlags.compressed.rawValue)
        b.writeInteger(UInt32(0))
        b.writeBytes(bomb)
        do {
            _ = try codec.decode(&b)
            Issue.record("zip bomb decoded")
        } catch let e as ProtocolError {
            #expect(e.code == .decompressionFailed)
        }
    }

    @Test func corruptCompressedBodyIsRejected() throws {
        var bytes = try codec.encode(Frame(type: MessageType(rawValue: 9), body: [UInt8](repeating: 1, count: 8000)))
        bytes[bytes.count - 3] ^= 0xff
        var b = ByteBuffer(bytes: bytes)
        #expect(throws: ProtocolError.self) { try codec.decode(&b) }
    }
}

/// A seeded generator so property-style tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
