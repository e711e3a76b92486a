/// A growable byte buffer with a reader index, after SwiftNIO's ByteBuffer.
///
/// Verbs: `read*` consumes and returns nil when too few bytes are readable; `get*`/`peek*`
/// look without moving; `write*` appends. Integers are big-endian (network order).
public struct ByteBuffer: Equatable, Sendable {
    @usableFromInline var storage: [UInt8]
    public private(set) var readerIndex: Int = 0

    public init(capacity: Int = 256) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    public init(bytes: some Sequence<UInt8>) {
        storage = Array(bytes)
    }

    /// Bytes written but not yet read.
    public var readableBytes: Int { storage.count - readerIndex }
    public var writerIndex: Int { storage.count }

    /// The unread bytes as an array (copies).
    public var readableBytesView: ArraySlice<UInt8> { storage[readerIndex...] }

    public static func == (a: ByteBuffer, b: ByteBuffer) -> Bool { a.readableBytesView == b.readableBytesView }

    // MARK: writing

    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        var be = value.bigEndian
        withUnsafeBytes(of: &be) { storage.append(contentsOf: $0) }
    }

    public mutating func writeBytes(_ bytes: some Sequence<UInt8>) { storage.append(contentsOf: bytes) }

    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) { storage.append(contentsOf: bytes) }

    public mutating func writeString(_ s: String) { storage.append(contentsOf: s.utf8) }

    /// Overwrites an integer already written at `index` (used to back-fill length prefixes).
    public mutating func setInteger<T: FixedWidthInteger>(_ value: T, at index: Int) {
        precondition(index >= 0 && index + MemoryLayout<T>.size <= storage.count, "setInteger out of range")
        var v = value.bigEndian
        withUnsafeBytes(of: &v) { raw in
            for i in 0..<raw.count { storage[index + i] = raw[i] }
        }
    }

    /// Appends `count` zero bytes and returns the index of the first (to be `set` later).
    public mutating func reserveSlot(_ count: Int) -> Int {
        let at = storage.count
        storage.append(contentsOf: repeatElement(0, count: count))
        return at
    }

    // MARK: reading

    /// Reads an integer at an absolute index without moving the reader index.
    @inlinable
    public func getInteger<T: FixedWidthInteger>(at index: Int, as: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard index >= 0, index + size <= storage.count else { return nil }
        var v: T = 0
        for i in 0..<size { v = (v << 8) | T(storage[index + i]) }
        return v
    }

    public func peekInteger<T: FixedWidthInteger>(as: T.Type = T.self, offset: Int = 0) -> T? {
        getInteger(at: readerIndex + offset, as: T.self)
    }

    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        guard let v = getInteger(at: readerIndex, as: T.self) else { return nil }
        readerIndex += MemoryLayout<T>.size
        return v
    }

    public func getBytes(at index: Int, length: Int) -> ArraySlice<UInt8>? {
        guard index >= 0, length >= 0, index + length <= storage.count else { return nil }
        return storage[index..<(index + length)]
    }

    public mutating func readBytes(length: Int) -> ArraySlice<UInt8>? {
        guard let b = getBytes(at: readerIndex, length: length) else { return nil }
        readerIndex += length
        return b
    }

    public mutating func moveReaderIndex(forwardBy n: Int) {
        precondition(n >= 0 && n <= readableBytes)
        readerIndex += n
    }

    /// Drops consumed bytes once they are the larger part of the storage, so a long-lived
    /// connection buffer does not grow with everything it ever received.
    public mutating func discardReadBytes() {
        if readerIndex == storage.count {
            storage.removeAll(keepingCapacity: true)
            readerIndex = 0
        } else if readerIndex > 4096 && readerIndex > storage.count / 2 {
            storage.removeFirst(readerIndex)
            readerIndex = 0
        }
    }

    public mutating func clear() {
        storage.removeAll(keepingCapacity: true)
        readerIndex = 0
    }

    public func withUnsafeReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in try body(UnsafeRawBufferPointer(rebasing: raw[readerIndex...])) }
    }
}
