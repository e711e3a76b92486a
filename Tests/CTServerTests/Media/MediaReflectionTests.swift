import Foundation
import Protocol
import Testing
@testable import CTServerKit
#if canImport(Glibc)
import Glibc
#endif

/// The no-reflection rule (docs/operations.md, "No reflection"): an unverified SDP address
/// gets nothing until RTP from the SDP host or the signalling host latches.
@Suite struct MediaReflectionTests {
    private func channel(sdp: String, signalling: String, verified: Bool) throws -> MediaChannel {
        let e = MediaCommand.Endpoint(remote: try SocketAddress(host: sdp, port: 40000), payloadType: 0, law: .ulaw, telephoneEvent: 101,
                                      verified: verified, signallingHost: try SocketAddress(host: signalling, port: 5060))
        return MediaChannel(id: "c", fd: -1, port: 0, endpoint: e, echo: false)
    }

    private func destination(_ ch: MediaChannel) -> String? {
        ch.withDestination { sa, len in
            var ss = sockaddr_storage()
            memcpy(&ss, sa, Int(len))
            return SocketAddress(storage: ss, length: len).description
        }
    }

    private func packet(from host: String, port: Int, to ch: MediaChannel) throws -> Bool {
        var ss = try SocketAddress(host: host, port: port).sockaddrStorage
        return ch.accept(source: &ss, length: socklen_t(MemoryLayout<sockaddr_in>.size))
    }

    @Test func unverifiedSDPGetsNothingUntilRTPLatches() throws {
        let ch = try channel(sdp: "192.0.2.9", signalling: "198.51.100.1", verified: false)
        #expect(destination(ch) == nil)
        #expect(ch.withRTCPDestination { _, _ in true } == nil)
        // A stranger cannot latch; the SDP host can.
        #expect(try !packet(from: "203.0.113.5", port: 7000, to: ch))
        #expect(destination(ch) == nil)
        #expect(try packet(from: "192.0.2.9", port: 40002, to: ch))
        #expect(destination(ch) == "192.0.2.9:40002")
        // Once latched, only that address and port.
        #expect(try !packet(from: "192.0.2.9", port: 40004, to: ch))
    }

    @Test func aPhoneBehindNATLatchesFromItsSignallingHost() throws {
        let ch = try channel(sdp: "10.0.0.7", signalling: "198.51.100.1", verified: false)
        #expect(try packet(from: "198.51.100.1", port: 31000, to: ch))
        #expect(destination(ch) == "198.51.100.1:31000")
    }

    @Test func verifiedSDPIsBelievedAtOnce() throws {
        let ch = try channel(sdp: "192.0.2.9", signalling: "198.51.100.1", verified: true)
        #expect(destination(ch) == "192.0.2.9:40000")
        #expect(try packet(from: "192.0.2.9", port: 40000, to: ch))
    }

    /// A re-INVITE moving an unverified call's SDP to another host unlatches it: nothing goes
    /// to the new host until it sends.
    @Test func movingTheSDPElsewhereUnlatches() throws {
        let ch = try channel(sdp: "192.0.2.9", signalling: "198.51.100.1", verified: false)
        #expect(try packet(from: "192.0.2.9", port: 40000, to: ch))
        ch.setEndpoint(MediaCommand.Endpoint(remote: try SocketAddress(host: "203.0.113.5", port: 9), payloadType: 0, law: .ulaw,
                                             telephoneEvent: nil, verified: false, signallingHost: try SocketAddress(host: "198.51.100.1", port: 5060)))
        #expect(destination(ch) == nil)
    }
}
