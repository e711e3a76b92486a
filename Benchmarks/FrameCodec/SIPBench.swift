import CTServerKit

let benchInvite = Array("""
    INVITE sip:4000@127.0.0.1:5060 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-524287-1---abcdef0123456789;rport\r
    Max-Forwards: 70\r
    Contact: <sip:caller@127.0.0.1:5061;transport=udp>\r
    To: <sip:4000@127.0.0.1:5060>\r
    From: "Caller" <sip:caller@127.0.0.1:5061>;tag=b1b2c3d4\r
    Call-ID: ZmFjZTEyMzQ1Njc4OTBhYmNkZWY.@127.0.0.1\r
    CSeq: 1 INVITE\r
    Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r
    Content-Type: application/sdp\r
    Supported: replaces, timer\r
    User-Agent: bench\r
    Content-Length: 148\r
    \r
    v=0\r
    o=- 1 1 IN IP4 127.0.0.1\r
    s=-\r
    c=IN IP4 127.0.0.1\r
    t=0 0\r
    m=audio 40000 RTP/AVP 0 8 101\r
    a=rtpmap:0 PCMU/8000\r
    a=rtpmap:101 telephone-event/8000\r
    a=sendrecv\r
    \r

    """.utf8)

/// The lazy parser's figures (issue 20): a parse only finds the lines, looks the names up and
/// keeps each value's span; "parse + read" also makes the Strings of the headers a transaction
/// reads; "parse + screen" adds the typed checks every request passes.
func benchSIP() {
    let invite = benchInvite
    let parser = SIPParser()
    let screen = SIPRequestScreen()
    var count = 1_000_000
    var ok = 0
    var start = now()
    for _ in 0..<count { if case .success = parser.parse(invite) { ok += 1 } }
    var secs = Double(now() - start) / 1e9
    precondition(ok == count)
    print(String(format: "sip    parse INVITE (%d B)           %10.0f messages/s  (%.2f µs each)", invite.count, Double(count) / secs, secs / Double(count) * 1e6))
    start = now()
    var octets = 0
    for _ in 0..<count {
        if case .success(let m) = parser.parse(invite) {
            octets &+= (m.value(.via)?.utf8.count ?? 0) &+ (m.value(.callID)?.utf8.count ?? 0) &+ (m.value(.cseq)?.utf8.count ?? 0)
                &+ (m.value(.from)?.utf8.count ?? 0) &+ (m.value(.to)?.utf8.count ?? 0)
        }
    }
    secs = Double(now() - start) / 1e9
    precondition(octets > 0)
    print(String(format: "sip    parse + read Via/Call-ID/CSeq/From/To %6.0f messages/s  (%.2f µs each)", Double(count) / secs, secs / Double(count) * 1e6))
    count = 300_000
    start = now()
    for _ in 0..<count { if case .accept = screen.screen(parser.parse(invite)) { ok += 1 } }
    secs = Double(now() - start) / 1e9
    print(String(format: "sip    parse + screen INVITE         %10.0f messages/s  (%.2f µs each)", Double(count) / secs, secs / Double(count) * 1e6))
    let m = try! parser.parse(invite).get()
    start = now()
    var bytes = 0
    for _ in 0..<count { bytes &+= m.makeResponse(180, "Ringing", toTag: "t").serialized().count }
    secs = Double(now() - start) / 1e9
    print(String(format: "sip    build + serialise 180         %10.0f messages/s", Double(count) / secs))
}

/// Parsing alone, in one-second rounds: prints each round and the median (this machine's
/// figures move by ±30 % between runs; the median of several rounds is the one to quote).
func benchSIPParseOnly(seconds: Double) {
    let parser = SIPParser()
    var rounds: [Double] = []
    for _ in 0..<max(1, Int(seconds)) {
        let start = now()
        let deadline = start + 1_000_000_000
        var n = 0
        while now() < deadline {
            for _ in 0..<10_000 { if case .success = parser.parse(benchInvite) { n += 1 } }
        }
        rounds.append(Double(n) / (Double(now() - start) / 1e9))
    }
    let sorted = rounds.sorted()
    print("sip    parse rounds: " + rounds.map { String(format: "%.0f", $0) }.joined(separator: " "))
    print(String(format: "sip    parse INVITE (%d B)  median %10.0f messages/s  best %10.0f  (%.2f µs each at the median)",
                 benchInvite.count, sorted[sorted.count / 2], sorted.last!, 1e6 / sorted[sorted.count / 2]))
}
