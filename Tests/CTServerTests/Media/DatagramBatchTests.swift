import Foundation
import Protocol
import Testing
@testable import CTServerKit
#if canImport(Glibc)
import Glibc
#endif

/// The channel loop's batched I/O with registered sockets (io_uring's file table), over real
/// UDP sockets on 127.0.0.1.
@Suite struct DatagramBatchTests {
    typealias UDP = ChannelLoopsTests.UDP

    /// A UDP socket bound to 127.0.0.1:`port` (0: any), or -1 with errno.
    private func bound(port: Int) throws -> Int32 {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var a = try SocketAddress(host: "127.0.0.1", port: port).sockaddrStorage
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 { close(s); return -1 }
        return s
    }

    @Test func aRegisteredSocketIsNamedByItsSlot() throws {
        let batch = DatagramBatch(preferring: .uring)
        try #require(batch.mode == .uring, "io_uring refused by this kernel")
        #expect(batch.fileTable >= 64)
        let phone = try UDP(), channel = try UDP()
        let slot = batch.register(channel.fd)
        #expect(slot == 0)
        phone.send([0x80, 0, 0, 1, 9, 9], to: channel.address)
        Thread.sleep(forTimeInterval: 0.05)
        // A wrong descriptor beside the slot: only the slot can have received this.
        batch.armReceive(0, fd: -1, registered: slot, owner: 0)
        batch.receive(1)
        #expect(batch.results[0] == 6)
        #expect(SocketAddress(storage: batch.address(0).pointee, length: batch.addressLength(0)) == phone.address)
        // And sends through it: back to the phone.
        batch.buffer(0).storeBytes(of: 0x42, as: UInt8.self)
        let to = phone.address.sockaddrStorage
        batch.address(0).pointee = to
        batch.armSend(0, fd: -1, registered: slot, owner: 0, length: 1, addressLength: phone.address.length)
        batch.send(1)
        #expect(batch.results[0] == 1)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(phone.drain() == [[0x42]])
        // A slot given back is used again.
        batch.unregister(slot)
        let other = try UDP()
        #expect(batch.register(other.fd) == slot)
        #expect(batch.register(phone.fd) == slot + 1)
    }

    /// The ring holds a registered socket open: its port is free again only once the slot is
    /// emptied — why a channel's slot is unregistered before its socket is closed.
    @Test func aClosedSocketsPortIsFreedWhenItsSlotIsEmptied() throws {
        let batch = DatagramBatch(preferring: .uring)
        try #require(batch.mode == .uring, "io_uring refused by this kernel")
        let s = try bound(port: 0)
        try #require(s >= 0)
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        let port = SocketAddress(storage: ss, length: len).port
        let slot = batch.register(s)
        #expect(slot >= 0)
        close(s)
        let again = try bound(port: port)
        #expect(again < 0, "the ring still holds port \(port)")
        if again >= 0 { close(again) }
        batch.unregister(slot)
        // The kernel drops its reference when the update is applied.
        var freed: Int32 = -1
        for _ in 0..<50 where freed < 0 {
            freed = try bound(port: port)
            if freed < 0 { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(freed >= 0, "port \(port) still in use after the slot was emptied")
        if freed >= 0 { close(freed) }
    }
}
