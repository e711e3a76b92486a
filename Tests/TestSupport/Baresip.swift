import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A baresip instance (Debian baresip-core) driven through its ctrl_tcp module: netstring
/// framed JSON commands and events. Bound to 127.0.0.1 only.
public final class Baresip {
    public let directory: URL
    public let process: ChildProcess
    public let controlPort: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    public private(set) var events: [[String: Any]] = []
    public private(set) var bytesReceived = 0
    public private(set) var lastError: Int32 = 0

    /// baresip also listens for SIP over TLS on `sipPort + 1`: keep `controlPort` clear of it.
    /// `account` is one accounts line, e.g. `<sip:1001@127.0.0.1:5060>;auth_pass=…;regint=60`.
    /// `address`: where its SIP and RTP listen (another "host" in a network test: a veth address).
    public init(account: String, sipPort: Int, controlPort: Int, rtpPorts: ClosedRange<Int>, audioSource: String, address: String = "127.0.0.1") throws {
        directory = TestSupport.temporaryDirectory("baresip")
        self.controlPort = controlPort
        let rec = directory.appendingPathComponent("rec")
        try FileManager.default.createDirectory(at: rec, withIntermediateDirectories: true)
        let config = """
        poll_method\t\tepoll
        sip_listen\t\t\(address):\(sipPort)
        net_interface\t\t\(address)
        call_local_timeout\t120
        call_max_calls\t\t4
        audio_source\t\taufile,\(audioSource)
        audio_player\t\taubridge,play-\(controlPort)
        audio_alert\t\taubridge,alert-\(controlPort)
        audio_level\t\tno
        ausrc_format\t\ts16
        auplay_format\t\ts16
        rtp_ports\t\t\(rtpPorts.lowerBound)-\(rtpPorts.upperBound)
        rtcp_mux\t\tno
        jitter_buffer_delay\t5-10
        module_path\t\t/usr/lib/baresip/modules
        module\t\t\tg711.so
        module\t\t\taufile.so
        module\t\t\taubridge.so
        module\t\t\tsndfile.so
        module_tmp\t\tuuid.so
        module_tmp\t\taccount.so
        module_app\t\tmenu.so
        module_app\t\tctrl_tcp.so
        ctrl_tcp_listen\t\t127.0.0.1:\(controlPort)
        snd_path\t\t\(rec.path)
        statmode_default\toff

        """
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try (account + "\n").write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        process = try ChildProcess("/usr/bin/baresip", ["-4", "-f", directory.path])
    }

    public var recordings: URL { directory.appendingPathComponent("rec") }

    /// Connects to ctrl_tcp (retrying while baresip starts).
    public func connect(seconds: Double = 10) -> Bool {
        TestSupport.waitUntil(seconds) {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(controlPort).bigEndian)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc == 0 {
                var tv = timeval(tv_sec: 0, tv_usec: 200_000)
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                fd = s
                return true
            }
            Glibc.close(s)
            return false
        }
    }

    public func command(_ name: String, _ params: String? = nil) {
        var obj: [String: Any] = ["command": name, "token": "t"]
        if let params { obj["params"] = params }
        let raw = try! JSONSerialization.data(withJSONObject: obj)
        let frame = Array("\(raw.count):".utf8) + Array(raw) + [UInt8(ascii: ",")]
        _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Forgets the events read so far (to wait for the next call's).
    public func forgetEvents() {
        readSome()
        events.removeAll()
    }

    /// Reads messages until an event of `type` arrives (returns it) or `seconds` pass.
    @discardableResult
    public func wait(for type: String, seconds: Double = 15) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let e = events.first(where: { ($0["type"] as? String) == type }) { return e }
            readSome()
        }
        return events.first { ($0["type"] as? String) == type }
    }

    private func readSome() {
        var tmp = [UInt8](repeating: 0, count: 65536)
        let n = tmp.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { buffer += tmp[0..<n]; bytesReceived += n } else { lastError = errno; if n == 0 { usleep(100_000) } }
        while let colon = buffer.firstIndex(of: UInt8(ascii: ":")), let len = Int(String(decoding: buffer[..<colon], as: UTF8.self)),
              buffer.count >= colon + 1 + len + 1 {
            let body = Data(buffer[(colon + 1)..<(colon + 1 + len)])
            buffer.removeFirst(colon + 2 + len)
            if let obj = try? JSONSerialization.jsonObject(with: body) as? [String: Any], obj["event"] as? Bool == true { events.append(obj) }
        }
    }

    /// Idempotent: the control socket is closed once (closing it twice could close a
    /// descriptor another test has since been given — an event loop's eventfd, say).
    public func stop() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
        process.stop(grace: 3)
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// 16-bit PCM WAV samples (mono), for comparing what was sent with what came back.
/// (A size-0 data chunk — a file never closed — is read to the end.)
public enum WAV {
    public static func samples(_ url: URL) throws -> [Int16] {
        let d = try [UInt8](Data(contentsOf: url))
        var i = 12
        while i + 8 <= d.count {
            let id = String(decoding: d[i..<(i + 4)], as: UTF8.self)
            let size = Int(d[i + 4]) | Int(d[i + 5]) << 8 | Int(d[i + 6]) << 16 | Int(d[i + 7]) << 24
            if id == "data" {
                // A writer killed before it closed the file (baresip past its grace under load)
                // leaves the size 0: what was written up to then is read to the end of the file.
                let end = size == 0 || i + 8 + size > d.count ? d.count : i + 8 + size
                let body = d[(i + 8)..<end]
                return stride(from: body.startIndex, to: body.endIndex - 1, by: 2).map { Int16(bitPattern: UInt16(body[$0]) | UInt16(body[$0 + 1]) << 8) }
            }
            i += 8 + size + (size & 1)
        }
        return []
    }

    /// The best normalised cross-correlation of `b` against `a` over lags 0...maxLag samples
    /// (1.0 = the same waveform, shifted).
    public static func bestCorrelation(_ a: [Int16], _ b: [Int16], window: Int, maxLag: Int, step: Int = 8) -> Double {
        guard a.count >= window else { return 0 }
        let x = a.prefix(window).map(Double.init)
        let nx = sqrt(x.reduce(0) { $0 + $1 * $1 })
        var best = 0.0
        var lag = 0
        while lag <= maxLag && lag + window <= b.count {
            var dot = 0.0, ny = 0.0
            for k in 0..<window {
                let y = Double(b[lag + k])
                dot += x[k] * y
                ny += y * y
            }
            if nx > 0 && ny > 0 { best = max(best, dot / (nx * sqrt(ny))) }
            lag += step
        }
        return best
    }
}
