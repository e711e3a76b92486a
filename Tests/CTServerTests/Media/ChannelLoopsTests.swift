import Foundation
import Logging
import Protocol
import Testing
@testable import CTServerKit
#if canImport(Glibc)
import Glibc
#endif

/// Several channel loops (issue 20): a mix whose members were placed on different loops still
/// mixes — the joining channel moves to the mix's loop — over real UDP sockets on 127.0.0.1,
/// with io_uring and with one system call per packet.
@Suite(.serialized) struct ChannelLoopsTests {
    /// A UDP socket on 127.0.0.1 with its port.
    final class UDP {
        let fd: Int32
        let address: SocketAddress
        init() throws {
            let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var a = try SocketAddress(host: "127.0.0.1", port: 0).sockaddrStorage
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
            _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
            fd = s
            address = SocketAddress(storage: ss, length: len)
        }
        deinit { close(fd) }

        func send(_ bytes: [UInt8], to: SocketAddress) {
            var a = to.sockaddrStorage
            _ = bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, to.length) } }
            }
        }

        /// Every datagram waiting now.
        func drain() -> [[UInt8]] {
            var out: [[UInt8]] = []
            var buf = [UInt8](repeating: 0, count: 2048)
            while true {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n <= 0 { return out }
                out.append(Array(buf[0..<n]))
            }
        }
    }

    /// A phone: its own socket, and the channel's socket (handed to the engine).
    struct Party {
        let phone: UDP
        let channelSocket: Int32
        let channelAddress: SocketAddress
        let id: String
    }

    private func party(_ id: String, engine: MediaEngine) throws -> Party {
        let phone = try UDP()
        let ch = try UDP()
        let fd = dup(ch.fd)
        engine.submit(.add(id: id, fd: fd, rtcp: -1, port: ch.address.port,
                           endpoint: MediaCommand.Endpoint(remote: phone.address, payloadType: 0, law: .ulaw, telephoneEvent: 101, verified: true),
                           echo: false))
        return Party(phone: phone, channelSocket: fd, channelAddress: ch.address, id: id)
    }

    /// A 20-ms PCMU frame of a 440-Hz tone (or silence).
    private func frame(seq: UInt16, tone: Bool) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 12 + 160)
        p.withUnsafeMutableBytes { b in
            RTPHeader(payloadType: 0, sequence: seq, timestamp: UInt32(seq) * 160, ssrc: 0x1234).write(to: b.baseAddress!)
            for i in 0..<160 {
                let s = tone ? Int16(8000 * sin(2 * Double.pi * 440 * Double(Int(seq) * 160 + i) / 8000)) : 0
                b[12 + i] = G711.encode(s, .ulaw)
            }
        }
        return p
    }

    /// Frames with sound in them (µ-law silence is 0xFF/0x7F).
    private func loud(_ packets: [[UInt8]]) -> Int {
        packets.filter { p in p.count > 12 && p[12...].contains { $0 != 0xFF && $0 != 0x7F && $0 < 0xF0 } }.count
    }

    private func run(_ mode: DatagramBatch.Mode) throws {
        var logger = Logger(label: "loops-test")
        logger.logLevel = .warning
        let engine = try MediaEngine(logger: logger, batchedIO: mode, loops: 2)
        let events = EventBox()
        engine.onEvents = { events.append($0) }
        engine.start()
        defer { engine.stop() }
        let a = try party("a", engine: engine), b = try party("b", engine: engine), c = try party("c", engine: engine)
        Thread.sleep(forTimeInterval: 1.1)   // the loops publish their figures every second
        // Spread over both loops: a and c on loop 0, b on loop 1.
        #expect(engine.loopStats.map(\.channels).sorted() == [1, 2])

        // A conference of three, its members on two loops: b moves to the mix's loop.
        for p in [a, b, c] { engine.submit(.join(mix: "conf", id: p.id, role: .member, bridge: false)) }
        for seq in 0..<50 {
            a.phone.send(frame(seq: UInt16(seq), tone: true), to: a.channelAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(engine.channelMigrations == 1)
        #expect(engine.loopStats.map(\.channels).sorted() == [0, 3])
        // N−1: b and c hear a; a does not hear itself.
        let heardB = b.phone.drain(), heardC = c.phone.drain(), heardA = a.phone.drain()
        #expect(loud(heardB) >= 30, "b heard \(loud(heardB)) loud frames of \(heardB.count)")
        #expect(loud(heardC) >= 30, "c heard \(loud(heardC)) loud frames of \(heardC.count)")
        #expect(loud(heardA) == 0, "a heard itself in \(loud(heardA)) frames")

        // A bridge between a new channel (loop 0 or 1) and c, which is on the conference's loop.
        let d = try party("d", engine: engine)
        engine.submit(.leave(id: "c"))
        Thread.sleep(forTimeInterval: 0.1)
        engine.submit(.join(mix: "bridge", id: "d", role: .member, bridge: true))
        engine.submit(.join(mix: "bridge", id: "c", role: .member, bridge: true))
        // Commands sent while d may be moving still reach it, in order.
        engine.submit(.sendDTMF(id: "d", digits: "5"))
        _ = c.phone.drain(); _ = d.phone.drain()
        for seq in 0..<40 {
            d.phone.send(frame(seq: UInt16(seq), tone: true), to: d.channelAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 0.2)
        let heardByC = c.phone.drain(), heardByD = d.phone.drain()
        #expect(loud(heardByC) >= 25, "c heard \(loud(heardByC)) loud frames of \(heardByC.count)")
        // d's key went out as RFC 4733 events (payload type 101).
        #expect(heardByD.contains { $0.count >= 2 && $0[1] & 0x7F == 101 })
        // The bridge ends when one side goes: the other is told.
        engine.submit(.remove(id: "d"))
        Thread.sleep(forTimeInterval: 0.15)
        #expect(events.all.contains { if case .bridgeEnded(let id, let mix) = $0 { return id == "c" && mix == "bridge" } else { return false } })
        #expect(engine.stats(id: "a")?.packetsIn ?? 0 >= 45)
        for p in [a, b, c] { engine.submit(.remove(id: p.id)) }
        Thread.sleep(forTimeInterval: 1.1)
        #expect(engine.tickStats.channels == 0)
    }

    /// A channel told to join two mixes on two other loops in a row, before its first move is
    /// over: it makes both moves in order, and every command sent meanwhile reaches it.
    @Test func aSecondMoveBeforeTheFirstHasLanded() throws {
        var logger = Logger(label: "loops-test")
        logger.logLevel = .warning
        let engine = try MediaEngine(logger: logger, batchedIO: .uring, loops: 3)
        engine.start()
        defer { engine.stop() }
        let a = try party("a", engine: engine), b = try party("b", engine: engine), c = try party("c", engine: engine)
        Thread.sleep(forTimeInterval: 0.1)
        // One channel per loop. b joins a's conference (loop of a), then at once c's.
        engine.submit(.join(mix: "one", id: "a", role: .member, bridge: false))
        engine.submit(.join(mix: "two", id: "c", role: .member, bridge: false))
        engine.submit(.join(mix: "one", id: "b", role: .member, bridge: false))
        engine.submit(.join(mix: "two", id: "b", role: .member, bridge: false))
        engine.submit(.sendDTMF(id: "b", digits: "7"))
        for seq in 0..<40 {
            c.phone.send(frame(seq: UInt16(seq), tone: true), to: c.channelAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 1.2)
        #expect(engine.channelMigrations == 2)
        let heard = b.phone.drain()
        #expect(loud(heard) >= 25, "b heard \(loud(heard)) loud frames of \(heard.count)")
        #expect(heard.contains { $0.count >= 2 && $0[1] & 0x7F == 101 })
        // b and c share a loop now; a is alone on its own.
        #expect(engine.loopStats.map(\.channels).sorted() == [0, 1, 2])
        _ = a
    }

    @Test func mixesAcrossLoopsWithIOUring() throws { try run(.uring) }
    @Test func mixesAcrossLoopsWithOneSystemCallPerPacket() throws { try run(.syscalls) }
}

final class EventBox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [MediaEvent] = []
    func append(_ e: [MediaEvent]) { lock.lock(); events += e; lock.unlock() }
    var all: [MediaEvent] { lock.lock(); defer { lock.unlock() }; return events }
}
