import Foundation
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// A phone scripted message by message over a real UDP socket, for what the third-party phones
/// in the suite cannot do (baresip 1.0 has no attended transfer): register with digest, answer
/// an INVITE, hold, place a second call, and REFER with Replaces (RFC 3891, RFC 5589 §7). It
/// answers every request it receives (NOTIFY, BYE) with 200 and keeps what it saw.
final class ScriptedPhone {
    let socket: UDPTestSocket
    let user: String
    let password: String
    let server: Int
    private(set) var seen: [String] = []
    var port: Int { socket.port }

    /// One dialog of the phone: enough to send requests in it.
    struct Dialog {
        var callID: String
        var localTag: String
        var remoteTag: String
        var localURI: String
        var remoteURI: String
        var remoteTarget: String
        var cseq: Int
    }

    init(user: String, password: String, server: Int) throws {
        socket = try UDPTestSocket()
        self.user = user
        self.password = password
        self.server = server
    }

    // MARK: messages

    static func header(_ m: String, _ name: String) -> String? {
        for line in m.components(separatedBy: "\r\n").dropFirst() {
            if line.isEmpty { break }
            guard let c = line.firstIndex(of: ":") else { continue }
            if line[..<c].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
                return line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    static func headers(_ m: String, _ name: String) -> [String] {
        m.components(separatedBy: "\r\n").dropFirst().prefix { !$0.isEmpty }.compactMap { line in
            guard let c = line.firstIndex(of: ":"), line[..<c].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() else { return nil }
            return line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
    }

    static func tag(_ value: String) -> String? {
        value.range(of: #";tag=[^;>\s]+"#, options: .regularExpression).map { String(value[$0].dropFirst(5)) }
    }

    static func uri(_ nameAddr: String) -> String {
        guard let l = nameAddr.firstIndex(of: "<"), let r = nameAddr.firstIndex(of: ">") else { return nameAddr }
        return String(nameAddr[nameAddr.index(after: l)..<r])
    }

    private func send(_ text: String) {
        Sockets.sendTo(socket.fd, Array(text.utf8), try! SocketAddress(host: "127.0.0.1", port: server))
    }

    /// The next message (answering requests that are not `wanted` with 200 on the way), or nil.
    func next(seconds: Double = 10, until wanted: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        var buf = [UInt8](repeating: 0, count: 65535)
        while Date() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { continue }
            let m = String(decoding: buf[0..<n], as: UTF8.self)
            seen.append(m)
            if wanted(m) { return m }
            if !m.hasPrefix("SIP/2.0"), !m.hasPrefix("ACK ") { respond(to: m, code: 200) }
        }
        return nil
    }

    func respond(to request: String, code: Int, reason: String = "OK", toTag: String? = nil, extra: String = "", body: String = "") {
        var r = "SIP/2.0 \(code) \(reason)\r\n"
        for v in Self.headers(request, "Via") { r += "Via: \(v)\r\n" }
        r += "From: \(Self.header(request, "From") ?? "")\r\n"
        let to = Self.header(request, "To") ?? ""
        r += "To: \(to)\(Self.tag(to) == nil && toTag != nil ? ";tag=\(toTag!)" : "")\r\n"
        r += "Call-ID: \(Self.header(request, "Call-ID") ?? "")\r\nCSeq: \(Self.header(request, "CSeq") ?? "")\r\n"
        r += "Contact: <sip:\(user)@127.0.0.1:\(port)>\r\n" + extra
        r += body.isEmpty ? "Content-Length: 0\r\n\r\n" : "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        send(r)
    }

    func sdp(direction: String = "sendrecv", rtpPort: Int) -> String {
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(rtpPort) RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=\(direction)\r\n"
    }

    private func request(_ method: String, uri: String, from: String, to: String, callID: String, cseq: Int, extra: String = "", body: String = "") -> String {
        var m = "\(method) \(uri) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK\(UUID().uuidString.prefix(10));rport\r\nMax-Forwards: 70\r\n"
        m += "From: \(from)\r\nTo: \(to)\r\nCall-ID: \(callID)\r\nCSeq: \(cseq) \(method)\r\nContact: <sip:\(user)@127.0.0.1:\(port)>\r\n" + extra
        m += body.isEmpty ? "Content-Length: 0\r\n\r\n" : "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return m
    }

    // MARK: what the phone does

    func register() -> Bool {
        let from = "<sip:\(user)@127.0.0.1>;tag=r\(port)", to = "<sip:\(user)@127.0.0.1>", callID = "reg-\(port)"
        send(request("REGISTER", uri: "sip:127.0.0.1:\(server)", from: from, to: to, callID: callID, cseq: 1, extra: "Expires: 600\r\n"))
        guard let challenge = next(until: { $0.hasPrefix("SIP/2.0 401") }), let www = Self.header(challenge, "WWW-Authenticate"),
              let r = www.range(of: #"nonce="[^"]*""#, options: .regularExpression) else { return false }
        let nonce = String(www[r].dropFirst(7).dropLast())
        let ha1 = Crypto.hexDigest(.md5, "\(user):hotline:\(password)"), ha2 = Crypto.hexDigest(.md5, "REGISTER:sip:127.0.0.1")
        let auth = "Digest username=\"\(user)\", realm=\"hotline\", nonce=\"\(nonce)\", uri=\"sip:127.0.0.1\", response=\"\(Crypto.hexDigest(.md5, "\(ha1):\(nonce):\(ha2)"))\", algorithm=MD5"
        send(request("REGISTER", uri: "sip:127.0.0.1:\(server)", from: from, to: to, callID: callID, cseq: 2, extra: "Expires: 600\r\nAuthorization: \(auth)\r\n"))
        return next(until: { $0.hasPrefix("SIP/2.0 200") && $0.contains("REGISTER") }) != nil
    }

    /// Waits for an INVITE and answers it; returns the dialog once the ACK arrived.
    func answer(rtpPort: Int, seconds: Double = 30) -> Dialog? {
        guard let invite = next(seconds: seconds, until: { $0.hasPrefix("INVITE ") }) else { return nil }
        let tag = "ans\(port)"
        respond(to: invite, code: 200, toTag: tag, body: sdp(rtpPort: rtpPort))
        guard next(until: { $0.hasPrefix("ACK ") }) != nil else { return nil }
        let from = Self.header(invite, "From") ?? "", to = Self.header(invite, "To") ?? ""
        return Dialog(callID: Self.header(invite, "Call-ID") ?? "", localTag: tag, remoteTag: Self.tag(from) ?? "",
                      localURI: "\(to);tag=\(tag)", remoteURI: from, remoteTarget: Self.uri(Self.header(invite, "Contact") ?? ""), cseq: 1)
    }

    /// Puts a dialog on hold (re-INVITE a=sendonly), waits for the 200 and ACKs it.
    func hold(_ d: inout Dialog, rtpPort: Int) -> Bool {
        d.cseq += 1
        send(request("INVITE", uri: d.remoteTarget, from: d.localURI, to: d.remoteURI, callID: d.callID, cseq: d.cseq, body: sdp(direction: "sendonly", rtpPort: rtpPort)))
        guard next(until: { $0.hasPrefix("SIP/2.0 200") && $0.contains("INVITE") && $0.contains(d.callID) }) != nil else { return false }
        send(request("ACK", uri: d.remoteTarget, from: d.localURI, to: d.remoteURI, callID: d.callID, cseq: d.cseq))
        return true
    }

    /// Calls `number` (a new dialog); returns it once answered and ACKed.
    func call(_ number: String, rtpPort: Int, seconds: Double = 20) -> Dialog? {
        let callID = "consult-\(UUID().uuidString.prefix(8))@127.0.0.1", tag = "c\(port)"
        let from = "<sip:\(user)@127.0.0.1>;tag=\(tag)", to = "<sip:\(number)@127.0.0.1:\(server)>"
        send(request("INVITE", uri: "sip:\(number)@127.0.0.1:\(server)", from: from, to: to, callID: callID, cseq: 1, body: sdp(rtpPort: rtpPort)))
        guard let ok = next(seconds: seconds, until: { $0.hasPrefix("SIP/2.0 ") && $0.contains(callID) && !$0.hasPrefix("SIP/2.0 1") }),
              ok.hasPrefix("SIP/2.0 200"), let toHeader = Self.header(ok, "To"), let remoteTag = Self.tag(toHeader) else { return nil }
        let target = Self.uri(Self.header(ok, "Contact") ?? "")
        send(request("ACK", uri: target, from: from, to: toHeader, callID: callID, cseq: 1))
        return Dialog(callID: callID, localTag: tag, remoteTag: remoteTag, localURI: from, remoteURI: toHeader, remoteTarget: target, cseq: 1)
    }

    /// REFERs dialog `d`'s other party to `number`, replacing dialog `consult`; returns the
    /// status of the REFER's response.
    func referReplacing(_ d: inout Dialog, number: String, consult: Dialog) -> String? {
        d.cseq += 1
        let replaces = "\(consult.callID);to-tag=\(consult.remoteTag);from-tag=\(consult.localTag)"
            .replacingOccurrences(of: ";", with: "%3B").replacingOccurrences(of: "=", with: "%3D").replacingOccurrences(of: "@", with: "%40")
        let referTo = "<sip:\(number)@127.0.0.1:\(server)?Replaces=\(replaces)>"
        send(request("REFER", uri: d.remoteTarget, from: d.localURI, to: d.remoteURI, callID: d.callID, cseq: d.cseq,
                     extra: "Refer-To: \(referTo)\r\nReferred-By: <sip:\(user)@127.0.0.1>\r\n"))
        return next(until: { $0.hasPrefix("SIP/2.0 ") && $0.contains("REFER") && !$0.hasPrefix("SIP/2.0 1") })
    }
}
