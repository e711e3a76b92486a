import Foundation
import Logging
import Protocol

/// The media primitives a Flow-Server commands (play, collect, record, bridge, conference,
/// monitor, DTMF) and the channel loop's completion events, on the signalling loop.
extension ChannelManager {
    /// The media endpoint for `ch`'s negotiated SDP. Its SDP address is believed at once only
    /// when we placed the call (a registered contact or a trunk we chose) or its signalling
    /// source is verified (trusted, a trunk, or a host that authenticated); otherwise the
    /// channel sends nothing until RTP from the SDP host or the signalling host latches.
    func mediaEndpoint(_ n: NegotiatedAudio, for ch: SIPChannel) -> MediaCommand.Endpoint {
        let remote = n.remoteAddress == "0.0.0.0" || n.remotePort == 0 ? nil : try? SocketAddress(host: n.remoteAddress, port: n.remotePort)
        // The far end's direction: sendonly/inactive means it does not want our audio (hold).
        let sending = n.direction == .sendrecv || n.direction == .recvonly
        let verified = ch.purpose == .outbound || (endpoint?.isAuthenticated(ch.peer) ?? false) || trunks?.trunk(for: ch.peer.address) != nil
        return MediaCommand.Endpoint(remote: remote, payloadType: UInt8(clamping: n.payloadType), law: n.codec == .pcmu ? .ulaw : .alaw,
                                     telephoneEvent: n.telephoneEvent.map { UInt8(clamping: $0) }, sending: sending && remote != nil,
                                     verified: verified, signallingHost: ch.peer.address)
    }

    /// A channel that has media (answered inbound, or outbound).
    private func mediaChannel(_ id: String) -> Result<SIPChannel, CommandError> {
        guard let ch = channel(id: id) else { return .failure(.noSuchChannel) }
        guard ch.mediaPort != nil, ch.state == .answered || ch.state == .connected || ch.state == .held
            || (ch.purpose == .outbound && ch.state == .ringing) else { return .failure(.wrongState(ch.state.rawValue)) }
        return .success(ch)
    }

    /// Builds the items of a PlayMedia request (docs/protocol.md §13).
    func playerItems(_ specs: [String], synthesise: Bool) -> Result<[Player.Item], CommandError> {
        var items: [Player.Item] = []
        for spec in specs {
            let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let kind = parts[0].lowercased(), rest = parts.count > 1 ? parts[1] : ""
            switch kind {
            case "file":
                guard !rest.isEmpty, !rest.contains("..") else { return .failure(.failed("file: needs a prompt name")) }
                do { items.append(.samples(try prompts.load(rest))) } catch { return .failure(.failed("\(error)")) }
            case "recording":
                // A call's recording, played back to an operator's phone (stereo mixed down).
                guard Self.safeRecordingName(rest), rest.hasSuffix(".wav") else { return .failure(.failed("recording: needs a recording's name under the recording folder")) }
                let path = (settings.recordingDirectory as NSString).appendingPathComponent(rest)
                do { items.append(.samples(PromptAudio(name: rest, samples: try WAVFile.readPrompt(path: path)))) } catch { return .failure(.failed("\(error)")) }
            case "tts":
                let vt = rest.split(separator: ":", maxSplits: 1).map(String.init)
                guard vt.count == 2, !vt[1].isEmpty else { return .failure(.failed("tts: is tts:VOICE:TEXT")) }
                guard vt[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "+" }) else { return .failure(.failed("bad voice \(vt[0])")) }
                if !synthesise && !prompts.hasCachedSpeech(vt[1], voice: vt[0]) { return .failure(.failed(Self.needsSynthesis)) }
                do { items.append(.samples(try prompts.speech(vt[1], voice: vt[0]))) } catch { return .failure(.failed("\(error)")) }
            case "tone":
                let tm = rest.split(separator: ":").map(String.init)
                var name = tm.first ?? ""
                var ms = 0
                if name.lowercased() == "dtmf", tm.count >= 2 { name = "dtmf:" + tm[1]; ms = tm.count > 2 ? Int(tm[2]) ?? 0 : 0 } else if tm.count > 1 { ms = Int(tm[1]) ?? 0 }
                guard let t = ToneSpec.named(name) else { return .failure(.failed("unknown tone \(name)")) }
                items.append(.tone(t, ms: ms))
            case "silence":
                guard let ms = Int(rest), ms > 0 else { return .failure(.failed("silence:MS needs a duration")) }
                items.append(.silence(ms: ms))
            default:
                return .failure(.failed("unknown play item \(spec) (file:, recording:, tts:, tone:, silence:)"))
            }
        }
        guard !items.isEmpty else { return .failure(.failed("nothing to play")) }
        return .success(items)
    }

    static let needsSynthesis = "needs text-to-speech"

    /// Plays at once when every item is ready; text not yet synthesised is spoken by espeak-ng
    /// off the signalling loop first (PlayDone "failed" if that fails).
    public func play(_ m: PlayMedia) -> Result<Void, CommandError> {
        mediaChannel(m.channelID).flatMap { ch in
            switch playerItems(m.items, synthesise: false) {
            case .success(let items):
                media.submit(.play(id: ch.id, player: Player(items: items, loop: m.loop, bargeIn: m.bargeIn, tag: m.tag)))
                return .success(())
            case .failure(.failed(Self.needsSynthesis)):
                let media = self.media, loop = self.loop
                DispatchQueue.global(qos: .userInitiated).async { [weak self] in
                    guard let self else { return }
                    switch self.playerItems(m.items, synthesise: true) {
                    case .success(let items):
                        media.submit(.play(id: ch.id, player: Player(items: items, loop: m.loop, bargeIn: m.bargeIn, tag: m.tag)))
                    case .failure(let e):
                        loop.execute { [weak self] in
                            self?.logger.warning("channel \(ch.id): play failed: \(e)")
                            self?.mediaEvents([.playDone(id: ch.id, tag: m.tag, outcome: .failed)])
                        }
                    }
                }
                return .success(())
            case .failure(let e):
                return .failure(e)
            }
        }
    }

    public func stopMedia(_ m: StopMedia) -> Result<Void, CommandError> {
        mediaChannel(m.channelID).map { ch in
            if m.what == .all || m.what == .play || m.what == .playAndCollect { media.submit(.stopPlay(id: ch.id)) }
            if m.what == .all || m.what == .collect || m.what == .playAndCollect { media.submit(.stopCollect(id: ch.id)) }
            if m.what == .all || m.what == .record { media.submit(.stopRecord(id: ch.id)) }
        }
    }

    public func collect(_ m: CollectDigits) -> Result<Void, CommandError> {
        mediaChannel(m.channelID).map { ch in
            let c = DigitCollector(minDigits: Int(m.minDigits), maxDigits: Int(max(1, m.maxDigits)), firstDigitTimeoutMs: Int(m.firstDigitTimeoutMs),
                                   interDigitTimeoutMs: Int(m.interDigitTimeoutMs), terminators: Set(m.terminators), now: monotonicNanoseconds(), tag: m.tag)
            if m.inband { media.submit(.inbandDTMF(id: ch.id, enabled: true)) }
            media.submit(.collect(id: ch.id, collector: c, afterPlay: m.afterPlay))
        }
    }

    /// Recording names stay inside the recording folder: letters, digits, `-`, `_`, `.`, and up
    /// to four sub-folders (the dated layout YYYY/MM/DD/NAME); no part starts with a dot.
    static func safeRecordingName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return !name.isEmpty && name.count <= 200 && name.allSatisfy { allowed.contains($0) } && parts.count <= 5
            && parts.allSatisfy { !$0.isEmpty && !$0.hasPrefix(".") }
    }

    public func record(_ m: RecordChannel) -> Result<String, CommandError> {
        guard Self.safeRecordingName(m.name) else { return .failure(.failed("bad recording name \(m.name)")) }
        return mediaChannel(m.channelID).map { ch in
            let file = m.name.hasSuffix(".wav") ? m.name : m.name + ".wav"
            let path = (settings.recordingDirectory as NSString).appendingPathComponent(file)
            if m.beep { media.submit(.play(id: ch.id, player: Player(items: [.tone(.beep, ms: 250)], tag: m.tag))) }
            media.submit(.record(id: ch.id, .init(path: path, stereo: m.stereo, maxMs: Int(m.maxMs), silenceMs: Int(m.silenceMs),
                                                  terminators: Set(m.terminators), beep: m.beep, tag: m.tag, startedBy: m.startedBy, callID: m.callID,
                                                  io: RecordingFiles.queue)))
            return path
        }
    }

    public func recordingControl(_ m: RecordingControl) -> Result<Void, CommandError> {
        mediaChannel(m.channelID).map { ch in
            switch m.action {
            case .pause: media.submit(.pauseRecord(id: ch.id, paused: true))
            case .resume: media.submit(.pauseRecord(id: ch.id, paused: false))
            case .stop: media.submit(.stopRecord(id: ch.id))
            }
        }
    }

    /// A closed recording is reported once its file is summed: size and SHA-256 are computed,
    /// and the catalogue sidecar (`NAME.wav.json`) written, off the loop — on the serial queue
    /// that wrote the file, so after its last write; then RecordDone goes to
    /// the channel's owner then (after a Flow-Server's death, the one that adopted the call).
    func recordingClosed(_ id: String, _ r: RecordingResult, now: UInt64) {
        logger.info("channel \(id): recording \(r.path) closed (\(r.durationMs) ms, \(r.reason))")
        let caller = (channel(id: id) ?? recentlyGone(id)).map { ($0.caller, $0.called) } ?? ("", "")
        RecordingFiles.queue.async { [weak self] in
            let summary = RecordingFiles.summarize(r, channelID: id, caller: caller.0, called: caller.1)
            self?.loop.execute { [weak self] in
                guard let self, let ch = self.channel(id: id) ?? self.recentlyGone(id) else {
                    self?.logger.warning("channel \(id): recording \(r.path) closed after its channel was forgotten; its sidecar catalogues it")
                    return
                }
                self.reportMedia?(ch, MediaEventMessage(channelID: id, kind: .recordDone, tag: r.tag, reason: r.reason, path: r.path,
                                                        durationMs: UInt32(clamping: r.durationMs), timestampMs: now, recording: summary))
            }
        }
    }

    public func bridge(_ a: String, _ b: String) -> Result<Void, CommandError> {
        guard a != b else { return .failure(.failed("a channel cannot be bridged to itself")) }
        return mediaChannel(a).flatMap { ca in
            mediaChannel(b).map { cb in
                nextBridge += 1
                let mix = "bridge-\(ca.id)-\(nextBridge)"
                ca.lastBridgePartner = cb.id
                cb.lastBridgePartner = ca.id
                for ch in [ca, cb] {
                    ch.mixID = mix
                    media.submit(.stopPlay(id: ch.id))
                    media.submit(.join(mix: mix, id: ch.id, role: .member, bridge: true))
                }
            }
        }
    }

    public func unbridge(_ id: String) -> Result<Void, CommandError> {
        mediaChannel(id).map { ch in
            ch.mixID = nil
            media.submit(.leave(id: ch.id))
        }
    }

    public func conferenceJoin(_ m: ConferenceJoin) -> Result<Void, CommandError> {
        guard !m.conference.isEmpty, m.conference.count <= 100 else { return .failure(.failed("conference name required")) }
        return mediaChannel(m.channelID).map { ch in
            let mix = "conf-\(m.conference)"
            let role = MixRole(speaks: m.speaks, hears: m.hears)
            if ch.mixID == mix {
                media.submit(.setRole(id: ch.id, role: role))
            } else {
                ch.mixID = mix
                media.submit(.join(mix: mix, id: ch.id, role: role, bridge: false))
            }
        }
    }

    public func monitor(_ m: MonitorChannel) -> Result<Void, CommandError> {
        mediaChannel(m.channelID).flatMap { sup in
            mediaChannel(m.targetChannelID).flatMap { target in
                guard let mix = target.mixID else { return .failure(.failed("channel \(target.id) is not bridged")) }
                guard sup.id != target.id else { return .failure(.failed("a channel cannot monitor itself")) }
                let role: MixRole
                switch m.mode {
                case .listen: role = .listen
                case .whisper: role = .whisper(to: target.id)
                case .barge: role = .barge
                }
                sup.monitoring = true
                if sup.mixID == mix {
                    media.submit(.setRole(id: sup.id, role: role))
                } else {
                    sup.mixID = mix
                    media.submit(.join(mix: mix, id: sup.id, role: role, bridge: mix.hasPrefix("bridge-")))
                }
                return .success(())
            }
        }
    }

    public func sendDTMF(_ id: String, digits: String) -> Result<Void, CommandError> {
        mediaChannel(id).flatMap { ch in
            guard ch.negotiated?.telephoneEvent != nil || ch.purpose == .outbound else {
                return .failure(.failed("the far end did not offer telephone-event"))
            }
            media.submit(.sendDTMF(id: ch.id, digits: digits))
            return .success(())
        }
    }

    // MARK: events from the channel loop

    func mediaEvents(_ events: [MediaEvent]) {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        for e in events {
            switch e {
            case .dtmf(let id, let digit, let source):
                // A key that arrived just before the hang-up (INFO then BYE in one breath) is
                // still the call's: reported from the recently gone channel.
                guard let ch = channel(id: id) ?? recentlyGone(id) else { continue }
                if ch.purpose == .readbackTest {
                    media.submit(.play(id: id, player: Player(items: diagnosticPrompts.readback(digit), tag: 2)))
                }
                reportDigits?(ch, String(digit), source.rawValue)
            case .playDone(let id, let tag, let outcome):
                guard let ch = channel(id: id) else { continue }
                if ch.purpose == .playbackTest, tag == 1 {
                    hangup(id, cause: "playback test finished")
                    continue
                }
                reportMedia?(ch, MediaEventMessage(channelID: id, kind: .playDone, tag: tag, reason: outcome.rawValue, timestampMs: now))
            case .digitsCollected(let id, let tag, let digits, let reason):
                guard let ch = channel(id: id) else { continue }
                reportMedia?(ch, MediaEventMessage(channelID: id, kind: .digitsCollected, tag: tag, reason: reason.rawValue, digits: digits, timestampMs: now))
            case .recordDone(let id, let r):
                recordingClosed(id, r, now: now)
            case .bridgeEnded(let id, let mix):
                guard let ch = channel(id: id) else { continue }
                if ch.mixID == mix { ch.mixID = nil }
                reportMedia?(ch, MediaEventMessage(channelID: id, kind: .bridgeEnded, reason: mix, timestampMs: now))
            case .talking(let id, let on):
                guard let ch = channel(id: id) else { continue }
                reportMedia?(ch, MediaEventMessage(channelID: id, kind: on ? .talkingStarted : .talkingStopped, timestampMs: now))
            case .failed(let id, let what):
                logger.warning("channel \(id): media failed: \(what)")
                guard let ch = channel(id: id) else { continue }
                reportMedia?(ch, MediaEventMessage(channelID: id, kind: .failed, reason: what, timestampMs: now))
            }
        }
    }
}

/// Prompts of the diagnostic numbers: *44's playback prompt and *45's spoken digits, made
/// ready in the background at start (espeak-ng), with generated tones until they are.
final class DiagnosticPrompts: @unchecked Sendable {
    private let lock = NSLock()
    private var playback: PromptAudio?
    private var digits: [Character: PromptAudio] = [:]

    init(store: PromptStore, playback configured: String?, logger: Logger) {
        DispatchQueue.global(qos: .utility).async { [weak self] in
            var audio: PromptAudio?
            if let configured {
                do { audio = try store.load(configured) } catch { logger.warning("diagnostic playback prompt: \(error)") }
            }
            if audio == nil, PromptStore.hasSpeech {
                audio = try? store.speech("This is the Hotline playback test. If you hear this message, audio from the server reaches your phone. Goodbye.")
            }
            var spoken: [Character: PromptAudio] = [:]
            if PromptStore.hasSpeech {
                let names: [Character: String] = ["0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                                                  "7": "seven", "8": "eight", "9": "nine", "*": "star", "#": "pound",
                                                  "A": "A", "B": "B", "C": "C", "D": "D"]
                for (d, word) in names { spoken[d] = try? store.speech(word) }
            }
            guard let self else { return }
            self.lock.lock()
            self.playback = audio
            self.digits = spoken
            self.lock.unlock()
        }
    }

    var playbackItems: [Player.Item] {
        lock.lock(); defer { lock.unlock() }
        if let p = playback { return [.silence(ms: 200), .samples(p)] }
        return [.tone(.beep, ms: 500), .silence(ms: 300), .tone(.beep, ms: 500), .silence(ms: 300), .tone(.beep, ms: 500)]
    }

    func readback(_ d: Character) -> [Player.Item] {
        lock.lock(); defer { lock.unlock() }
        if let p = digits[d] { return [.samples(p)] }
        return [.tone(ToneSpec.dtmf(d) ?? .beep, ms: 200)]
    }
}
