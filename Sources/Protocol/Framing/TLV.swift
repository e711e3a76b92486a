/// Tag-length-value bodies (docs/protocol.md §4).
///
/// A field is `tag: u16`, `length: u32`, then `length` bytes of value, all big-endian.
/// Bit 15 of the tag marks the field mandatory: a receiver that does not know a mandatory
/// field rejects the message; unknown optional fields are skipped, so old peers keep working.
public struct FieldTag: Hashable, Sendable, ExpressibleByIntegerLiteral {
    public let number: UInt16
    public let mandatory: Bool

    public init(_ number: UInt16, mandatory: Bool = false) {
        precondition(number > 0 && number < 0x8000, "field numbers are 1...32767")
        self.number = number
        self.mandatory = mandatory
    }

    public init(integerLiteral value: UInt16) { self.init(value) }

    public var wireValue: UInt16 { mandatory ? (number | 0x8000) : number }
    /// The mandatory form of this tag.
    public var required: FieldTag { FieldTag(number, mandatory: true) }
}

/// Writes a TLV body.
public struct TLVWriter: Sendable {
    public private(set) var buffer: ByteBuffer

    public init(capacity: Int = 128) { buffer = ByteBuffer(capacity: capacity) }

    public var bytes: [UInt8] { Array(buffer.readableBytesView) }

    private mutating func header(_ tag: FieldTag, _ length: Int) {
        buffer.writeInteger(tag.wireValue)
        buffer.writeInteger(UInt32(length))
    }

    public mutating func write(_ tag: FieldTag, _ v: UInt8) { header(tag, 1); buffer.writeInteger(v) }
    public mutating func write(_ tag: FieldTag, _ v: UInt16) { header(tag, 2); buffer.writeInteger(v) }
    public mutating func write(_ tag: FieldTag, _ v: UInt32) { header(tag, 4); buffer.writeInteger(v) }
    public mutating func write(_ tag: FieldTag, _ v: UInt64) { header(tag, 8); buffer.writeInteger(v) }
    public mutating func write(_ tag: FieldTag, _ v: Int64) { header(tag, 8); buffer.writeInteger(v) }
    public mutating func write(_ tag: FieldTag, _ v: Bool) { header(tag, 1); buffer.writeInteger(UInt8(v ? 1 : 0)) }
    public mutating func write(_ tag: FieldTag, _ v: String) {
        let utf8 = v.utf8
        header(tag, utf8.count)
        buffer.writeBytes(utf8)
    }
    public mutating func write(_ tag: FieldTag, bytes: some Collection<UInt8>) {
        header(tag, bytes.count)
        buffer.writeBytes(bytes)
    }
    /// A nested group of fields (a struct inside a message, or one element of a list).
    public mutating func writeGroup(_ tag: FieldTag, _ body: (inout TLVWriter) -> Void) {
        buffer.writeInteger(tag.wireValue)
        let lengthAt = buffer.reserveSlot(4)
        let start = buffer.writerIndex
        var inner = TLVWriter(capacity: 0)
        swap(&inner.buffer, &buffer)
        body(&inner)
        swap(&inner.buffer, &buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - start), at: lengthAt)
    }
    public mutating func writeIfPresent(_ tag: FieldTag, _ v: String?) { if let v { write(tag, v) } }
    public mutating func writeIfPresent(_ tag: FieldTag, _ v: UInt64?) { if let v { write(tag, v) } }
    public mutating func writeIfPresent(_ tag: FieldTag, _ v: UInt32?) { if let v { write(tag, v) } }
}

/// The parsed fields of one TLV body, with lookups that record which tags the reader
/// understood so that `finish()` can reject unknown mandatory fields.
public struct TLVFields: Sendable {
    public struct Field: Sendable {
        public let number: UInt16
        public let mandatory: Bool
        public let value: ArraySlice<UInt8>
    }

    public let fields: [Field]
    // Field numbers the reader asked for: a bit mask for 1...63 (every catalogue message so
    // far), a set beyond. Kept cheap because it is touched on every field lookup.
    private var understoodMask: UInt64 = 0
    private var understoodHigh: Set<UInt16> = []

    private mutating func markUnderstood(_ n: UInt16) {
        if n < 64 { understoodMask |= 1 << UInt64(n) } else { understoodHigh.insert(n) }
    }

    private func isUnderstood(_ n: UInt16) -> Bool {
        n < 64 ? understoodMask & (1 << UInt64(n)) != 0 : understoodHigh.contains(n)
    }

    /// Splits `bytes` into fields. Throws on a field that runs past the end.
    public init(_ bytes: ArraySlice<UInt8>) throws {
        var out: [Field] = []
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            guard end - i >= 6 else { throw ProtocolError(.badMessage, "truncated field header") }
            let rawTag = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
            let len = Int(UInt32(bytes[i + 2]) << 24 | UInt32(bytes[i + 3]) << 16 | UInt32(bytes[i + 4]) << 8 | UInt32(bytes[i + 5]))
            i += 6
            guard len <= end - i else { throw ProtocolError(.badMessage, "field \(rawTag & 0x7FFF) length \(len) runs past the body") }
            let number = rawTag & 0x7FFF
            guard number != 0 else { throw ProtocolError(.badMessage, "field number 0 is reserved") }
            out.append(Field(number: number, mandatory: rawTag & 0x8000 != 0, value: bytes[i..<(i + len)]))
            i += len
        }
        fields = out
    }

    public init(_ bytes: [UInt8]) throws { try self.init(bytes[...]) }

    private mutating func first(_ number: UInt16) -> ArraySlice<UInt8>? {
        markUnderstood(number)
        return fields.first(where: { $0.number == number })?.value
    }

    private mutating func all(_ number: UInt16) -> [ArraySlice<UInt8>] {
        markUnderstood(number)
        return fields.filter { $0.number == number }.map(\.value)
    }

    private static func unsigned(_ v: ArraySlice<UInt8>, tag: UInt16) throws -> UInt64 {
        guard [1, 2, 4, 8].contains(v.count) else { throw ProtocolError(.badMessage, "field \(tag): integer of \(v.count) bytes") }
        return v.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    public mutating func uint64(_ tag: FieldTag) throws -> UInt64? {
        guard let v = first(tag.number) else { return nil }
        return try Self.unsigned(v, tag: tag.number)
    }

    public mutating func uint32(_ tag: FieldTag) throws -> UInt32? {
        guard let v = try uint64(tag) else { return nil }
        guard let r = UInt32(exactly: v) else { throw ProtocolError(.badMessage, "field \(tag.number): \(v) exceeds u32") }
        return r
    }

    public mutating func uint16(_ tag: FieldTag) throws -> UInt16? {
        guard let v = try uint64(tag) else { return nil }
        guard let r = UInt16(exactly: v) else { throw ProtocolError(.badMessage, "field \(tag.number): \(v) exceeds u16") }
        return r
    }

    public mutating func uint8(_ tag: FieldTag) throws -> UInt8? {
        guard let v = try uint64(tag) else { return nil }
        guard let r = UInt8(exactly: v) else { throw ProtocolError(.badMessage, "field \(tag.number): \(v) exceeds u8") }
        return r
    }

    public mutating func int64(_ tag: FieldTag) throws -> Int64? {
        guard let v = first(tag.number) else { return nil }
        guard v.count == 8 else { throw ProtocolError(.badMessage, "field \(tag.number): i64 of \(v.count) bytes") }
        return Int64(bitPattern: v.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    public mutating func bool(_ tag: FieldTag) throws -> Bool? {
        guard let v = first(tag.number) else { return nil }
        guard v.count == 1, v.first! <= 1 else { throw ProtocolError(.badMessage, "field \(tag.number): bad boolean") }
        return v.first! == 1
    }

    public mutating func string(_ tag: FieldTag) throws -> String? {
        guard let v = first(tag.number) else { return nil }
        return try Self.decodeString(v, tag: tag.number)
    }

    private static func decodeString(_ v: ArraySlice<UInt8>, tag: UInt16) throws -> String {
        guard let s = String(validating: v, as: UTF8.self) else {
            throw ProtocolError(.badMessage, "field \(tag): invalid UTF-8")
        }
        return s
    }

    public mutating func strings(_ tag: FieldTag) throws -> [String] {
        try all(tag.number).map { try Self.decodeString($0, tag: tag.number) }
    }

    public mutating func bytes(_ tag: FieldTag) -> [UInt8]? { first(tag.number).map(Array.init) }

    public mutating func group(_ tag: FieldTag) throws -> TLVFields? {
        guard let v = first(tag.number) else { return nil }
        return try TLVFields(v)
    }

    public mutating func groups(_ tag: FieldTag) throws -> [TLVFields] {
        try all(tag.number).map { try TLVFields($0) }
    }

    /// A required field: throws a bad-message error naming the field when it is absent.
    public static func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw ProtocolError(.badMessage, "missing field \(name)") }
        return value
    }

    /// Rejects the message if it carries a mandatory field the reader did not ask for.
    public func finish() throws {
        for f in fields where f.mandatory && !isUnderstood(f.number) {
            throw ProtocolError(.unknownMandatoryField, "unknown mandatory field \(f.number)")
        }
    }
}
