import Foundation
import Logging
import Metrics
import Protocol
import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// One real-time channel loop (docs/architecture.md; `MediaEngine` runs one per core and
/// spreads channels over them): one thread, woken by a timerfd every
/// 20 ms, that for every channel receives RTP (a tick's receives in one io_uring submission,
/// `DatagramBatch`), de-jitters, detects DTMF,
/// mixes bridges, conferences and monitor taps, plays prompts and tones, feeds recorders and
/// sends RTP. Commands arrive through an eventfd-signalled queue (a mutex held only to swap
/// the array); events go back through `onEvents`, called on this thread once per tick.
/// Nothing on the per-packet path allocates or takes a lock.
final class ChannelLoop: @unchecked Sendable {
    typealias TickStats = ChannelLoopStats

    var onEvents: (([MediaEvent]) -> Void)?
    public let tickNanoseconds: UInt64 = 20_000_000
    private let logger: Logger
    private let epfd: Int32
    private let timerfd: Int32
    private let wakefd: Int32
    private var thread: Thread?
    private var running = false

    let lock = NSLock()
    /// What other threads hand this loop: signalling commands, and channels moving between
    /// loops (a mix's members must share one loop: its mixing runs in one tick on one thread).
    enum Work {
        case command(MediaCommand)
        /// Hand this channel (without closing its sockets) to `to`.
        case migrate(id: String, to: ChannelLoop)
        /// A channel handed over by another loop (nil: it was gone already).
        case adopt(id: String, ChannelBox)
    }

    /// A channel in transit between two loops' threads: owned by neither while in an inbox.
    final class ChannelBox: @unchecked Sendable {
        let channel: MediaChannel?
        init(_ c: MediaChannel?) { channel = c }
    }

    private var inbox: [Work] = []
    let index: Int
    /// Told (on this loop's thread) when a migrated channel has arrived here.
    var onAdopted: ((String) -> Void)?
    var published: [String: MediaChannelStats] = [:]
    private var publishedTicks = TickStats()

    // Loop-thread state.
    var channels: [String: MediaChannel] = [:]
    var order: [MediaChannel] = []
    var mixes: [String: MixGroup] = [:]
    var events: [MediaEvent] = []
    private var expectedTick: UInt64 = 0
    private var lateness = [Int32](repeating: 0, count: 3000)
    private var work = [Int32](repeating: 0, count: 3000)
    var tickCount = 0
    private var missed = 0
    private var maxLateness = 0
    var retired = MediaChannelStats()
    /// Prometheus histograms (swift-metrics Timers), fed once per tick — never per packet.
    private let latenessTimer: Metrics.Timer
    private let workTimer: Metrics.Timer
    var joining: [MediaChannel] = []
    var leaving: [MediaChannel] = []

    // RTCP's receive scratch (allocated once).
    private let datagramSize = 1536
    private var rxBuffers: UnsafeMutableRawPointer
    private var decoded = [Int16](repeating: 0, count: 1536)
    private var scratch = [Int16](repeating: 0, count: JitterBuffer.frameSamples)

    /// The tick's receive and send slots, and io_uring when the kernel allows it.
    let io: DatagramBatch
    /// Sends queued this tick (slots of `io`), flushed in one submission after the mix.
    private var queuedSends = 0
    var ioMode: DatagramBatch.Mode { io.mode }

    /// Real-time scheduling of this loop's thread (`media.realtime_priority`), tick by tick.
    private(set) var priority: LoopPriority
    private let realtimeGauge: Gauge

    init(index: Int, logger: Logger, batchedIO: DatagramBatch.Mode = .uring, realtimePriority: Int32 = 0) throws {
        self.index = index
        self.logger = logger
        priority = LoopPriority(priority: realtimePriority)
        realtimeGauge = Gauge(label: "hotline_ct_loop_realtime", dimensions: [("loop", String(index))])
        latenessTimer = Metrics.Timer(label: "hotline_ct_tick_lateness_seconds", dimensions: [("loop", String(index))])
        workTimer = Metrics.Timer(label: "hotline_ct_tick_work_seconds", dimensions: [("loop", String(index))])
        io = DatagramBatch(preferring: batchedIO)
        if batchedIO == .uring && io.mode != .uring && index == 0 {
            logger.warning("channel loop: io_uring refused by the kernel; one recvmsg/sendmsg per channel instead")
        }
        epfd = CPosix_epoll_create()
        timerfd = CPosix_timerfd_create()
        wakefd = CPosix_eventfd_create()
        guard epfd >= 0, timerfd >= 0, wakefd >= 0 else { throw ProtocolError(.internalError, "media loop: cannot create epoll/timerfd/eventfd") }
        _ = CPosix_epoll_add(epfd, timerfd, CPosix_EPOLLIN, 1)
        _ = CPosix_epoll_add(epfd, wakefd, CPosix_EPOLLIN, 2)
        rxBuffers = .allocate(byteCount: datagramSize, alignment: 16)
    }

    deinit {
        close(epfd); close(timerfd); close(wakefd)
        rxBuffers.deallocate()
    }

    func start() {
        guard thread == nil else { return }
        running = true
        let t = Thread { [self] in self.run() }
        t.name = "channel-loop-\(index)"
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    func stop() {
        lock.lock(); running = false; lock.unlock()
        _ = CPosix_eventfd_signal(wakefd)
    }

    func submit(_ command: MediaCommand) { submit(.command(command)) }

    func submit(_ work: Work) {
        lock.lock()
        inbox.append(work)
        lock.unlock()
        _ = CPosix_eventfd_signal(wakefd)
    }

    func stats(id: String) -> MediaChannelStats? {
        lock.lock(); defer { lock.unlock() }
        return published[id]
    }

    /// The loop thread's kernel id once it runs (/proc/self/task/ID: its scheduling, its CPU).
    var kernelThreadID: Int32? { lock.lock(); defer { lock.unlock() }; return threadID }
    private var threadID: Int32?

    var tickStats: TickStats {
        lock.lock(); defer { lock.unlock() }
        return publishedTicks
    }

    // MARK: the loop

    static func now() -> UInt64 { monotonicNanoseconds() }

    private func run() {
        // The kernel's name for the thread (top -H, /proc/PID/task/*/comm; bench/media-calls.sh).
        _ = CPosix_set_thread_name("channel-loop-\(index)")
        lock.lock(); threadID = CPosix_gettid(); lock.unlock()
        apply(priority.start())
        expectedTick = Self.now() + tickNanoseconds
        _ = CPosix_timerfd_arm(timerfd, tickNanoseconds, tickNanoseconds)
        var evs = [CPosix_event](repeating: CPosix_event(), count: 4)
        while true {
            lock.lock(); let go = running; lock.unlock()
            if !go { break }
            let n = evs.withUnsafeMutableBufferPointer { CPosix_epoll_wait(epfd, $0.baseAddress, 4, 1000) }
            if n <= 0 { continue }
            var ticked = false
            for i in 0..<Int(n) {
                if evs[i].data == 1 {
                    let expirations = CPosix_timerfd_drain(timerfd)
                    if expirations > 0 { tick(expirations: Int(expirations)); ticked = true }
                } else {
                    _ = CPosix_eventfd_drain(wakefd)
                    if !ticked { processCommands(); flushEvents() }
                }
            }
        }
        _ = CPosix_timerfd_arm(timerfd, 0, 0)
        for ch in order { removeChannel(ch.id) }
        flushEvents()
    }

    private func processCommands() {
        lock.lock()
        let batch = inbox
        inbox.removeAll(keepingCapacity: true)
        lock.unlock()
        for w in batch {
            switch w {
            case .command(let c): handle(c)
            case .migrate(let id, let target): migrate(id, to: target)
            case .adopt(let id, let box): adopt(id, box.channel)
            }
        }
    }

    func flushEvents() {
        guard !events.isEmpty else { return }
        let e = events
        events.removeAll(keepingCapacity: true)
        onEvents?(e)
    }

    private func tick(expirations: Int) {
        let start = Self.now()
        expectedTick += tickNanoseconds * UInt64(expirations)
        let late = Int(Int64(start) - Int64(expectedTick - tickNanoseconds)) / 1000
        missed += expirations - 1
        processCommands()
        receiveAll()
        for ch in order where ch.rtcpFd >= 0 && (tickCount + ch.rtcpPhase) % 5 == 0 { receiveRTCP(ch, now: start) }
        for ch in order where ch.rtcpFd >= 0 && tickCount >= ch.nextRTCPTick {
            ch.nextRTCPTick = tickCount + rtcpIntervalTicks
            sendRTCP(ch, now: start)
        }
        for ch in order { prepare(ch, now: start) }
        for m in mixes.values {
            m.mix()
            for (id, on) in m.voiceActivity() { events.append(.talking(id: id, on: on)) }
        }
        // Joiners have faded in; leavers have faded out and go now.
        for ch in joining { ch.fade = 0 }
        joining.removeAll(keepingCapacity: true)
        for ch in leaving { ch.fade = 0; leave(ch) }
        leaving.removeAll(keepingCapacity: true)
        for i in 0..<order.count { finish(order[i], index: i, now: start) }
        flushSends()
        if let e = io.ringFailure, !ringFailureLogged {
            ringFailureLogged = true
            logger.error("channel loop: io_uring failed (errno \(-e)); one recvmsg/sendmsg per channel from now on")
        }
        let slot = tickCount % lateness.count
        lateness[slot] = Int32(clamping: max(0, late))
        maxLateness = max(maxLateness, late)
        let worked = Int64(Self.now() - start)
        work[slot] = Int32(clamping: worked / 1000)
        latenessTimer.recordNanoseconds(Int64(max(0, late)) * 1000)
        workTimer.recordNanoseconds(worked)
        apply(priority.tick(work: UInt64(worked), period: tickNanoseconds, expirations: expirations, now: Self.now()))
        tickCount += 1
        if tickCount % 50 == 0 { publish() }
        flushEvents()
    }

    /// Does what `LoopPriority` decided, on this loop's thread (scheduling is per thread).
    private func apply(_ action: LoopPriority.Action) {
        switch action {
        case .none:
            return
        case .promote(let p):
            let again = priority.demotions > 0
            let r = CPosix_thread_set_fifo(p)
            priority.applied(r)
            if r != 0 {
                if index == 0 {
                    logger.warning("channel loop: real-time priority \(p) refused (errno \(r)); ordinary scheduling, so ticks may wait for a core when the machine is busy. Grant CAP_SYS_NICE or LimitRTPRIO=\(p) (docs/operations.md), or set media.realtime_priority: 0")
                }
            } else if again {
                logger.notice("channel-loop-\(index) calm again: back to real-time priority \(p)")
            }
        case .demote:
            _ = CPosix_thread_set_normal()
            logger.warning("channel-loop-\(index) saturated for \(LoopPriority.overloadTicks) ticks in a row; real-time priority dropped so the SIP and link threads keep a core, back after \(LoopPriority.recoveryNanoseconds / 1_000_000_000) s of calm ticks")
        }
        realtimeGauge.record(priority.isRealtime ? 1 : 0)
    }

    private func publish() {
        let n = min(tickCount, lateness.count)
        let l = lateness[0..<n].sorted(), w = work[0..<n].sorted()
        var t = TickStats()
        t.loop = index
        t.ticks = tickCount
        t.missedTicks = missed
        t.channels = order.count
        if n > 0 {
            t.latenessP50Us = Int(l[n / 2])
            t.latenessP99Us = Int(l[min(n - 1, n * 99 / 100)])
            t.workP99Us = Int(w[min(n - 1, n * 99 / 100)])
        }
        t.latenessMaxUs = n > 0 ? Int(l[n - 1]) : 0
        var s: [String: MediaChannelStats] = [:]
        var total = retired
        var jitterSum = 0.0
        for ch in order {
            jitterSum += ch.jitter.jitter / 8
            var st = ch.stats
            st.jitter = ch.jitter.stats
            st.jitterMs = ch.jitter.jitter / 8
            st.cumulativeLost = Int(ch.reception.cumulativeLost)
            s[ch.id] = st
            Self.add(st, to: &total)
        }
        t.packetsIn = total.packetsIn
        t.packetsOut = total.packetsOut
        t.lost = total.jitter.lost
        t.late = total.jitter.late
        t.foreignDropped = total.foreignDropped
        t.malformed = total.malformed
        t.meanJitterUs = order.isEmpty ? 0 : Int(jitterSum * 1000 / Double(order.count))
        t.rtpSystemCalls = io.systemCalls
        t.realtimeLoops = priority.isRealtime ? 1 : 0
        t.scheduling = priority.description
        t.priorityDemotions = priority.demotions
        lock.lock()
        publishedTicks = t
        published = s
        lock.unlock()
    }

    static func add(_ s: MediaChannelStats, to t: inout MediaChannelStats) {
        t.packetsIn += s.packetsIn
        t.packetsOut += s.packetsOut
        t.foreignDropped += s.foreignDropped
        t.malformed += s.malformed
        t.jitter.lost += s.jitter.lost
        t.jitter.late += s.jitter.late
    }

    // MARK: per channel

    /// Every channel's socket in one batch; those that had a packet go again, until all are
    /// empty (at most `maxRounds`: what is left waits for the next tick, 20 ms later).
    private func receiveAll() {
        let n = order.count
        guard n > 0 else { return }
        io.reserve(n)
        for i in 0..<n { io.armReceive(i, fd: order[i].fd, registered: order[i].ringSlot, owner: Int32(i)) }
        var live = n
        var round = 0
        while live > 0 && round < maxRounds {
            io.receive(live)
            let arrival = Int64(Self.now() / 125_000)   // 8 kHz units
            var next = 0
            for i in 0..<live {
                let r = Int(io.results[i])
                guard r > 0 else { continue }   // -EAGAIN: empty; other errors: nothing this tick
                let ch = order[Int(io.owners[i])]
                accept(ch, UnsafeRawBufferPointer(start: io.buffer(i), count: r), source: io.address(i), length: io.addressLength(i), arrival: arrival)
                io.moveReceive(from: i, to: next)
                next += 1
            }
            live = next
            round += 1
        }
    }

    private let maxRounds = 4
    private var ringFailureLogged = false

    /// One datagram from a channel's socket: checked, counted, de-jittered.
    private func accept(_ ch: MediaChannel, _ p: UnsafeRawBufferPointer, source: UnsafeMutablePointer<sockaddr_storage>, length: socklen_t, arrival: Int64) {
        guard ch.accept(source: source, length: length) else { ch.stats.foreignDropped += 1; return }
        guard let h = RTPHeader.parse(p) else { ch.stats.malformed += 1; return }
        ch.stats.packetsIn += 1
        ch.stats.bytesIn += p.count
        let payload = UnsafeRawBufferPointer(rebasing: p[h.payloadOffset..<h.payloadOffset + h.payloadLength])
        if let te = ch.endpoint.telephoneEvent, h.payloadType == te {
            // Key events share the stream's sequence numbers: counted, so that the
            // audio packets around them are not taken for lost ones.
            ch.reception.update(sequence: h.sequence, ssrc: h.ssrc)
            ch.jitter.putSilent(sequence: h.sequence, timestamp: h.timestamp, ssrc: h.ssrc, arrival: arrival)
            if let e = TelephoneEvent.parse(payload), let d = ch.dtmfReceiver.receive(e, timestamp: h.timestamp) {
                digit(ch, d, source: .rfc4733, now: Self.now())
            }
            return
        }
        let law: G711.Law
        switch h.payloadType {
        case 0: law = .ulaw
        case 8: law = .alaw
        default: ch.stats.malformed += 1; return
        }
        ch.reception.update(sequence: h.sequence, ssrc: h.ssrc)
        let count = min(h.payloadLength, decoded.count)
        decoded.withUnsafeMutableBufferPointer { d in
            G711.decode(payload, count: count, law: law, into: d.baseAddress!)
            ch.jitter.put(sequence: h.sequence, timestamp: h.timestamp, ssrc: h.ssrc, arrival: arrival,
                          samples: d.baseAddress!, count: count)
        }
    }

    /// The tick's packets out, in one batch; counted per channel by what the kernel took.
    private func flushSends() {
        let n = queuedSends
        guard n > 0 else { return }
        queuedSends = 0
        io.send(n)
        for i in 0..<n {
            let r = Int(io.results[i])
            guard r > 0 else { continue }
            let ch = order[Int(io.owners[i])]
            ch.stats.packetsOut += 1
            ch.octetsSent &+= UInt32(r - 12)
        }
    }

    /// Takes the channel's input frame for this tick and runs its detectors and timers.
    private func prepare(_ ch: MediaChannel, now: UInt64) {
        ch.hasInput = ch.input.withUnsafeMutableBufferPointer { ch.jitter.get(into: $0.baseAddress!) }
        if !ch.hasInput { ch.input.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        ch.hasOutput = false
        if let det = ch.inband, ch.hasInput {
            let digits = ch.input.withUnsafeBufferPointer { det.feed($0.baseAddress!, count: $0.count) }
            for d in digits { digit(ch, d, source: .inband, now: now) }
        }
        if let c = ch.collector, !(ch.collectAfterPlay && ch.player != nil), let r = c.tick(now: now) {
            ch.collector = nil
            events.append(.digitsCollected(id: ch.id, tag: c.tag, digits: r.digits, reason: r.reason))
        }
    }

    func digit(_ ch: MediaChannel, _ d: Character, source: DTMFSource, now: UInt64) {
        ch.stats.dtmfDigits += 1
        events.append(.dtmf(id: ch.id, digit: d, source: source))
        if let p = ch.player, p.bargeIn {
            ch.player = nil
            events.append(.playDone(id: ch.id, tag: p.tag, outcome: .bargedIn))
        }
        if var c = ch.collector {
            if let r = c.digit(d, now: now) {
                ch.collector = nil
                events.append(.digitsCollected(id: ch.id, tag: c.tag, digits: r.digits, reason: r.reason))
            } else {
                ch.collector = c
            }
        } else if ch.typeAhead.count < 32 {
            ch.typeAhead.append(d)
        }
        if let r = ch.recorder, r.request.terminators.contains(d) { stopRecording(ch, reason: "terminator") }
    }

    /// Adds prompts, records, and sends the channel's output frame.
    private func finish(_ ch: MediaChannel, index: Int, now: UInt64) {
        if ch.mix == nil, ch.echo, ch.hasInput {
            ch.output.withUnsafeMutableBufferPointer { o in ch.input.withUnsafeBufferPointer { o.baseAddress!.update(from: $0.baseAddress!, count: $0.count) } }
            ch.hasOutput = true
        }
        if var p = ch.player {
            let playing = scratch.withUnsafeMutableBufferPointer { p.render(into: $0.baseAddress!, count: $0.count) }
            if playing {
                ch.output.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeBufferPointer { s in
                        if ch.hasOutput { for i in 0..<o.count { o[i] = Int16(clamping: Int32(o[i]) + Int32(s[i])) } } else { o.baseAddress!.update(from: s.baseAddress!, count: s.count) }
                    }
                }
                ch.hasOutput = true
            }
            if p.isDone {
                ch.player = nil
                events.append(.playDone(id: ch.id, tag: p.tag, outcome: .finished))
                if ch.collectAfterPlay, var c = ch.collector { c.restartTimer(now: now); ch.collector = c }
            } else {
                ch.player = p
            }
        }
        if let r = ch.recorder, let reason = r.append(input: ch.input, hasInput: ch.hasInput, output: ch.output, hasOutput: ch.hasOutput) {
            stopRecording(ch, reason: reason)
        }
        send(ch, index: index)
    }

    private func send(_ ch: MediaChannel, index: Int) {
        defer { ch.timestamp &+= UInt32(JitterBuffer.frameSamples) }
        guard ch.endpoint.sending else { return }
        if ch.dtmfSending == nil, !ch.pendingDTMF.isEmpty, ch.endpoint.telephoneEvent != nil {
            let d = ch.pendingDTMF.removeFirst()
            if let e = TelephoneEvent.event(for: d) { ch.dtmfSending = (e, ch.timestamp, 0, 0) }
        }
        var length = 0
        let slot = queuedSends
        io.reserve(slot + 1)
        let packet = io.buffer(slot)
        if let s = ch.dtmfSending, let te = ch.endpoint.telephoneEvent {
            // RFC 4733: 100 ms of event packets with a growing duration, the end packet three times.
            let elapsed = s.elapsed + JitterBuffer.frameSamples
            let end = elapsed >= 800
            let h = RTPHeader(marker: s.elapsed == 0, payloadType: te, sequence: ch.sequence, timestamp: s.startTS, ssrc: ch.ssrc)
            h.write(to: packet)
            TelephoneEvent(event: s.event, end: end, duration: UInt16(min(elapsed, 800))).write(to: packet + 12)
            length = 16
            if end {
                ch.dtmfSending = s.endSent >= 2 ? nil : (s.event, s.startTS, elapsed, s.endSent + 1)
            } else {
                ch.dtmfSending = (s.event, s.startTS, elapsed, 0)
            }
        } else {
            guard ch.hasOutput else { return }
            let h = RTPHeader(payloadType: ch.endpoint.payloadType, sequence: ch.sequence, timestamp: ch.timestamp, ssrc: ch.ssrc)
            h.write(to: packet)
            ch.output.withUnsafeBufferPointer { G711.encode($0.baseAddress!, count: $0.count, law: ch.endpoint.law, into: packet + 12) }
            length = 12 + JitterBuffer.frameSamples
        }
        // Queued for this tick's batch; a packet the kernel refuses leaves a gap in the
        // sequence numbers, which the far end counts as lost — as it was.
        let target = io.address(slot)
        guard let addressLength = (ch.withDestination { addr, len -> socklen_t in
            UnsafeMutableRawPointer(target).copyMemory(from: addr, byteCount: Int(len))
            return len
        }) else { return }
        io.armSend(slot, fd: ch.fd, registered: ch.ringSlot, owner: Int32(index), length: length, addressLength: addressLength)
        queuedSends += 1
        ch.sequence &+= 1
    }

    /// RTCP every 5 s per channel (RFC 3550 §6.2 for a two-party session; phases spread the load).
    let rtcpIntervalTicks = 250
    private var rtcpBuffer = [UInt8](repeating: 0, count: 512)

    private func sendRTCP(_ ch: MediaChannel, now: UInt64) {
        guard ch.endpoint.remote != nil || ch.latched != nil else { return }
        var block: RTCP.ReportBlock?
        if ch.reception.received > 0 {
            let dlsr = ch.lastSRArrival == 0 ? 0 : UInt32(truncatingIfNeeded: (now - ch.lastSRArrival) * 65536 / 1_000_000_000)
            block = RTCP.ReportBlock(ssrc: ch.reception.ssrc, fractionLost: ch.reception.takeFractionLost(), cumulativeLost: ch.reception.cumulativeLost,
                                     extendedMax: ch.reception.extendedMax, jitter: UInt32(ch.jitter.jitter), lastSR: ch.lastSR, delaySinceLastSR: dlsr)
        }
        let sender: (ntp: UInt64, rtpTimestamp: UInt32, packets: UInt32, octets: UInt32)? =
            ch.stats.packetsOut > 0 ? (RTCP.ntpNow(), ch.timestamp, UInt32(truncatingIfNeeded: ch.stats.packetsOut), ch.octetsSent) : nil
        let n = rtcpBuffer.withUnsafeMutableBytes { RTCP.build(into: $0.baseAddress!, capacity: $0.count, ssrc: ch.ssrc, sender: sender, block: block, cname: "hotline@\(ch.port)") }
        let sent = rtcpBuffer.withUnsafeBytes { b in
            ch.withRTCPDestination { addr, len in sendto(ch.rtcpFd, b.baseAddress, n, Int32(Glibc.MSG_DONTWAIT), addr, len) } ?? -1
        }
        if sent > 0 { ch.stats.rtcpSent += 1 }
    }

    private func receiveRTCP(_ ch: MediaChannel, now: UInt64) {
        for _ in 0..<8 {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &ss) { sp in
                sp.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(ch.rtcpFd, rxBuffers, datagramSize, Int32(Glibc.MSG_DONTWAIT), $0, &len) }
            }
            if n <= 0 { return }
            // Only from the far end's host (latched on the first good packet).
            if let l = ch.rtcpLatched {
                guard MediaChannel.sameEndpoint(l, ss) else { ch.stats.foreignDropped += 1; continue }
            } else {
                guard let e = ch.latched ?? ch.expected, MediaChannel.sameHost(e, ss) else { ch.stats.foreignDropped += 1; continue }
            }
            guard let r = RTCP.parse(UnsafeRawBufferPointer(start: rxBuffers, count: n)) else { ch.stats.malformed += 1; continue }
            if ch.rtcpLatched == nil { ch.rtcpLatched = ss; ch.rtcpLatchedLength = len }
            ch.stats.rtcpReceived += 1
            if let ntp = r.senderReportNTP { ch.lastSR = ntp; ch.lastSRArrival = now }
            if let b = r.blocks.first(where: { $0.ssrc == ch.ssrc }) {
                ch.stats.remoteLossPercent = Double(b.fractionLost) * 100 / 256
                ch.stats.remoteJitterMs = Double(b.jitter) / 8
                if b.lastSR != 0 {
                    let nowMid = UInt32(truncatingIfNeeded: RTCP.ntpNow() >> 16)
                    let rtt = Int64(nowMid &- b.lastSR &- b.delaySinceLastSR)
                    if rtt >= 0 && rtt < 65536 * 10 { ch.stats.rttMs = Double(rtt) * 1000 / 65536 }
                }
            }
        }
    }
}
