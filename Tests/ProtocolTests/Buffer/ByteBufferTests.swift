import Testing
@testable import Protocol

@Suite struct ByteBufferTests {
    @Test func integersAreBigEndianAndReadAdvances() {
        var b = ByteBuffer()
        b.writeInteger(UInt32(0x0102_0304))
        b.writeInteger(UInt16(0x0506))
        #expect(Array(b.readableBytesView) == [1, 2, 3, 4, 5, 6])
        #expect(b.peekInteger(as: UInt16.self) == 0x0102)
        #expect(b.readInteger(as: UInt32.self) == 0x0102_0304)
        #expect(b.readableBytes == 2)
        #expect(b.readInteger(as: UInt32.self) == nil, "short reads return nil and do not move")
        #expect(b.readInteger(as: UInt16.self) == 0x0506)
    }

    @Test func setIntegerBackFillsALengthPrefix() {
        var b = ByteBuffer()
        let at = b.reserveSlot(4)
        b.writeString("abc")
        b.setInteger(UInt32(3), at: at)
        #expect(Array(b.readableBytesView) == [0, 0, 0, 3, 97, 98, 99])
    }

    @Test func discardReadBytesKeepsUnreadData() {
        var b = ByteBuffer()
        b.writeBytes([UInt8](repeating: 7, count: 10_000))
        b.writeBytes([1, 2, 3])
        b.moveReaderIndex(forwardBy: 10_000)
        b.discardReadBytes()
        #expect(b.readerIndex == 0)
        #expect(Array(b.readableBytesView) == [1, 2, 3])
    }
}
