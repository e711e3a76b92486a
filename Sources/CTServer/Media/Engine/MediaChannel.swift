import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// One channel's media, owned by the channel loop's thread: its RTP socket, the latched far
/// end, the jitter buffer, and what it is doing (playing, collecting, recording, mixing).
final class MediaChannel {
    let id: String
    let fd: Int32
    /// The socket's slot in its loop's io_uring file table (`DatagramBatch.register`), or -1.
    var ringSlot: Int32 = -1
    let rtcpFd: Int32
    let port: Int
    var reception = RTPReceptionStats()
    var octetsSent: UInt32 = 0
    /// LSR: the middle of the far end's last SR NTP time, and when it arrived (ns, monotonic).
    var lastSR: UInt32 = 0
    var lastSRArrival: UInt64 = 0
    var rtcpLatched: sockaddr_storage?
    var rtcpLatchedLength: socklen_t = 0
    var rtcpPhase = 0
    var nextRTCPTick = 0
    var endpoint: MediaCommand.Endpoint
    var echo: Bool
    /// The far end's address from SDP (host only is checked before latching), and the host
    /// the signalling came from (may latch too: NAT).
    var expected: sockaddr_storage?
    var signalling: sockaddr_storage?
    var latched: sockaddr_storage?
    var latchedLength: socklen_t = 0
    var jitter = JitterBuffer()
    var dtmfReceiver = DTMFEventReceiver()
    var inband: InbandDTMFDetector?
    var stats = MediaChannelStats()

    // Outgoing stream.
    let ssrc: UInt32
    var sequence: UInt16
    var timestamp: UInt32
    var pendingDTMF: [Character] = []
    var dtmfSending: (event: UInt8, startTS: UInt32, elapsed: Int, endSent: Int)?

    // This tick's audio: what the channel said (input) and what it will hear (output).
    var input = [Int16](repeating: 0, count: JitterBuffer.frameSamples)
    var output = [Int16](repeating: 0, count: JitterBuffer.frameSamples)
    var hasInput = false
    var hasOutput = false

    var player: Player?
    var collector: DigitCollector?
    /// Keys pressed while nothing was collecting (type-ahead): the next collection starts with them.
    var typeAhead: [Character] = []
    var collectAfterPlay = false
    var recorder: Recorder?
    var mix: MixGroup?
    var role = MixRole.member
    /// Joining (+1) or leaving (-1) a mix this tick: its voice and what it hears are ramped over
    /// the frame so that nobody hears a click.
    var fade: Int8 = 0
    /// Voice activity in a conference: talking after 3 loud frames (60 ms), quiet after 25 (0.5 s).
    var talking = false
    var loudFrames = 0
    var quietFrames = 0

    init(id: String, fd: Int32, rtcp: Int32 = -1, port: Int, endpoint: MediaCommand.Endpoint, echo: Bool) {
        self.id = id
        self.fd = fd
        rtcpFd = rtcp
        self.port = port
        self.echo = echo
        self.endpoint = endpoint
        ssrc = UInt32.random(in: 1...UInt32.max)
        sequence = UInt16.random(in: 0...UInt16.max)
        timestamp = UInt32.random(in: 0...UInt32.max)
        setEndpoint(endpoint)
    }

    func setEndpoint(_ e: MediaCommand.Endpoint) {
        if let old = endpoint.remote, let new = e.remote, old.host != new.host { latched = nil }
        endpoint = e
        expected = e.remote?.sockaddrStorage
        signalling = e.signallingHost?.sockaddrStorage
    }

    /// Where to send: the latched source (symmetric RTP), else the SDP address when the
    /// signalling is verified; else nowhere — an unverified SDP cannot aim us at a third party.
    func withDestination<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        if var l = latched {
            return withUnsafePointer(to: &l) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, latchedLength) } }
        }
        guard endpoint.verified, let r = endpoint.remote else { return nil }
        var s = r.sockaddrStorage
        return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, r.length) } }
    }

    /// Where RTCP goes: its latched source, else the RTP destination's port + 1.
    func withRTCPDestination<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        if var l = rtcpLatched {
            return withUnsafePointer(to: &l) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, rtcpLatchedLength) } }
        }
        var (s, len): (sockaddr_storage, socklen_t)
        if let l = latched { (s, len) = (l, latchedLength) } else if endpoint.verified, let r = endpoint.remote { (s, len) = (r.sockaddrStorage, r.length) } else { return nil }
        withUnsafeMutableBytes(of: &s) { b in
            let port = (UInt16(b[2]) << 8 | UInt16(b[3])) &+ 1
            b[2] = UInt8(port >> 8); b[3] = UInt8(port & 0xFF)
        }
        return withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) } }
    }

    /// Accepts a packet's source: the first one from the SDP host or the signalling host is
    /// latched; after that only the latched address and port are accepted.
    func accept(source ss: UnsafePointer<sockaddr_storage>, length: socklen_t) -> Bool {
        if let l = latched { return Self.sameEndpoint(l, ss.pointee) }
        let fromSDPHost = expected.map { Self.sameHost($0, ss.pointee) } ?? false
        guard fromSDPHost || (signalling.map { Self.sameHost($0, ss.pointee) } ?? false) else { return false }
        latched = ss.pointee
        latchedLength = length
        stats.latched = SocketAddress(storage: ss.pointee, length: length).description
        return true
    }

    static func sameHost(_ a: sockaddr_storage, _ b: sockaddr_storage) -> Bool {
        guard a.ss_family == b.ss_family else { return false }
        var a = a, b = b
        if Int32(a.ss_family) == AF_INET {
            return withUnsafeBytes(of: &a) { pa in withUnsafeBytes(of: &b) { pb in pa[4..<8].elementsEqual(pb[4..<8]) } }
        }
        return withUnsafeBytes(of: &a) { pa in withUnsafeBytes(of: &b) { pb in pa[8..<24].elementsEqual(pb[8..<24]) } }
    }

    static func sameEndpoint(_ a: sockaddr_storage, _ b: sockaddr_storage) -> Bool {
        guard sameHost(a, b) else { return false }
        var a = a, b = b
        return withUnsafeBytes(of: &a) { pa in withUnsafeBytes(of: &b) { pb in pa[2] == pb[2] && pa[3] == pb[3] } }
    }
}

/// A recording in progress: mono (what the channel said and heard, mixed) or stereo (left:
/// what the channel said — the caller; right: what it heard — the agent in a bridge). While
/// paused it writes silence, so the file keeps the call's timeline, and lists the span.
final class Recorder {
    let writer: WAVWriter
    let request: MediaCommand.RecordRequest
    let startedAtMs: UInt64
    var silentMs = 0
    var heardSpeech = false
    private(set) var pauses: [RecordingResult.Pause] = []
    private var pausedAt: Int?
    private var frame: [Int16]

    init(_ r: MediaCommand.RecordRequest) throws {
        request = r
        writer = try WAVWriter(path: r.path, channels: r.stereo ? 2 : 1, io: r.io)
        frame = [Int16](repeating: 0, count: JitterBuffer.frameSamples * 2)
        var tv = timeval()
        gettimeofday(&tv, nil)
        startedAtMs = UInt64(tv.tv_sec) * 1000 + UInt64(tv.tv_usec / 1000)
    }

    var isPaused: Bool { pausedAt != nil }

    func pause(_ on: Bool) {
        if on, pausedAt == nil { pausedAt = writer.durationMs }
        if !on, let at = pausedAt {
            pauses.append(.init(startMs: at, endMs: writer.durationMs))
            pausedAt = nil
        }
    }

    /// The result once closed (an open pause ends with the file).
    func result(reason: String) -> RecordingResult {
        if pausedAt != nil { pause(false) }
        return RecordingResult(tag: request.tag, path: request.path, durationMs: writer.durationMs, reason: reason, channels: writer.channels,
                               startedAtMs: startedAtMs, pauses: pauses, startedBy: request.startedBy, callID: request.callID)
    }

    /// Appends one frame; returns a reason when the recording should end.
    func append(input: [Int16], hasInput: Bool, output: [Int16], hasOutput: Bool) -> String? {
        let n = JitterBuffer.frameSamples
        var energy: Int64 = 0
        let paused = pausedAt != nil
        let a = hasInput && !paused, b = hasOutput && !paused
        frame.withUnsafeMutableBufferPointer { f in
            input.withUnsafeBufferPointer { inp in
                output.withUnsafeBufferPointer { out in
                    if request.stereo {
                        for i in 0..<n { f[2 * i] = a ? inp[i] : 0; f[2 * i + 1] = b ? out[i] : 0 }
                    } else {
                        for i in 0..<n { f[i] = Int16(clamping: Int32(a ? inp[i] : 0) + Int32(b ? out[i] : 0)) }
                    }
                    // The caller's energy, for stopping at silence (only when asked: calls' recordings don't).
                    if request.silenceMs > 0, a { for i in 0..<n { energy += Int64(inp[i]) * Int64(inp[i]) } }
                }
            }
            writer.append(f.baseAddress!, count: request.stereo ? 2 * n : n)
        }
        if writer.durationMs >= request.maxMs { return "max-length" }
        if paused || request.silenceMs == 0 { return nil }
        // Silence: mean power below about -45 dBFS.
        if energy / Int64(n) < 180 { silentMs += 20 } else { silentMs = 0; heardSpeech = true }
        if request.silenceMs > 0, silentMs >= request.silenceMs { return "silence" }
        return nil
    }
}
