import Foundation
import Logging
import Protocol

/// Runs the extension calls (`ExtensionCall`) of this Flow-Server: turns their actions into
/// CT-Server commands and records, and the CT-Server's channel events back into them.
final class ExtensionCalls {
    private final class Entry {
        var call: ExtensionCall
        let conn: Connection
        init(call: ExtensionCall, conn: Connection) {
            self.call = call
            self.conn = conn
        }
    }

    private let recorder: CallRecorder
    private let logger: Logger
    /// Every channel of a running extension call (the caller's and the extension's) → its call.
    private var byChannel: [String: Entry] = [:]
    private(set) var started = 0
    /// Two channels that talk on without a call of ours: when one ends, hang up the other.
    var keepPaired: ((String, String, Connection) -> Void)?

    init(recorder: CallRecorder, logger: Logger) {
        self.recorder = recorder
        self.logger = logger
    }

    var active: Int { Set(byChannel.values.map { ObjectIdentifier($0) }).count }

    /// An offered call to an extension (the mapping table said so): ring it.
    func offered(_ e: ChannelEvent, conn: Connection) {
        let entry = Entry(call: ExtensionCall(callerChannel: e.channelID, caller: e.caller, destination: e.called), conn: conn)
        byChannel[e.channelID] = entry
        started += 1
        recorder.event(e.channelID, kind: "extension", detail: ["to": e.called], at: Double(e.timestampMs) / 1000)
        logger.info("channel \(e.channelID): \(e.caller) → extension \(e.called)")
        perform(entry, entry.call.start())
    }

    /// Whether the channel belongs to an extension call (its events are handled here).
    func owns(_ channelID: String) -> Bool { byChannel[channelID] != nil }

    func channelEvent(_ e: ChannelEvent) {
        guard let entry = byChannel[e.channelID] else { return }
        switch e.kind {
        case .established where e.channelID != entry.call.callerChannel:
            handle(entry, .answered(leg: e.channelID))
        case .failed where e.channelID != entry.call.callerChannel:
            handle(entry, .failed(leg: e.channelID, code: Int(e.sipCode), cause: e.cause.isEmpty ? "failed" : e.cause))
        case .cleared, .failed:
            handle(entry, .cleared(channel: e.channelID))
        case .transferred where e.data["replaced"] == "yes":
            handle(entry, .replaced(channel: e.channelID, target: e.data["target"] ?? ""))
        case .transferred where !e.bridgedWith.isEmpty:
            byChannel[e.bridgedWith] = entry
            handle(entry, .transferred(channel: e.channelID, to: e.bridgedWith, target: e.data["target"] ?? ""))
        default:
            break
        }
    }

    /// The CT-Server link is gone: the calls stop here (their records are closed by the recorder).
    func linkLost() -> Int {
        let n = active
        byChannel = [:]
        return n
    }

    private func handle(_ entry: Entry, _ event: ExtensionCall.Event) {
        perform(entry, entry.call.handle(event))
    }

    private func perform(_ entry: Entry, _ actions: [ExtensionCall.Action]) {
        let caller = entry.call.callerChannel
        let now = Date().timeIntervalSince1970
        for action in actions {
            switch action {
            case .ring(let id):
                request(entry, RingChannel(channelID: id))
            case .dial(let destination, let callerID):
                entry.conn.request(Originate(destination: destination, callerID: callerID, timeoutMs: 30_000), expecting: ChannelCommandResult.self) { [weak self, weak entry] r in
                    guard let self, let entry else { return }
                    switch r {
                    case .success(let res):
                        self.byChannel[res.channelID] = entry
                        self.handle(entry, .dialled(leg: res.channelID))
                    case .failure(let err):
                        self.handle(entry, .dialFailed(reason: err.reason))
                    }
                }
            case .answer(let id):
                request(entry, AnswerChannel(channelID: id))
            case .bridge(let a, let b):
                request(entry, BridgeChannels(channelID: a, otherChannelID: b))
            case .reject(let id, let code, let reason):
                request(entry, RejectChannel(channelID: id, sipCode: UInt16(clamping: code), reason: reason))
            case .hangup(let id, let cause):
                request(entry, HangupChannel(channelID: id, cause: cause))
            case .record(let note):
                switch note {
                case .dialled(let leg):
                    recorder.event(caller, kind: "extension-dialled", detail: ["to": entry.call.destination, "channel": leg], at: now)
                case .answered(let leg):
                    recorder.extensionAnswered(caller, extension: entry.call.destination, channelID: leg, at: now)
                case .unanswered(let code, let cause):
                    recorder.dispose(caller, disposition: "unanswered", cause: "extension \(entry.call.destination): \(cause)", sipCode: code)
                case .endedBy(let who):
                    recorder.endedBy(caller, who)
                case .transferred(let to, let by):
                    recorder.transferred(caller, to: to, by: by, at: now)
                }
            case .pair(let a, let b):
                keepPaired?(a, b, entry.conn)
            }
        }
        if entry.call.isEnded {
            // Events of channels it hung up are not needed any more; a leg dialled after the
            // end maps here again until `.dialled` hangs it up.
            for (id, e) in byChannel where e === entry { byChannel.removeValue(forKey: id) }
        }
    }

    private func request<M: WireMessage>(_ entry: Entry, _ m: M) {
        entry.conn.request(m, expecting: ChannelCommandResult.self) { [weak self] r in
            if case .failure(let e) = r { self?.logger.warning("extension call \(entry.call.callerChannel): \(M.self) failed: \(e)") }
        }
    }
}
