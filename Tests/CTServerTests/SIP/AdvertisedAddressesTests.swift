import Testing
@testable import CTServerKit
@testable import Protocol

/// What the CT-Server tells each peer its address is.
@Suite struct AdvertisedAddressesTests {
    @Test func networksMatchByPrefix() throws {
        let ten = try #require(AdvertisedAddresses.Network("10.0.0.0/8"))
        #expect(ten.contains("10.77.1.2") && !ten.contains("11.0.0.1") && !ten.contains("::1"))
        let host = try #require(AdvertisedAddresses.Network("192.0.2.7"))
        #expect(host.contains("192.0.2.7") && !host.contains("192.0.2.8"))
        let ula = try #require(AdvertisedAddresses.Network("fc00::/7"))
        #expect(ula.contains("fd12:3456::1") && !ula.contains("2001:db8::1"))
        let odd = try #require(AdvertisedAddresses.Network("172.16.0.0/12"))
        #expect(odd.contains("172.31.255.255") && !odd.contains("172.32.0.1"))
        #expect(AdvertisedAddresses.Network("10.0.0.0/33") == nil && AdvertisedAddresses.Network("example.com") == nil)
    }

    @Test func wildcardListeningAdvertisesTheRouteToThePeer() throws {
        let a = AdvertisedAddresses(externalAddress: nil)
        let wildcard = try SocketAddress(host: "0.0.0.0", port: 5060)
        #expect(a.hostPort(toward: try SocketAddress(host: "127.0.0.1", port: 5070), bound: wildcard) == "127.0.0.1:5060")
        let bound = try SocketAddress(host: "127.0.0.1", port: 5062)
        #expect(a.host(toward: try SocketAddress(host: "127.0.0.1", port: 1), bound: bound) == "127.0.0.1")
    }

    /// Behind NAT: the external address for peers outside the local networks, the interface's
    /// address for those inside.
    @Test func externalAddressForOutsidePeersOnly() throws {
        let a = AdvertisedAddresses(externalAddress: "203.0.113.7")
        let bound = try SocketAddress(host: "127.0.0.1", port: 5060)
        #expect(a.hostPort(toward: try SocketAddress(host: "198.51.100.20", port: 5060), bound: bound) == "203.0.113.7:5060")
        #expect(a.host(toward: try SocketAddress(host: "127.0.0.1", port: 5060), bound: bound) == "127.0.0.1")
        #expect(a.host(toward: try SocketAddress(host: "192.168.1.50", port: 5060), bound: bound) == "127.0.0.1")
    }

    @Test func natIsWhenThePhoneRegistersFromElsewhereThanItsContact() throws {
        func binding(contact: String, from: String, port: Int) throws -> Registrar.Binding {
            Registrar.Binding(contact: SIPNameAddr(uri: try SIPURI(parsing: contact)), expiresAt: 0, callID: "c", cseq: 1,
                              source: SIPPeer(transport: .udp, address: try SocketAddress(host: from, port: port)), userAgent: nil)
        }
        #expect(CTSIPCore.isBehindNAT(try binding(contact: "sip:1001@192.168.1.5:5060", from: "198.51.100.9", port: 40_000)))
        #expect(CTSIPCore.isBehindNAT(try binding(contact: "sip:1001@198.51.100.9:5060", from: "198.51.100.9", port: 40_000)), "port changed")
        #expect(!CTSIPCore.isBehindNAT(try binding(contact: "sip:1001@198.51.100.9:5060", from: "198.51.100.9", port: 5060)))
        #expect(!CTSIPCore.isBehindNAT(try binding(contact: "sip:1001@198.51.100.9", from: "198.51.100.9", port: 5060)), "default port")
    }
}

/// Failed REGISTERs are logged with the user they tried.
@Suite struct AuthFailureLogTests {
    @Test func usernameFromTheAuthorization() {
        #expect(CTSIPCore.digestUsername(#"Digest username="1001", realm="hotline", nonce="x""#) == "1001")
        #expect(CTSIPCore.digestUsername(#"Digest realm="hotline""#) == nil)
    }
}
