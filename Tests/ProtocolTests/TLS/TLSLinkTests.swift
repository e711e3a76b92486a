import Foundation
import Testing
import TestSupport
@testable import Protocol

/// TLS on a link, with a throwaway CA and certificates made by the openssl command.
@Suite(.serialized) struct TLSLinkTests {
    let link = LinkSocketTests()

    @Test func tlsHandshakeThenLinkHandshakeAndRequests() throws {
        let pki = try TestPKI(names: ["server", "client"])
        defer { pki.remove() }
        let lt = try LoopThread()
        defer { lt.stop() }
        let serverTLS = try TLSContext(server: TLSConfiguration(certificateFile: pki.cert("server"), privateKeyFile: pki.key("server")))
        let server = try link.makeServer(lt, tls: serverTLS)
        let clientTLS = try TLSContext(client: TLSConfiguration(caFile: pki.caCert))
        let d = try link.makeDialer(lt, port: server.boundAddress.port, tls: clientTLS)
        #expect(TestSupport.waitUntil { (try? lt.sync { d.established != nil }) == true })
        let security = try lt.sync { d.established?.security ?? "" }
        #expect(security.hasPrefix("TLSv1.3") || security.hasPrefix("TLSv1.2"), "negotiated \(security)")
        let big = [UInt8](repeating: 3, count: 200_000)
        #expect((try? link.echoRequest(lt, d, body: big).get().body) == big)
        try lt.sync { d.stop() }
    }

    @Test func clientCertificateRequiredAndVerified() throws {
        let pki = try TestPKI(names: ["server", "client"])
        defer { pki.remove() }
        let lt = try LoopThread()
        defer { lt.stop() }
        let serverTLS = try TLSContext(server: TLSConfiguration(certificateFile: pki.cert("server"), privateKeyFile: pki.key("server"),
                                                                caFile: pki.caCert, verifyPeer: true))
        let server = try link.makeServer(lt, tls: serverTLS)
        // Without a client certificate: refused.
        let anonymous = try link.makeDialer(lt, port: server.boundAddress.port, tls: try TLSContext(client: TLSConfiguration(caFile: pki.caCert)))
        #expect(TestSupport.waitUntil(30) { (try? lt.sync { anonymous.lastError != nil }) == true })
        #expect(try lt.sync { anonymous.established == nil })
        try lt.sync { anonymous.stop() }
        // With one signed by the CA: accepted.
        let withCert = try link.makeDialer(lt, port: server.boundAddress.port, tls: try TLSContext(client: TLSConfiguration(
            certificateFile: pki.cert("client"), privateKeyFile: pki.key("client"), caFile: pki.caCert)))
        #expect(TestSupport.waitUntil { (try? lt.sync { withCert.established != nil }) == true })
        try lt.sync { withCert.stop() }
    }

    @Test func serverCertificateFromAnotherCAIsRejected() throws {
        let pki = try TestPKI(names: ["server"])
        let rogue = try TestPKI(names: ["other"], caName: "rogue")
        defer { pki.remove(); rogue.remove() }
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try link.makeServer(lt, tls: try TLSContext(server: TLSConfiguration(certificateFile: pki.cert("server"), privateKeyFile: pki.key("server"))))
        let d = try link.makeDialer(lt, port: server.boundAddress.port,
                                    tls: try TLSContext(client: TLSConfiguration(caFile: rogue.directory.appendingPathComponent("rogue.pem").path)))
        #expect(TestSupport.waitUntil(30) { (try? lt.sync { d.lastError != nil }) == true })
        let error = try lt.sync { d.lastError }
        #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
        #expect(error?.reason.contains("certificate") == true)
        try lt.sync { d.stop() }
    }

    @Test func plainClientAgainstTLSListenerFailsCleanly() throws {
        let pki = try TestPKI(names: ["server"])
        defer { pki.remove() }
        let lt = try LoopThread()
        defer { lt.stop() }
        let server = try link.makeServer(lt, tls: try TLSContext(server: TLSConfiguration(certificateFile: pki.cert("server"), privateKeyFile: pki.key("server"))))
        let d = try link.makeDialer(lt, port: server.boundAddress.port)
        #expect(TestSupport.waitUntil(30) { (try? lt.sync { d.lastError != nil }) == true })
        #expect(try lt.sync { d.established == nil })
        try lt.sync { d.stop() }
        #expect(TestSupport.waitUntil { (try? lt.sync { server.connections.isEmpty }) == true })
    }
}
