import Foundation
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A load client that is not the bottleneck (`hotline-bench rtp-load`, issue 20): it places N
/// calls over SIP/UDP to one number (the echo test, `*43`), streams PCMU both ways on each with
/// batched I/O (`RTPLoadWorker`), and checks every echoed packet. The run:
///
///   1. calls are placed at `rate` per second (INVITE, retransmitted on RFC 3261's timer A,
///      ACK for every 200 and every failure); each call streams from its answer;
///   2. when every call is answered or has failed, a second later, the measured window of
///      `seconds` opens (`onEvent("window start")`) — the packets sent inside it are the ones
///      counted, and each must come back once, intact, from its own call's far end;
///   3. one second after the window (for the last echoes) the streams stop and the calls end
///      with BYE at `rate` per second; the report follows.
public final class RTPLoadGenerator {
    public struct Configuration {
        public var server = "127.0.0.1"
        public var serverPort = 5060
        public var number = "*43"
        public var calls = 100
        public var rate = 200.0
        public var seconds = 10.0
        public var localHost = "127.0.0.1"
        public var sipPort = 0                   // 0: any free port
        public var rtpPortBase = 30_000
        /// Calls per RTP socket (each socket and its RTCP neighbour is shared by that many calls).
        public var callsPerSocket = 250
        public var workers = 1
        public init() {}
    }

    public struct Report {
        public var calls = 0, answered = 0, failed = 0
        public var failures: [String: Int] = [:]
        public var ended = 0                      // BYE answered 200
        public var setupP50Ms = 0.0, setupP99Ms = 0.0
        public var windowSeconds = 0.0
        public var rtp = RTPLoadStats()
        public var generatorCPUPercent = 0.0      // this process over the window

        public var lost: Int { rtp.windowSent - rtp.windowReturned }
        public var returnedPercent: Double { rtp.windowSent == 0 ? 0 : 100 * Double(rtp.windowReturned) / Double(rtp.windowSent) }
        public func echoMs(_ q: Double) -> Double { Self.quantile(rtp.echoHistogram, q) / 100 }
        public func senderLateUs(_ q: Double) -> Double { Self.quantile(rtp.lateHistogram, q) * 10 }

        static func quantile(_ h: [UInt32], _ q: Double) -> Double {
            let total = h.reduce(0) { $0 + Int($1) }
            guard total > 0 else { return 0 }
            if q >= 1 { return Double(h.lastIndex { $0 > 0 } ?? 0) }
            let want = Int((Double(total) * q).rounded(.up))
            var n = 0
            for (i, c) in h.enumerated() { n += Int(c); if n >= want { return Double(i) } }
            return Double(h.count - 1)
        }

        /// One line, key=value, for scripts.
        public var line: String {
            var s = "rtp-load calls=\(calls) answered=\(answered) failed=\(failed) ended=\(ended)"
            s += String(format: " setup_p50_ms=%.1f setup_p99_ms=%.1f window_s=%.1f", setupP50Ms, setupP99Ms, windowSeconds)
            s += " sent=\(rtp.windowSent) returned=\(rtp.windowReturned) lost=\(lost)"
            s += String(format: " returned_pct=%.3f", returnedPercent)
            s += " dup=\(rtp.duplicates) corrupt=\(rtp.corrupt) crosstalk=\(rtp.crossTalk) foreign=\(rtp.foreign) send_errors=\(rtp.sendErrors)"
            s += String(format: " echo_p50_ms=%.2f echo_p99_ms=%.2f echo_max_ms=%.2f gen_late_p99_us=%.0f gen_cpu_pct=%.1f",
                        echoMs(0.5), echoMs(0.99), echoMs(1), senderLateUs(0.99), generatorCPUPercent)
            s += " total_sent=\(rtp.sent) total_received=\(rtp.received)"
            if !failures.isEmpty { s += " failures=" + failures.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") }
            return s
        }
    }

    enum Phase { case waiting, inviting, proceeding, answered, byeing, done, failed }

    let config: Configuration
    let workers: [RTPLoadWorker]
    let sip: Int32
    let text: RTPLoadDialogText
    var serverAddress = sockaddr_in()

    var phase: [Phase]
    var toTag: [Substring?]
    var requestURI: [String]
    var sentAt: [UInt64]
    var retransmitAt: [UInt64]
    var interval: [UInt64]
    var timers = Set<Int>()            // calls with a request to retransmit
    var setupNs: [UInt64] = []
    var failures: [String: Int] = [:]
    var answered = 0, failedCount = 0, ended = 0
    var settled = 0                    // calls answered or failed during set-up
    let rx = UnsafeMutableRawPointer.allocate(byteCount: 65_536, alignment: 16)

    public init(_ c: Configuration) throws {
        guard c.calls > 0, c.calls < RTPLoadPayload.maxCalls, c.rate > 0, c.seconds > 0, c.workers > 0 else {
            throw RTPLoadError("calls, rate, seconds and workers must be positive (calls below \(RTPLoadPayload.maxCalls))")
        }
        config = c
        let fd = try RTPLoadWorker.udpSocket(host: c.localHost, port: c.sipPort)
        sip = fd
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let localPort = Int(UInt16(bigEndian: bound.sin_port))
        var base = c.rtpPortBase
        let windowPackets = Int(c.seconds * 50) + 100
        var ws: [RTPLoadWorker] = []
        for i in 0..<c.workers {
            let share = c.calls / c.workers + (i < c.calls % c.workers ? 1 : 0)
            ws.append(try RTPLoadWorker(index: i, workers: c.workers, calls: c.calls, sockets: max(1, (share + c.callsPerSocket - 1) / c.callsPerSocket),
                                        host: c.localHost, portBase: &base, windowPackets: windowPackets))
        }
        workers = ws
        text = RTPLoadDialogText(run: String(UInt32(truncatingIfNeeded: CPosix_monotonic_ns()) % 1_000_000), number: c.number,
                                 target: "\(c.server):\(c.serverPort)", local: "\(c.localHost):\(localPort)", mediaHost: c.localHost)
        serverAddress.sin_family = sa_family_t(AF_INET)
        serverAddress.sin_port = in_port_t(UInt16(c.serverPort).bigEndian)
        guard inet_pton(AF_INET, c.server, &serverAddress.sin_addr) == 1 else { throw RTPLoadError("\(c.server) is not an IPv4 address") }
        phase = Array(repeating: .waiting, count: c.calls)
        toTag = Array(repeating: nil, count: c.calls)
        requestURI = Array(repeating: "", count: c.calls)
        sentAt = Array(repeating: 0, count: c.calls)
        retransmitAt = Array(repeating: 0, count: c.calls)
        interval = Array(repeating: 0, count: c.calls)
    }

    deinit { close(sip); rx.deallocate() }

    static let t1: UInt64 = 500_000_000
    static let timeout: UInt64 = 32_000_000_000

    /// Runs the whole load and returns its figures; `onEvent` hears "window start" and "window end".
    public func run(onEvent: (String) -> Void = { _ in }) throws -> Report {
        for w in workers { w.spawn() }
        let start = CPosix_monotonic_ns()
        let spacing = UInt64(1e9 / config.rate)
        var placed = 0
        // 1. Place the calls; wait until each is answered or has failed.
        while true {
            let now = CPosix_monotonic_ns()
            while placed < config.calls, start + UInt64(placed) * spacing <= now { invite(placed, now: now); placed += 1 }
            pump(now: now)
            if placed == config.calls, settled == config.calls { break }
            if placed == config.calls, now > start + UInt64(placed) * spacing + Self.timeout + 5_000_000_000 { break }
            wait(1)
        }
        // 2. The window.
        let windowStart = CPosix_monotonic_ns() + 1_000_000_000
        let windowEnd = windowStart + UInt64(config.seconds * 1e9)
        for w in workers { w.setWindow(start: windowStart, end: windowEnd) }
        var usage0 = rusage(), usage1 = rusage()
        var eventStarted = false
        while CPosix_monotonic_ns() < windowEnd + 1_000_000_000 {
            let now = CPosix_monotonic_ns()
            if !eventStarted, now >= windowStart { eventStarted = true; getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage0); onEvent("window start") }
            pump(now: now)
            wait(5)
        }
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage1)
        onEvent("window end")
        // 3. Stop the streams; BYE each answered call.
        for w in workers { w.stopAllSending() }
        let byeStart = CPosix_monotonic_ns()
        var byes = 0
        let toEnd = (0..<config.calls).filter { phase[$0] == .answered }
        while true {
            let now = CPosix_monotonic_ns()
            while byes < toEnd.count, byeStart + UInt64(byes) * spacing <= now { bye(toEnd[byes], now: now); byes += 1 }
            pump(now: now)
            if byes == toEnd.count, !phase.contains(where: { $0 == .byeing }) { break }
            wait(1)
        }
        usleep(200_000)
        var report = Report()
        report.calls = config.calls
        for w in workers { report.rtp.add(w.finish()) }
        report.answered = answered
        report.failed = failedCount
        report.failures = failures
        report.ended = ended
        report.windowSeconds = config.seconds
        let sorted = setupNs.sorted()
        if !sorted.isEmpty {
            report.setupP50Ms = Double(sorted[sorted.count / 2]) / 1e6
            report.setupP99Ms = Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1e6
        }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let cpu = seconds(usage1.ru_utime) + seconds(usage1.ru_stime) - seconds(usage0.ru_utime) - seconds(usage0.ru_stime)
        report.generatorCPUPercent = 100 * cpu / config.seconds
        return report
    }

    private func wait(_ ms: Int32) {
        var p = pollfd(fd: sip, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, ms)
    }

    private func worker(_ i: Int) -> (RTPLoadWorker, Int) { (workers[i % workers.count], i / workers.count) }

    private func send(_ s: String) {
        var a = serverAddress
        s.utf8CString.withUnsafeBufferPointer { b in
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(sip, b.baseAddress, b.count - 1, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            } }
        }
    }

    private func branch(_ i: Int, _ kind: String) -> String { "z9hG4bK-rl\(text.run)-\(i)-\(kind)" }

    private func invite(_ i: Int, now: UInt64) {
        let (w, l) = worker(i)
        send(text.invite(i, branch: branch(i, "inv"), rtpPort: w.port(local: l)))
        phase[i] = .inviting
        sentAt[i] = now
        interval[i] = Self.t1
        retransmitAt[i] = now + Self.t1
        timers.insert(i)
    }

    private func bye(_ i: Int, now: UInt64) {
        guard let tag = toTag[i] else { return }
        send(text.bye(i, uri: requestURI[i], branch: branch(i, "bye"), toTag: tag))
        phase[i] = .byeing
        sentAt[i] = now
        interval[i] = Self.t1
        retransmitAt[i] = now + Self.t1
        timers.insert(i)
    }

    private func fail(_ i: Int, _ reason: String) {
        if phase[i] == .answered || phase[i] == .byeing { let (w, l) = worker(i); w.stop(local: l) }
        if phase[i] == .inviting || phase[i] == .proceeding { settled += 1 }
        if phase[i] != .failed { failedCount += 1 }
        phase[i] = .failed
        timers.remove(i)
        failures[reason, default: 0] += 1
    }

    /// Reads what has arrived and retransmits what is due.
    private func pump(now: UInt64) {
        while true {
            let n = recv(sip, rx, 65_536, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            guard let m = RTPLoadMessage(UnsafeRawBufferPointer(start: rx, count: n)) else { continue }
            if m.isResponse { response(m, now: now) } else { request(m) }
        }
        for i in timers where retransmitAt[i] <= now {
            if now - sentAt[i] >= Self.timeout { fail(i, phase[i] == .byeing ? "bye-timeout" : "invite-timeout"); continue }
            let (w, l) = worker(i)
            if phase[i] == .inviting { send(text.invite(i, branch: branch(i, "inv"), rtpPort: w.port(local: l))) }
            if phase[i] == .byeing, let tag = toTag[i] { send(text.bye(i, uri: requestURI[i], branch: branch(i, "bye"), toTag: tag)) }
            interval[i] = min(interval[i] * 2, phase[i] == .byeing ? 4_000_000_000 : Self.timeout)
            retransmitAt[i] = now + interval[i]
        }
    }

    private func response(_ m: RTPLoadMessage, now: UInt64) {
        guard let code = m.statusCode, let id = m.callID, let i = text.callIndex(id), i < config.calls, let (_, method) = m.cseq else { return }
        switch method {
        case "INVITE":
            if code < 200 {
                if phase[i] == .inviting { phase[i] = .proceeding; retransmitAt[i] = sentAt[i] + Self.timeout }
            } else if code < 300 {
                guard let tag = m.toTag else { return }
                let uri = m.contactURI.map(String.init) ?? "sip:\(config.number)@\(config.server):\(config.serverPort)"
                send(text.ack(i, uri: uri, branch: branch(i, "ack"), toTag: tag))
                guard phase[i] == .inviting || phase[i] == .proceeding else { return }   // a retransmitted 200: ACKed again
                timers.remove(i)
                toTag[i] = tag
                requestURI[i] = uri
                guard let media = m.sdpAudio, let address = Self.ipv4(media.host, media.port) else {
                    send(text.bye(i, uri: uri, branch: branch(i, "bye"), toTag: tag))
                    fail(i, "answer-without-ipv4-audio")
                    return
                }
                phase[i] = .answered
                answered += 1
                settled += 1
                setupNs.append(now - sentAt[i])
                let (w, l) = worker(i)
                w.start(local: l, remote: address)
            } else {
                send(text.ack(i, uri: "sip:\(config.number)@\(config.server):\(config.serverPort)", branch: branch(i, "inv"), toTag: m.toTag))
                if phase[i] == .inviting || phase[i] == .proceeding { fail(i, "\(code)") }
            }
        case "BYE":
            guard code >= 200, phase[i] == .byeing else { return }
            timers.remove(i)
            if code < 300 { phase[i] = .done; ended += 1 } else { fail(i, "bye-\(code)") }
        default:
            break
        }
    }

    private func request(_ m: RTPLoadMessage) {
        guard let method = m.method else { return }
        switch method {
        case "ACK":
            return
        case "BYE":
            send(text.response(200, "OK", to: m))
            if let id = m.callID, let i = text.callIndex(id), i < config.calls, phase[i] == .answered { fail(i, "bye-from-server") }
        case "INVITE":   // a refresh or re-offer: the same media again
            if let id = m.callID, let i = text.callIndex(id), i < config.calls {
                let (w, l) = worker(i)
                send(text.response(200, "OK", to: m, body: text.sdp(i, rtpPort: w.port(local: l))))
            } else {
                send(text.response(481, "Call/Transaction Does Not Exist", to: m))
            }
        case "OPTIONS", "UPDATE", "INFO", "NOTIFY":
            send(text.response(200, "OK", to: m))
        default:
            send(text.response(501, "Not Implemented", to: m))
        }
    }

    static func ipv4(_ host: String, _ port: Int) -> sockaddr_in? {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        guard port > 0, port < 65536, inet_pton(AF_INET, host, &a.sin_addr) == 1 else { return nil }
        return a
    }
}
