import Testing
@testable import Protocol

@Suite struct TLVTests {
    @Test func unknownOptionalFieldsAreSkipped() throws {
        var w = TLVWriter()
        w.write(99, "from a newer peer")
        w.write(1, UInt64(5))
        let hb = try Heartbeat.decode(w.bytes)
        #expect(hb.sentAtMs == 5)
    }

    @Test func unknownMandatoryFieldsAreRejected() throws {
        var w = TLVWriter()
        w.write(FieldTag(99, mandatory: true), "must understand")
        w.write(1, UInt64(5))
        #expect(throws: ProtocolError.self) { try Heartbeat.decode(w.bytes) }
        do { _ = try Heartbeat.decode(w.bytes) } catch let e as ProtocolError { #expect(e.code == .unknownMandatoryField) }
    }

    @Test func fieldRunningPastTheBodyIsBadMessage() {
        let bytes: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 1, 2, 3]
        #expect(throws: ProtocolError(.badMessage, "field 1 length 9 runs past the body")) { try TLVFields(bytes) }
    }

    @Test func truncatedHeaderAndZeroTagAreRejected() {
        #expect(throws: ProtocolError.self) { try TLVFields([0x00, 0x01, 0x00]) }
        #expect(throws: ProtocolError.self) { try TLVFields([0x00, 0x00, 0x00, 0x00, 0x00, 0x00]) }
    }

    @Test func integersAcceptAnyWidthThatFits() throws {
        var w = TLVWriter()
        w.write(1, UInt8(200))
        var f = try TLVFields(w.bytes)
        #expect(try f.uint32(1) == 200)
        var w2 = TLVWriter()
        w2.write(1, UInt32(70000))
        var f2 = try TLVFields(w2.bytes)
        #expect(throws: ProtocolError.self) { try f2.uint16(1) }
    }

    @Test func invalidUTF8IsBadMessage() throws {
        var w = TLVWriter()
        w.write(1, bytes: [0xff, 0xfe])
        var f = try TLVFields(w.bytes)
        #expect(throws: ProtocolError.self) { try f.string(1) }
    }

    @Test func groupsNestAndRepeatInOrder() throws {
        var w = TLVWriter()
        for i in 0..<3 { w.writeGroup(5) { $0.write(1, UInt32(i)) } }
        var f = try TLVFields(w.bytes)
        let values = try f.groups(5).map { g -> UInt32 in var g = g; return try g.uint32(1)! }
        #expect(values == [0, 1, 2])
    }
}
