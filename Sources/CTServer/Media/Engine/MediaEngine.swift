import Foundation
import Logging
import Protocol


/// One channel loop's figures (or their sum over every loop), published every second.
public struct ChannelLoopStats: Sendable, Equatable {
    /// Which loop (0…); -1 for the sum over every loop.
    public var loop = -1
    public var ticks = 0
    public var missedTicks = 0
    public var channels = 0
    public var latenessP50Us = 0
    public var latenessP99Us = 0
    public var latenessMaxUs = 0
    /// Window: the last 3,000 ticks (one minute). Max is the window's.
    /// CPU time of the loop's work per tick (receive → send), p99.
    public var workP99Us = 0
    /// Totals since start, over every channel (live and gone).
    public var packetsIn = 0, packetsOut = 0, lost = 0, late = 0, foreignDropped = 0, malformed = 0
    /// Mean RFC 3550 interarrival jitter over the channels up now, in microseconds.
    public var meanJitterUs = 0
    /// System calls that moved RTP since start (io_uring_enter, or recvmsg/sendmsg).
    public var rtpSystemCalls = 0
    /// Loops running at real-time priority now (one loop: 0 or 1), and how each is scheduled:
    /// `fifo/N`, `normal`, `normal(refused errno=E)`, `normal(overloaded)` (`LoopPriority`).
    public var realtimeLoops = 0
    public var scheduling = "normal"
    /// Times loops stepped down from real-time priority for overload, since start.
    public var priorityDemotions = 0
}

/// The channel loops (docs/architecture.md, "Channel loops"): one `ChannelLoop` thread per core
/// by default (`media.loops`), each with its own timer, sockets and io_uring. A new channel
/// goes to the loop with the fewest; the signalling side sees one engine and never which loop.
///
/// Mixing (bridges, conferences, monitor taps) needs every member's frame in the same tick on
/// the same thread, so a mix lives on one loop — the loop of its first member — and a channel
/// that joins a mix on another loop moves there first (`ChannelLoop.Work.migrate`): its loop
/// hands the channel object over between ticks, and commands for it are held here until it
/// has arrived, so they reach it in order. A moved channel keeps its sockets, jitter buffer,
/// prompt, recording and counters; the far end notices nothing.
public final class MediaEngine: @unchecked Sendable {
    public typealias TickStats = ChannelLoopStats

    /// Events from every loop, each loop on its own thread (ChannelManager hops to its loop).
    public var onEvents: (([MediaEvent]) -> Void)?
    let loops: [ChannelLoop]

    private let lock = NSLock()
    /// Where each channel lives (or is going), and how many live on each loop.
    private var home: [String: Int] = [:]
    private var load: [Int]
    /// Each mix's loop and member count; each channel's mix.
    private var mixHome: [String: (loop: Int, members: Int)] = [:]
    private var channelMix: [String: String] = [:]
    /// Channels on their way between loops: the loop each is going to, and the work held for
    /// it (sent there when it arrives; a further move in the queue starts the next leg).
    private var inTransit: [String: (to: Int, queue: [ChannelLoop.Work])] = [:]
    /// Channels moved between loops so far (the report's figure).
    private var migrations = 0

    /// - Parameters:
    ///   - loops: channel loops (threads); default the number of cores.
    ///   - realtimePriority: SCHED_FIFO priority of the loops' threads (`LoopPriority`); 0: ordinary.
    public init(logger: Logger, batchedIO: DatagramBatch.Mode = .uring, loops count: Int? = nil, realtimePriority: Int = 0) throws {
        let n = max(1, count ?? ProcessInfo.processInfo.activeProcessorCount)
        loops = try (0..<n).map { try ChannelLoop(index: $0, logger: logger, batchedIO: batchedIO, realtimePriority: Int32(realtimePriority)) }
        load = Array(repeating: 0, count: n)
        for l in loops {
            l.onEvents = { [weak self] events in self?.loopEvents(events) }
            l.onAdopted = { [weak self, index = l.index] id in self?.arrived(id, at: index) }
        }
    }

    public var loopCount: Int { loops.count }
    public var ioMode: DatagramBatch.Mode { loops[0].ioMode }
    public var channelMigrations: Int { lock.lock(); defer { lock.unlock() }; return migrations }

    public func start() { for l in loops { l.start() } }
    public func stop() { for l in loops { l.stop() } }

    public func submit(_ command: MediaCommand) {
        lock.lock()
        defer { lock.unlock() }
        route(command)
    }

    public func stats(id: String) -> MediaChannelStats? {
        lock.lock()
        let l = home[id]
        lock.unlock()
        if let l, let s = loops[l].stats(id: id) { return s }
        for loop in loops { if let s = loop.stats(id: id) { return s } }
        return nil
    }

    /// Each loop's figures.
    public var loopStats: [TickStats] { loops.map(\.tickStats) }

    /// Every loop's figures together: counts summed, lateness and work the worst loop's.
    public var tickStats: TickStats {
        let each = loopStats
        var t = TickStats()
        var jitterWeighted = 0
        for s in each {
            t.ticks = max(t.ticks, s.ticks)
            t.missedTicks += s.missedTicks
            t.channels += s.channels
            t.latenessP50Us = max(t.latenessP50Us, s.latenessP50Us)
            t.latenessP99Us = max(t.latenessP99Us, s.latenessP99Us)
            t.latenessMaxUs = max(t.latenessMaxUs, s.latenessMaxUs)
            t.workP99Us = max(t.workP99Us, s.workP99Us)
            t.packetsIn += s.packetsIn
            t.packetsOut += s.packetsOut
            t.lost += s.lost
            t.late += s.late
            t.foreignDropped += s.foreignDropped
            t.malformed += s.malformed
            t.rtpSystemCalls += s.rtpSystemCalls
            t.realtimeLoops += s.realtimeLoops
            t.priorityDemotions += s.priorityDemotions
            jitterWeighted += s.meanJitterUs * s.channels
        }
        t.meanJitterUs = t.channels > 0 ? jitterWeighted / t.channels : 0
        t.scheduling = each.map(\.scheduling).joined(separator: ",")
        return t
    }

    // MARK: routing (under the lock)

    private func route(_ c: MediaCommand) {
        let id = c.channelID
        switch c {
        case .add:
            if let old = home[id] {
                forgetMix(id)
                send(.command(.remove(id: id)), id: id, to: old)
                load[old] -= 1
            }
            // Still arriving somewhere (the old channel's removal is queued there): the new one
            // follows it, so that the removal cannot overtake it.
            let l = inTransit[id]?.to ?? load.indices.min { load[$0] < load[$1] }!
            home[id] = l
            load[l] += 1
            send(.command(c), id: id, to: l)
        case .remove:
            guard let l = home.removeValue(forKey: id) else { return }
            load[l] -= 1
            forgetMix(id)
            send(.command(c), id: id, to: l)
        case .join(let mix, _, _, _):
            guard let l = home[id] else { return }
            if channelMix[id] != mix { forgetMix(id) }
            if let h = mixHome[mix] {
                if channelMix[id] != mix { mixHome[mix]!.members += 1 }
                if h.loop != l { move(id, from: l, to: h.loop) }
            } else {
                mixHome[mix] = (l, 1)
            }
            channelMix[id] = mix
            send(.command(c), id: id, to: home[id]!)
        case .leave:
            forgetMix(id)
            send(.command(c), id: id, to: home[id] ?? 0)
        default:
            guard let l = home[id] else { return }   // no such channel: the loop would ignore it
            send(.command(c), id: id, to: l)
        }
    }

    private func send(_ w: ChannelLoop.Work, id: String, to l: Int) {
        if inTransit[id] != nil { inTransit[id]!.queue.append(w) } else { loops[l].submit(w) }
    }

    private func move(_ id: String, from: Int, to: Int) {
        load[from] -= 1
        load[to] += 1
        home[id] = to
        migrations += 1
        let w = ChannelLoop.Work.migrate(id: id, to: loops[to])
        if inTransit[id] != nil { inTransit[id]!.queue.append(w) } else {
            inTransit[id] = (to, [])
            loops[from].submit(w)
        }
    }

    private func forgetMix(_ id: String) {
        guard let m = channelMix.removeValue(forKey: id), let h = mixHome[m] else { return }
        if h.members <= 1 { mixHome[m] = nil } else { mixHome[m]!.members -= 1 }
    }

    /// A moved channel has reached loop `at` (called on that loop's thread): what waited for it
    /// goes there now, up to a further move, which starts the next leg of its journey.
    private func arrived(_ id: String, at: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard var queue = inTransit[id]?.queue else { return }
        while !queue.isEmpty {
            let w = queue.removeFirst()
            loops[at].submit(w)
            if case .migrate(_, let target) = w {
                inTransit[id] = (target.index, queue)
                return
            }
        }
        inTransit[id] = nil
    }

    private func loopEvents(_ events: [MediaEvent]) {
        lock.lock()
        for e in events {
            if case .bridgeEnded(let id, let mix) = e, channelMix[id] == mix { forgetMix(id) }
        }
        lock.unlock()
        onEvents?(events)
    }
}

extension MediaCommand {
    /// The channel a command is for.
    var channelID: String {
        switch self {
        case .add(let id, _, _, _, _, _), .update(let id, _), .remove(let id), .play(let id, _), .stopPlay(let id),
             .collect(let id, _, _), .stopCollect(let id), .record(let id, _), .stopRecord(let id), .pauseRecord(let id, _),
             .join(_, let id, _, _), .leave(let id), .setRole(let id, _), .sendDTMF(let id, _), .receivedDTMF(let id, _, _),
             .inbandDTMF(let id, _), .setEcho(let id, _):
            return id
        }
    }
}
