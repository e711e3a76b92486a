import Foundation
import Logging
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// The channel loop's commands: what the signalling side asks of a channel (play, collect,
/// record, mix, DTMF), and channels arriving from or leaving for another loop.
extension ChannelLoop {
    func stopRecording(_ ch: MediaChannel, reason: String) {
        guard let r = ch.recorder else { return }
        ch.recorder = nil
        r.writer.close()
        events.append(.recordDone(id: ch.id, r.result(reason: reason)))
    }

    // MARK: commands

    func handle(_ c: MediaCommand) {
        switch c {
        case .add(let id, let fd, let rtcp, let port, let endpoint, let echo):
            if channels[id] != nil { removeChannel(id) }
            let ch = MediaChannel(id: id, fd: fd, rtcp: rtcp, port: port, endpoint: endpoint, echo: echo)
            ch.rtcpPhase = tickCount % 5
            ch.nextRTCPTick = tickCount + 50   // the first report after 1 s, then every 5 s
            ch.ringSlot = io.register(fd)
            channels[id] = ch
            order.append(ch)
        case .update(let id, let endpoint):
            channels[id]?.setEndpoint(endpoint)
        case .remove(let id):
            removeChannel(id)
        case .play(let id, let player):
            guard let ch = channels[id] else { return }
            if let old = ch.player { events.append(.playDone(id: id, tag: old.tag, outcome: .stopped)) }
            ch.player = player
        case .stopPlay(let id):
            guard let ch = channels[id], let p = ch.player else { return }
            ch.player = nil
            events.append(.playDone(id: id, tag: p.tag, outcome: .stopped))
        case .collect(let id, var collector, let afterPlay):
            guard let ch = channels[id] else { return }
            ch.collectAfterPlay = afterPlay
            // Keys pressed ahead (during a prompt that nothing collected for) come first.
            let ahead = ch.typeAhead
            ch.typeAhead.removeAll()
            let now = Self.now()
            for (i, d) in ahead.enumerated() {
                if let r = collector.digit(d, now: now) {
                    events.append(.digitsCollected(id: id, tag: collector.tag, digits: r.digits, reason: r.reason))
                    ch.typeAhead = Array(ahead[(i + 1)...])
                    return
                }
            }
            ch.collector = collector
        case .stopCollect(let id):
            guard let ch = channels[id], let c = ch.collector else { return }
            ch.collector = nil
            events.append(.digitsCollected(id: id, tag: c.tag, digits: c.digits, reason: .stopped))
        case .record(let id, let request):
            guard let ch = channels[id] else { return }
            if ch.recorder != nil { stopRecording(ch, reason: "replaced") }
            do {
                ch.recorder = try Recorder(request)
            } catch {
                events.append(.failed(id: id, what: "record: \(error)"))
                events.append(.recordDone(id: id, RecordingResult(tag: request.tag, path: request.path, durationMs: 0, reason: "failed", channels: request.stereo ? 2 : 1,
                                                                  startedAtMs: 0, pauses: [], startedBy: request.startedBy, callID: request.callID)))
            }
        case .stopRecord(let id):
            if let ch = channels[id] { stopRecording(ch, reason: "stopped") }
        case .pauseRecord(let id, let paused):
            channels[id]?.recorder?.pause(paused)
        case .join(let mixID, let id, let role, let bridge):
            guard let ch = channels[id] else { return }
            leaving.removeAll { $0 === ch }
            if ch.mix != nil { leave(ch) }
            let m = mixes[mixID] ?? MixGroup(id: mixID, isBridge: bridge)
            mixes[mixID] = m
            ch.role = role
            ch.mix = m
            m.members.append(ch)
            ch.fade = 1
            joining.append(ch)
        case .leave(let id):
            // Fades out over this tick's frame, then leaves.
            if let ch = channels[id], ch.mix != nil, !leaving.contains(where: { $0 === ch }) {
                ch.fade = -1
                leaving.append(ch)
            }
        case .setRole(let id, let role):
            channels[id]?.role = role
        case .sendDTMF(let id, let digits):
            channels[id]?.pendingDTMF.append(contentsOf: digits.filter { TelephoneEvent.event(for: $0) != nil })
        case .receivedDTMF(let id, let digits, let source):
            guard let ch = channels[id] else { return }
            for d in digits { digit(ch, d, source: source, now: Self.now()) }
        case .inbandDTMF(let id, let enabled):
            guard let ch = channels[id] else { return }
            ch.inband = enabled ? (ch.inband ?? InbandDTMFDetector()) : nil
        case .setEcho(let id, let enabled):
            channels[id]?.echo = enabled
        }
    }

    func leave(_ ch: MediaChannel) {
        guard let m = ch.mix else { return }
        ch.mix = nil
        ch.role = .member
        m.members.removeAll { $0 === ch }
        if m.isBridge && m.speakingMembers < 2 {
            // The bridge is over: release everyone left (the other party and any taps).
            for other in m.members {
                other.mix = nil
                other.role = .member
                events.append(.bridgeEnded(id: other.id, mix: m.id))
            }
            m.members.removeAll()
        }
        if m.members.isEmpty { mixes.removeValue(forKey: m.id) }
    }

    /// Hands a channel to another loop: out of this loop's mix (a bridge it leaves ends as on a
    /// join elsewhere), its sockets kept open, its state (jitter buffer, player, recorder,
    /// collector) carried over; its counters stay with it.
    func migrate(_ id: String, to target: ChannelLoop) {
        let ch = channels.removeValue(forKey: id)
        if let ch {
            joining.removeAll { $0 === ch }
            leaving.removeAll { $0 === ch }
            leave(ch)
            ch.fade = 0
            order.removeAll { $0 === ch }
            io.unregister(ch.ringSlot)   // the new loop registers it with its own ring
            ch.ringSlot = -1
            lock.lock()
            published[id] = nil
            lock.unlock()
        }
        flushEvents()
        target.submit(.adopt(id: id, ChannelBox(ch)))
    }

    func adopt(_ id: String, _ ch: MediaChannel?) {
        if let ch {
            if channels[id] != nil { removeChannel(id) }
            ch.rtcpPhase = tickCount % 5
            ch.nextRTCPTick = tickCount + rtcpIntervalTicks
            ch.ringSlot = io.register(ch.fd)
            channels[id] = ch
            order.append(ch)
        }
        onAdopted?(id)
    }

    func removeChannel(_ id: String) {
        guard let ch = channels.removeValue(forKey: id) else { return }
        joining.removeAll { $0 === ch }
        leaving.removeAll { $0 === ch }
        leave(ch)
        stopRecording(ch, reason: "hangup")
        order.removeAll { $0 === ch }
        io.unregister(ch.ringSlot)   // the ring holds the socket open until then
        ch.ringSlot = -1
        close(ch.fd)
        if ch.rtcpFd >= 0 { close(ch.rtcpFd) }
        var st = ch.stats
        st.cumulativeLost = Int(ch.reception.cumulativeLost)
        st.jitter = ch.jitter.stats
        Self.add(st, to: &retired)
        lock.lock()
        published[id] = st   // kept for a final read; replaced at the next publish
        lock.unlock()
    }
}
