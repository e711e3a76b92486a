/// Encodes frames and decodes them from a byte stream.
///
/// `decode` returns a frame, or nil when more bytes are needed (reader index untouched);
/// it throws on a protocol error, and the caller then closes that connection only.
public struct FrameCodec: Sendable {
    /// Largest frame accepted or sent, counting the 4-byte length. Checked against the
    /// declared length before any byte of the body is buffered.
    public var maximumFrameSize: Int
    /// Bodies of at least this many bytes are deflated (if that makes them smaller). 0 = never.
    public var compressionThreshold: Int

    public static let defaultMaximumFrameSize = 1 << 20

    public init(maximumFrameSize: Int = FrameCodec.defaultMaximumFrameSize, compressionThreshold: Int = 4096) {
        self.maximumFrameSize = maximumFrameSize
        self.compressionThreshold = compressionThreshold
    }

    // MARK: encoding

    public func encode(_ frame: Frame, into out: inout ByteBuffer) throws {
        var flags = frame.flags
        flags.remove(.compressed)
        var wireBody = frame.body
        if compressionThreshold > 0, frame.body.count >= compressionThreshold,
           let deflated = try? Deflate.compress(frame.body), deflated.count < frame.body.count {
            wireBody = deflated
            flags.insert(.compressed)
        }
        let total = Frame.headerSize + wireBody.count
        guard total <= maximumFrameSize else {
            throw ProtocolError(.frameTooLarge, "frame of \(total) bytes exceeds the maximum of \(maximumFrameSize)")
        }
        out.writeInteger(UInt32(total - 4))
        out.writeInteger(frame.type.rawValue)
        out.writeInteger(frame.version)
        out.writeInteger(flags.rawValue)
        out.writeInteger(frame.correlationID)
        out.writeBytes(wireBody)
    }

    public func encode(_ frame: Frame) throws -> [UInt8] {
        var b = ByteBuffer(capacity: Frame.headerSize + frame.body.count)
        try encode(frame, into: &b)
        return Array(b.readableBytesView)
    }

    // MARK: decoding

    public func decode(_ buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.peekInteger(as: UInt32.self) else { return nil }
        let total = Int(length) + 4
        guard total >= Frame.headerSize else {
            throw ProtocolError(.badFrame, "declared length \(length) is shorter than the header")
        }
        guard total <= maximumFrameSize else {
            throw ProtocolError(.frameTooLarge, "declared frame of \(total) bytes exceeds the maximum of \(maximumFrameSize)")
        }
        guard buffer.readableBytes >= total else { return nil }
        let start = buffer.readerIndex
        let type = buffer.getInteger(at: start + 4, as: UInt16.self)!
        let version = buffer.getInteger(at: start + 6, as: UInt8.self)!
        let flags = FrameFlags(rawValue: buffer.getInteger(at: start + 7, as: UInt8.self)!)
        let correlation = buffer.getInteger(at: start + 8, as: UInt32.self)!
        guard FrameFlags.known.isSuperset(of: flags) else {
            throw ProtocolError(.badFrame, "reserved flag bits set: 0x\(String(flags.rawValue, radix: 16))")
        }
        guard version >= 1 else { throw ProtocolError(.badFrame, "version 0 is invalid") }
        let wireBody = buffer.getBytes(at: start + Frame.headerSize, length: total - Frame.headerSize)!
        buffer.moveReaderIndex(forwardBy: total)
        var body: [UInt8]
        if flags.contains(.compressed) {
            body = try Inflate.decompress(wireBody, limit: maximumFrameSize)
        } else {
            body = Array(wireBody)
        }
        var plainFlags = flags
        plainFlags.remove(.compressed)
        return Frame(type: MessageType(rawValue: type), version: version, flags: plainFlags, correlationID: correlation, body: body)
    }
}
